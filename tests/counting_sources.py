"""The demo FHIR sources behind a request counter, as a server of its own (for e2e tests).

``python -m uvicorn tests.counting_sources:app --factory``; ``GET /_count`` answers how many
FHIR searches it has served.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from demo.sources import create_sources_app


def app() -> object:
    sources = create_sources_app()
    served = {"searches": 0}

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/_count":
            body = str(served["searches"]).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http":
            served["searches"] += 1
        await sources(scope, receive, send)

    return counting
