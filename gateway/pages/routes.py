"""The pages' routes: the plan, break the glass, the access log, the work list, sign-in.

Each handler finds the viewer (:func:`~gateway.pages.signin.page_viewer`), runs one of the
``queries/*.graphql`` documents through the schema (:mod:`gateway.pages.execute`) and renders
a template. A POST needs a CSRF token made for the browser's session, the viewer and that
form (:mod:`gateway.pages.csrf`); without one it is refused (403) before anything is read.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.errors import AuthError, BadUserInput
from plans.emergency_reason import MAX_REASON_LENGTH, normalise_reason
from plans.viewer import Viewer

from ..services import Services
from .csrf import SESSION_COOKIE, CsrfTokens, new_session
from .execute import PageError, execute_document
from .labels import ALERT_KINDS, PACKAGE_NAMES, SOURCE_NOTICES, TRIAGE
from .render import STATIC_DIR, Renderer
from .signin import DEMO_COOKIE, DEMO_TOKEN_TTL, DemoSignIn, page_viewer

__all__ = ["Pages"]

#: The largest form body a page accepts (a reason is at most 500 characters).
MAX_FORM_BYTES = 8 * 1024

_Handler = Callable[[Request], Awaitable[Response]]


@dataclass(slots=True)
class _Session:
    """The browser's session id, and whether it is new (the answer must set its cookie)."""

    id: str
    new: bool


def format_cpr(cpr: str) -> str:
    """``0101521234`` → ``010152-1234``, as a CPR number is written."""
    return f"{cpr[:6]}-{cpr[6:]}" if len(cpr) == 10 else cpr


def _viewer_key(viewer: Viewer) -> str:
    return f"{viewer.role.value}:{viewer.subject}"


