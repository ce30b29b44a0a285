"""Who is looking at a page: the same bearer tokens as the API; in the demo, a cookie too.

A portal (or its proxy) in front of the pages sets ``Authorization: Bearer …`` as it would
for the API, and the token is verified by the same :class:`~gateway.auth.TokenVerifier`.
Only the embedded demo lets a visitor pick one of its people: the demo issuer signs a token
for them, kept in an HttpOnly, SameSite=Strict cookie. Outside the demo that cookie is never
read and the sign-in route does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from core.errors import AuthError
from demo.people import CLINICIANS, ORGS, PATIENT_BOTH, PATIENTS, PROXY_OF_BOTH
from plans.viewer import Viewer

from ..auth import TokenVerifier, bearer_token
from ..devtokens import DevIssuer

__all__ = ["DEMO_COOKIE", "DEMO_TOKEN_TTL", "DemoPerson", "DemoSignIn", "page_viewer"]

#: The demo's sign-in cookie: a dev token, HttpOnly and SameSite=Strict.
DEMO_COOKIE = "minplan_demo_token"

#: Seconds a demo sign-in lasts (the token's life and the cookie's).
DEMO_TOKEN_TTL = 8 * 3600


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """One of the demo's people a visitor may be: a citizen, or a clinic's clinician."""

    key: str
    name: str
    role: str
    about: str
    cpr: str | None = None
    org: str | None = None
    start: str = "/plan"


def _people() -> tuple[DemoPerson, ...]:
    citizens = [
        DemoPerson(
            key=f"citizen-{cpr}",
            name=name,
            role="citizen",
            cpr=cpr,
            about="Borger, fuldmagt til Birgit Hansen" if cpr == PROXY_OF_BOTH else "Borger",
            start=f"/plan/{PATIENT_BOTH}" if cpr == PROXY_OF_BOTH else "/plan",
        )
        for cpr, name in PATIENTS.items()
    ]
    clinicians = [
        DemoPerson(key=f"clinician-{org}", name=name, role="clinician", org=org, about=ORGS[org])
        for org, name in CLINICIANS.items()
    ]
    return (*citizens, *clinicians)


class DemoSignIn:
    """The demo's people and the dev tokens that sign them in."""

    people: tuple[DemoPerson, ...] = _people()

    def __init__(self, issuer: DevIssuer) -> None:
        self._issuer = issuer
        self._by_key = {p.key: p for p in self.people}

    def person(self, key: str | None) -> DemoPerson | None:
        return self._by_key.get(key or "")

    def token(self, person: DemoPerson) -> str:
        if person.role == "citizen":
            return self._issuer.issue(
                role="citizen", cpr=person.cpr, name=person.name, ttl=DEMO_TOKEN_TTL
            )
        return self._issuer.issue(
            role="clinician",
            org=person.org,
            org_name=ORGS.get(person.org or ""),
            name=person.name,
            ttl=DEMO_TOKEN_TTL,
        )


async def page_viewer(request: Request, verifier: TokenVerifier, *, demo: bool) -> Viewer:
    """The verified viewer: from ``Authorization``, else (demo only) from the demo cookie.

    Raises:
        AuthError: no token, or one the verifier refuses.
    """
    header = request.headers.get("authorization")
    if header is None and demo:
        cookie = request.cookies.get(DEMO_COOKIE)
        if cookie:
            header = f"Bearer {cookie}"
    if header is None:
        raise AuthError("missing bearer token")
    return await verifier.verify(bearer_token(header))
