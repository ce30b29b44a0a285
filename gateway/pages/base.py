"""What every page handler shares: the session, rendering, refusals as Danish pages, the
viewer and the schema, and reading a form (the handlers are in :mod:`gateway.pages.routes`)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from core.errors import AuthError
from plans.emergency_reason import MAX_REASON_LENGTH
from plans.viewer import Viewer

from ..services import Services
from .csrf import SESSION_COOKIE, CsrfTokens, new_session
from .execute import PageError, execute_document
from .labels import ALERT_KINDS, PACKAGE_NAMES, SOURCE_NOTICES, TRIAGE
from .render import Renderer
from .signin import DemoSignIn, page_viewer

__all__ = [
    "MAX_FORM_BYTES",
    "PageBase",
    "Session",
    "csrf_refused",
    "failed_sources",
    "format_cpr",
    "group_measurements",
    "read_form",
    "viewer_key",
]

#: The largest form body a page accepts (a reason is at most 500 characters).
MAX_FORM_BYTES = 8 * 1024

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(slots=True)
class Session:
    """The browser's session id, and whether it is new (the answer must set its cookie)."""

    id: str
    new: bool


def format_cpr(cpr: str) -> str:
    """``0101521234`` → ``010152-1234``, as a CPR number is written."""
    return f"{cpr[:6]}-{cpr[6:]}" if len(cpr) == 10 else cpr


def viewer_key(viewer: Viewer) -> str:
    return f"{viewer.role.value}:{viewer.subject}"


class PageBase:
    """The pages' shared state and helpers, over one app's state (``services``, ``schema``).

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
            package_names=PACKAGE_NAMES,
            triage=TRIAGE,
            alert_kinds=ALERT_KINDS,
            source_notices=SOURCE_NOTICES,
            max_reason_length=MAX_REASON_LENGTH,
        )
        self._render.env.filters.update(cpr=format_cpr, by_code=group_measurements)

    @property
    def demo(self) -> bool:
        return self._signin is not None

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

    def _session(self, request: Request) -> Session:
        current = request.cookies.get(SESSION_COOKIE)
        if current and 16 <= len(current) <= 64 and current.isascii():
            return Session(current, new=False)
        return Session(new_session(), new=True)

    def _nav(self, session: Session, viewer: Viewer) -> dict[str, Any]:
        return {
            "signed_in": viewer,
            "signout_csrf": self._csrf.issue(session.id, purpose="signout", viewer="-"),
        }

    def _page(
        self,
        request: Request,
        session: Session,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        defaults = {"signed_in": None, "signout_csrf": None, "path": request.url.path}
        response = self._render.page(
            template, {**defaults, **context}, status=status, headers=headers
        )
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

    def _guarded(self, handler: Handler) -> Handler:
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
        return self._page(
            request, session, "error.html", context, status=error.status, headers=error.headers
        )


def group_measurements(measurements: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One list per measured code (newest first inside), in the order they first appear."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in measurements:
        groups.setdefault((m["system"], m["code"]), []).append(m)
    return list(groups.values())


def failed_sources(sources: list[dict[str, Any]]) -> list[str]:
    return [s["name"] for s in sources if not s["ok"]]


def csrf_refused() -> PageError:
    return PageError(
        403,
        "Formularen er udløbet",
        "Formularen kunne ikke godkendes (den er for gammel eller kom ikke fra denne side). "
        "Gå tilbage, genindlæs siden og prøv igen.",
    )


async def read_form(request: Request) -> dict[str, str]:
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
