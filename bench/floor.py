"""The bare floor: Starlette fanning out a patient's own whole plan's 10 searches at once.

One shared aiohttp session. No auth, no GraphQL, no parsing beyond JSON:
``GET /plan?cpr=X`` makes every search at once and answers
``{"cpr": X, "entries": N, "failed": [...]}``. What the gateway does beyond this is its
own cost.

Run: ``python -m bench.floor --port 9300 --sources http://127.0.0.1:9100``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.synthetic import CITIZEN_SEARCHES as SEARCHES

__all__ = ["create_app"]

_CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"


def create_app(sources: str, *, max_connections: int = 200) -> Starlette:
    """The floor app; ``sources`` is the synthetic source server's base URL."""
    base = sources.rstrip("/")
    state: dict[str, aiohttp.ClientSession] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(total=2.0)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            state["session"] = session
            yield

    async def search(source: str, kind: str, cpr: str) -> int | None:
        params = {"patient:identifier": f"{_CPR_SYSTEM}|{cpr}", "_count": "100"}
        try:
            async with state["session"].get(f"{base}/{source}/{kind}", params=params) as response:
                body = await response.read()
                if response.status != 200:
                    return None
        except (aiohttp.ClientError, TimeoutError):
            return None
        return len(orjson.loads(body).get("entry") or ())

    async def plan(request: Request) -> Response:
        cpr = request.query_params.get("cpr", "")
        counts = await asyncio.gather(*(search(s, k, cpr) for s, k in SEARCHES))
        failed = [s for (s, _), n in zip(SEARCHES, counts, strict=True) if n is None]
        entries = sum(n for n in counts if n is not None)
        return JSONResponse({"cpr": cpr, "entries": entries, "failed": failed})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [Route("/plan", plan), Route("/healthz", healthz)]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description="The bare fan-out floor.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--sources", required=True, help="base URL of bench.sources")
    args = parser.parse_args()
    app = create_app(args.sources)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