class Pages:
    """The pages over one app's state (``services`` and ``schema``), in demo mode or not.

    Args:
        state: the Starlette app's state; ``services`` is set by the lifespan.
        csrf: the form tokens.
        signin: the demo's people and their tokens; None outside the demo (no cookie).
        patients: CPR → name of the patients the gateway knows by name (the demo's people):
            the API's plan carries no name, and the clinician's look-up page lists them.
    """

    def __init__(
        self,
        state: Any,
        *,
        csrf: CsrfTokens,
        signin: DemoSignIn | None,
        patients: Mapping[str, str] | None = None,
    ) -> None:
        self._state = state
        self._csrf = csrf
        self._signin = signin
        self._patients = dict(patients or {})
        self._render = Renderer(demo=signin is not None)
        self._render.env.globals.update(
            format_cpr=format_cpr,
            package_names=PACKAGE_NAMES,
            triage=TRIAGE,
            alert_kinds=ALERT_KINDS,
            source_notices=SOURCE_NOTICES,
            max_reason_length=MAX_REASON_LENGTH,
            group_measurements=group_measurements,
        )

    @property
    def demo(self) -> bool:
        return self._signin is not None

    def routes(self) -> list[Route | Mount]:
        """``/``, ``/plan``, ``/plan/{cpr}``, ``/access-log``, ``/worklist``, the static files,
        and in the demo ``/signin`` and ``/signout``."""
        routes: list[Route | Mount] = [
            Route("/", self._guarded(self.index), methods=["GET", "HEAD"]),
            Route("/plan", self._guarded(self.own_plan), methods=["GET", "HEAD"]),
            Route("/plan/{cpr}", self._guarded(self.patient_plan), methods=["GET", "HEAD"]),
            Route("/plan/{cpr}", self._guarded(self.break_the_glass), methods=["POST"]),
            Route("/access-log", self._guarded(self.access_log), methods=["GET", "HEAD"]),
            Route("/worklist", self._guarded(self.worklist), methods=["GET", "HEAD"]),
            Mount("/static/pages", app=StaticFiles(directory=STATIC_DIR), name="pages-static"),
        ]
        if self.demo:
            routes += [
                Route("/signin", self._guarded(self.sign_in), methods=["POST"]),
                Route("/signout", self._guarded(self.sign_out), methods=["POST"]),
            ]
        return routes

    # -- the handlers --------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        session = self._session(request)
        token = self._csrf.issue(session.id, purpose="signin", viewer="-")
        context = {"people": DemoSignIn.people if self.demo else (), "csrf": token}
        return self._page(request, session, "index.html", context)

    async def sign_in(self, request: Request) -> Response:
        assert self._signin is not None  # the route exists in the demo only
        form = await _form(request)
        session = request.cookies.get(SESSION_COOKIE)
        if not self._csrf.check(form.get("csrf"), session, purpose="signin", viewer="-"):
            raise _csrf_refused()
        person = self._signin.person(form.get("who"))
        if person is None:
            raise PageError(400, "Ukendt person", "Vælg en af demoens personer på forsiden.")
        response = RedirectResponse(person.start, status_code=303)
        response.set_cookie(
            DEMO_COOKIE,
            self._signin.token(person),
            max_age=DEMO_TOKEN_TTL,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        form = await _form(request)
        session = request.cookies.get(SESSION_COOKIE)
        if not self._csrf.check(form.get("csrf"), session, purpose="signout", viewer="-"):
            raise _csrf_refused()
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(DEMO_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def own_plan(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        if viewer.is_clinician:
            cpr = request.query_params.get("cpr", "").strip()
            if cpr:  # the look-up form: the CPR goes into the path (masked in the log)
                return RedirectResponse(f"/plan/{urllib.parse.quote(cpr, safe='')}", 303)
            session = self._session(request)
            context = {"viewer": viewer, "patients": list(self._patients.items())}
            context |= self._nav(session, viewer)
            return self._page(request, session, "lookup.html", context)
        return await self._plan(request, viewer, cpr=None, reason=None)

    async def patient_plan(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        return await self._plan(request, viewer, cpr=request.path_params["cpr"], reason=None)

    async def break_the_glass(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        cpr = request.path_params["cpr"]
        form = await _form(request)
        session = request.cookies.get(SESSION_COOKIE)
        purpose = f"glass:{cpr}"
        if not self._csrf.check(
            form.get("csrf"), session, purpose=purpose, viewer=_viewer_key(viewer)
        ):
            raise _csrf_refused()
        try:
            reason = normalise_reason(form.get("reason", ""))
        except BadUserInput:
            return await self._plan(
                request, viewer, cpr=cpr, reason=None, reason_refused=form.get("reason", "")
            )
        return await self._plan(request, viewer, cpr=cpr, reason=reason)

    async def access_log(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        cpr = request.query_params.get("cpr") or None
        after = request.query_params.get("after") or None
        answer = await self._execute(request, viewer, "access_log", {"cpr": cpr, "after": after})
        session = self._session(request)
        page = answer.data["accessLogPage"]
        patient = cpr or viewer.cpr or ""
        context = {
            "viewer": viewer,
            "page": page,
            "patient_cpr": patient,
            "patient_name": self._name_of(patient, viewer),
            "for_cpr": cpr,
            "after": after,
        }
        context |= self._nav(session, viewer)
        return self._page(request, session, "access_log.html", context)

    async def worklist(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        params = request.query_params
        kind = params.get("kind") or "COPD"
        triage = params.getlist("triage")
        alerts = params.getlist("alerts")
        if (
            kind not in PACKAGE_NAMES
            or any(t not in TRIAGE for t in triage)
            or any(a not in ALERT_KINDS for a in alerts)
        ):
            raise PageError(
                400, "Ukendt filter", "Vælg pakke, triage og opfølgning blandt dem i formularen."
            )
        after = params.get("after") or None
        variables = {"kind": kind, "triage": triage or None, "alerts": alerts or None}
        answer = await self._execute(request, viewer, "worklist", {**variables, "after": after})
        worklist = answer.data["worklist"]
        session = self._session(request)
        next_query = None
        if worklist["hasNextPage"] and worklist["endCursor"]:
            pairs = [("kind", kind), *(("triage", t) for t in triage)]
            pairs += [*(("alerts", a) for a in alerts), ("after", worklist["endCursor"])]
            next_query = urllib.parse.urlencode(pairs)
        first_query = urllib.parse.urlencode(
            [("kind", kind), *(("triage", t) for t in triage), *(("alerts", a) for a in alerts)]
        )
        context = {
            "viewer": viewer,
            "worklist": worklist,
            "kind": kind,
            "chosen_triage": triage,
            "chosen_alerts": alerts,
            "after": after,
            "next_query": next_query,
            "first_query": first_query,
            "failed": _failed(worklist["sources"]),
        }
        context |= self._nav(session, viewer)
        return self._page(request, session, "worklist.html", context)

    # -- the plan ------------------------------------------------------------------------

    async def _plan(
        self,
        request: Request,
        viewer: Viewer,
        *,
        cpr: str | None,
        reason: str | None,
        reason_refused: str | None = None,
    ) -> Response:
        session = self._session(request)
        answer = await self._execute(
            request, viewer, "plan", {"cpr": cpr, "emergencyReason": reason}
        )
        plan = answer.data["plan"]
        me = answer.data["me"]
        own = viewer.is_citizen and plan["cpr"] == viewer.cpr
        glass_token = None
        if viewer.is_clinician:
            glass_token = self._csrf.issue(
                session.id, purpose=f"glass:{cpr}", viewer=_viewer_key(viewer)
            )
        context = {
            "viewer": viewer,
            "me": me,
            "plan": plan,
            "own": own,
            "proxy": viewer.is_citizen and not own,
            "patient_name": me["name"] if own else self._name_of(plan["cpr"], viewer),
            "failed": _failed(plan["sources"]),
            "stale": [s["name"] for s in plan["sources"] if s["ok"] and s["stale"]],
            "glass_token": glass_token,
            "glass_cpr": cpr,
            "broke_glass": reason is not None,
            "reason": reason,
            "reason_refused": reason_refused,
        }
        context |= self._nav(session, viewer)
        status = 400 if reason_refused is not None else 200
        return self._page(request, session, "plan.html", context, status=status)

    # -- helpers -------------------------------------------------------------------------

    @property
    def _services(self) -> Services:
        services: Services = self._state.services
        return services

    async def _viewer(self, request: Request) -> Viewer:
        return await page_viewer(request, self._services.verifier, demo=self.demo)

    async def _execute(
        self, request: Request, viewer: Viewer, document: str, variables: Mapping[str, Any]
    ) -> Any:
        return await execute_document(
            request, self._services, self._state.schema, viewer, document, variables
        )

    def _name_of(self, cpr: str, viewer: Viewer) -> str | None:
        if viewer.is_citizen and cpr == viewer.cpr:
            return viewer.name
        return self._patients.get(cpr)

    def _session(self, request: Request) -> _Session:
        current = request.cookies.get(SESSION_COOKIE)
        if current and 16 <= len(current) <= 64 and current.isascii():
            return _Session(current, new=False)
        return _Session(new_session(), new=True)

    def _nav(self, session: _Session, viewer: Viewer) -> dict[str, Any]:
        return {
            "signed_in": viewer,
            "signout_csrf": self._csrf.issue(session.id, purpose="signout", viewer="-"),
        }

    def _page(
        self,
        request: Request,
        session: _Session,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
    ) -> Response:
        defaults = {"signed_in": None, "signout_csrf": None, "path": request.url.path}
        response = self._render.page(template, {**defaults, **context}, status=status)
        if session.new:
            response.set_cookie(
                SESSION_COOKIE,
                session.id,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
        return response

    def _guarded(self, handler: _Handler) -> _Handler:
        """The handler, with sign-in and refusals turned into Danish pages."""

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthError:
                return self._error(
                    request,
                    PageError(
                        401,
                        "Log ind",
                        "Vælg en person på forsiden for at logge ind i demoen."
                        if self.demo
                        else "Log ind via sundhedsportalen eller dit journalsystem for at se "
                        "denne side.",
                    ),
                )
            except PageError as error:
                return self._error(request, error)

        return guarded

    def _error(self, request: Request, error: PageError) -> Response:
        session = self._session(request)
        context = {"error": error}
        return self._page(request, session, "error.html", context, status=error.status)


def group_measurements(measurements: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One list per measured code (newest first inside), in the order they first appear."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in measurements:
        groups.setdefault((m["system"], m["code"]), []).append(m)
    return list(groups.values())


def _failed(sources: list[dict[str, Any]]) -> list[str]:
    return [s["name"] for s in sources if not s["ok"]]


def _csrf_refused() -> PageError:
    return PageError(
        403,
        "Formularen er udløbet",
        "Formularen kunne ikke godkendes (den er for gammel eller kom ikke fra denne side). "
        "Gå tilbage, genindlæs siden og prøv igen.",
    )


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form body; anything else, or anything large, is refused (400)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise PageError(400, "Forkert formular", "Formularen blev sendt i et ukendt format.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageError(413, "For meget tekst", "Formularen indeholdt for meget tekst.")
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise PageError(400, "Forkert formular", "Formularen kunne ikke læses.") from exc
    return dict(pairs)
