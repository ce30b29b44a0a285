"""A plan page's server time against the same plan's GraphQL query (issue 14, item 5).

In-process, on the embedded demo (its sources answer through ASGI, no socket): the page
``GET /plan`` and ``POST /graphql`` with the page's own document (``gateway/pages/queries/
plan.graphql``) and the same token, interleaved so that both see the same machine. Run:

    .venv/bin/python -m bench.pages [--runs 300] [--cold]

``--cold`` turns the source cache off (every read asks the sources); the default reads
from the cache after the first, where the page's own work (rendering) weighs the most.
Beside the wall-clock times it gives each request's CPU time (``time.process_time``), which
other work on a shared machine disturbs less.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from demo.people import PATIENT_COPD, PATIENTS
from gateway.app import create_app
from gateway.devtokens import DevIssuer
from gateway.pages import DOCUMENTS
from gateway.settings import Settings

BASE = "http://127.0.0.1:8000"


class _Loopback(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.app: object = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await httpx.ASGITransport(app=self.app).handle_async_request(request)  # type: ignore[arg-type]


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def measure(runs: int, *, cold: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            audit_url=f"sqlite:///{Path(tmp) / 'a.sqlite3'}",
            **({"cache_ttl": 0.0, "stale_ttl": 0.0} if cold else {}),
        )
        loopback = _Loopback()
        app = create_app(
            settings, self_url=BASE, transport=loopback, demo_key_path=Path(tmp) / "k.pem"
        )
        loopback.app = app
        token = DevIssuer(Path(tmp) / "k.pem").issue(
            role="citizen", cpr=PATIENT_COPD, name=PATIENTS[PATIENT_COPD]
        )
        headers = {"Authorization": f"Bearer {token}"}
        body = {"query": DOCUMENTS["plan"], "variables": {"cpr": None, "emergencyReason": None}}
        page_ms: list[float] = []
        api_ms: list[float] = []
        cpu_ms: dict[str, list[float]] = {"page": [], "api": []}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client,
        ):
            for i in range(runs + 20):
                order = ("page", "api") if i % 2 else ("api", "page")
                for what in order:
                    started, cpu = time.perf_counter(), time.process_time()
                    if what == "page":
                        response = await client.get("/plan", headers=headers)
                    else:
                        response = await client.post("/graphql", json=body, headers=headers)
                    elapsed = (time.perf_counter() - started) * 1000
                    cpu_used = (time.process_time() - cpu) * 1000
                    assert response.status_code == 200, response.text[:200]
                    if i >= 20:  # the first are warm-up: caches, parsing, templates
                        (page_ms if what == "page" else api_ms).append(elapsed)
                        cpu_ms[what].append(cpu_used)
    page50, api50 = statistics.median(page_ms), statistics.median(api_ms)
    page_cpu, api_cpu = statistics.median(cpu_ms["page"]), statistics.median(cpu_ms["api"])
    return {
        "page_p50_ms": page50,
        "api_p50_ms": api50,
        "ratio_p50": page50 / api50,
        "page_p90_ms": _p(page_ms, 90),
        "api_p90_ms": _p(api_ms, 90),
        "page_cpu_ms": page_cpu,
        "api_cpu_ms": api_cpu,
        "ratio_cpu": page_cpu / api_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.runs, cold=args.cold))
    mode = "cold (no source cache)" if args.cold else "cached sources"
    print(f"plan page vs GraphQL plan query, {args.runs} runs each, {mode}:")
    for key, value in figures.items():
        print(f"  {key:12} {value:8.2f}")


if __name__ == "__main__":
    main()
