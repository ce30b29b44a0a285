"""A page's data: one of the ``queries/*.graphql`` documents, executed as the API executes it.

The same schema, the same per-request context over the app's services
(:func:`gateway.graphql_http.request_context`), so consent, the access log and every limit
apply to a page read exactly as to an API read. What the API answers as an error beside
(or instead of) the data becomes a page's HTTP status and a Danish sentence here.

Each execution counts one request against the viewer's rate limit, in the same count as
``/graphql``: the pages are no way around it. Over it, the page is a 429 with
``Retry-After``, before the context is made, so nothing is read or logged. The request
latency metric (``minplan_graphql_request_seconds``) stays the API's: it has no route
label, and a page's time includes rendering, so mixing the two would blur both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request

from plans.viewer import Viewer

from ..graphql_http import request_context
from ..services import Services
from ..tracing import note_outcome

__all__ = ["DOCUMENTS", "Answer", "PageError", "execute_document", "rate_limited"]

QUERIES_DIR = Path(__file__).resolve().parent / "queries"

#: The documents the pages run, by file name (``plan`` → ``queries/plan.graphql``).
DOCUMENTS: dict[str, str] = {
    path.stem: path.read_text(encoding="utf-8") for path in sorted(QUERIES_DIR.glob("*.graphql"))
}


class PageError(Exception):
    """A page cannot be shown: its HTTP status and what to tell the person, in Danish.

    ``headers`` go on the error page's answer (a 429's ``Retry-After``).
    """

    def __init__(
        self, status: int, title: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message
        self.headers = dict(headers or {})


def rate_limited(retry_after: int) -> PageError:
    """The page for a viewer over the rate limit: 429, ``Retry-After`` and when to retry."""
    unit = "sekund" if retry_after == 1 else "sekunder"
    return PageError(
        429,
        "For mange opslag",
        f"Du har hentet oplysninger mange gange på kort tid. Prøv igen om {retry_after} {unit}.",
        headers={"Retry-After": str(retry_after)},
    )


#: An error code that leaves no page to show → (status, title, sentence).
_REFUSALS: dict[str, tuple[int, str, str]] = {
    "UNAUTHENTICATED": (401, "Log ind", "Du skal logge ind for at se denne side."),
    "FORBIDDEN": (
        403,
        "Ingen adgang",
        "Du har ikke adgang til disse oplysninger. En borger kan se sin egen plan og planer, "
        "som borgeren har fuldmagt til; arbejdslisten er for behandlere.",
    ),
    "BAD_USER_INPUT": (
        400,
        "Forkert indtastning",
        "Oplysningerne i adressen eller formularen kan ikke bruges. Et CPR-nummer har 10 "
        "cifre, for eksempel 010152-1234.",
    ),
    "CONSENT_UNAVAILABLE": (
        503,
        "Samtykker kan ikke læses lige nu",
        "Patientens samtykker kan ikke læses lige nu, og uden dem vises ingen oplysninger. "
        "Prøv igen om lidt.",
    ),
    "ACCESS_LOG_UNAVAILABLE": (
        503,
        "Adgangen kan ikke logges lige nu",
        "Al adgang til en patients oplysninger skal logges, og loggen kan ikke skrives lige "
        "nu. Prøv igen om lidt.",
    ),
    "SOURCE_UNAVAILABLE": (
        503,
        "Oplysningerne kan ikke hentes lige nu",
        "Et af de systemer, som oplysningerne kommer fra, svarer ikke lige nu. Prøv igen om lidt.",
    ),
}
_INTERNAL = (
    500,
    "Der skete en fejl",
    "Siden kunne ikke vises på grund af en fejl hos os. Prøv igen om lidt.",
)


@dataclass(slots=True)
class Answer:
    """What a document answered: its data, and the codes of the errors beside it."""

    data: dict[str, Any]
    codes: list[str] = field(default_factory=list)


async def execute_document(
    request: Request,
    services: Services,
    schema: Any,
    viewer: Viewer,
    document: str,
    variables: Mapping[str, Any],
) -> Answer:
    """Run one of :data:`DOCUMENTS` for ``viewer`` as ``POST /graphql`` would.

    Raises:
        PageError: the viewer is over the rate limit (429), or the answer has no data to
            show (refused, bad input, consent unavailable…), or an error other than an
            unavailable source came with it.
    """
    if (wait := await services.rate_limiter.retry_after(viewer)) is not None:
        note_outcome("rate_limited")
        raise rate_limited(wait)
    context = request_context(services, viewer, request.headers)
    result = await schema.execute(
        DOCUMENTS[document], variable_values=dict(variables), context_value=context
    )
    codes = [
        str((error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR"))
        for error in result.errors or ()
    ]
    data = result.data
    missing = data is None or any(value is None for value in data.values())
    for code in codes:
        if code != "SOURCE_UNAVAILABLE" or missing:
            raise PageError(*_REFUSALS.get(code, _INTERNAL))
    if data is None:  # pragma: no cover - graphql-core gives errors with no data
        raise PageError(*_INTERNAL)
    return Answer(data=data, codes=codes)
