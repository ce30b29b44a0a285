"""The pages' routes: the plan, break the glass, the access log, the work list, sign-in.

Each handler finds the viewer (:func:`~gateway.pages.signin.page_viewer`), runs one of the
``queries/*.graphql`` documents through the schema (:mod:`gateway.pages.execute`) and renders
a template. A POST needs a CSRF token made for the browser's session, the viewer and that
form (:mod:`gateway.pages.csrf`); without one it is refused (403) before anything is read.
"""

from __future__ import annotations

import urllib.parse

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.errors import BadUserInput
from plans.emergency_reason import normalise_reason
from plans.viewer import Viewer

from .base import PageBase, csrf_refused, failed_sources, read_form, viewer_key
from .csrf import SESSION_COOKIE
from .execute import PageError
from .labels import ALERT_KINDS, PACKAGE_NAMES, TRIAGE
from .render import STATIC_DIR
from .signin import DEMO_COOKIE, DEMO_TOKEN_TTL, DemoSignIn

__all__ = ["Pages"]


class Pages(PageBase):
    """The pages, in demo mode or not (``signin``: see :class:`PageBase`)."""

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
        form = await read_form(request)
        session = request.cookies.get(SESSION_COOKIE)
        if not self._csrf.check(form.get("csrf"), session, purpose="signin", viewer="-"):
            raise csrf_refused()
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
        form = await read_form(request)
        session = request.cookies.get(SESSION_COOKIE)
        if not self._csrf.check(form.get("csrf"), session, purpose="signout", viewer="-"):
            raise csrf_refused()
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
        form = await read_form(request)
        session = request.cookies.get(SESSION_COOKIE)
        purpose = f"glass:{cpr}"
        if not self._csrf.check(
            form.get("csrf"), session, purpose=purpose, viewer=viewer_key(viewer)
        ):
            raise csrf_refused()
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
            "failed": failed_sources(worklist["sources"]),
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
                session.id, purpose=f"glass:{cpr}", viewer=viewer_key(viewer)
            )
        context = {
            "viewer": viewer,
            "me": me,
            "plan": plan,
            "own": own,
            "proxy": viewer.is_citizen and not own,
            "patient_name": me["name"] if own else self._name_of(plan["cpr"], viewer),
            "failed": failed_sources(plan["sources"]),
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
