"""Gateway CPU per plan, measured in one process: steady on a shared, noisy machine.

The full benchmark reads CPU from ``/proc`` under load, where other processes, the
scheduler and the load generator blur a few milliseconds. Here the gateway app runs in
this process (its ASGI app, driven by an in-process httpx client) against the synthetic
sources in a child process answering at once, and reads plans one at a time:
``time.process_time()`` around each read counts this process's CPU only, so neither the
sources nor other processes on the machine count. A shared machine still slows the
process itself in phases (caches, frequency, a neighbour's steal), so ``cpu_ms_best``,
the median of the quietest batch of 20 plans, is the figure to compare between versions.
The in-process client's own work is included (the same for every gateway version).

Run: ``python -m bench.cpu -n 300`` (median, quartiles and mean CPU ms per plan);
``--latency-ms 20`` makes the sources answer as in the benchmark's (a) and reports the
median wall time per plan too (the in-process client's time included);
``--profile`` adds a cProfile breakdown of the measured reads; ``--shape`` and
``--viewer`` pick another query shape or a clinician's read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from bench.load import QUERIES, check_plan
from bench.procs import free_port
from bench.synthetic import SOURCE_NAMES, cpr_for, sources_for

__all__ = ["main"]

_GP = "380101000016003"
#: Plans per batch for ``cpu_ms_best``: the median of the quietest batch, the figure that
#: moves least when other machines' work comes and goes.
_BATCH = 20


@contextlib.contextmanager
def _sources(port: int, latency_ms: float) -> Any:
    argv = [sys.executable, "-m", "bench.sources", "--port", str(port)]
    argv += ["--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def _gateway(tmp: Path, src_url: str, transport: str) -> AsyncIterator[Any]:
    from gateway.app import create_app
    from gateway.devtokens import DevIssuer
    from gateway.runtime import tune_gc
    from gateway.settings import Settings

    issuer = DevIssuer(tmp / "dev-key.pem")
    (tmp / "jwks.json").write_text(json.dumps(issuer.jwks()))
    env = {f"MINPLAN_SOURCE_{n.upper()}_URL": f"{src_url}/{n}" for n in SOURCE_NAMES}
    env |= {
        "MINPLAN_AUTH_ISSUER": "urn:minplan:dev-issuer",
        "MINPLAN_AUTH_JWKS_URL": (tmp / "jwks.json").as_uri(),
        "MINPLAN_AUDIT_URL": f"sqlite:///{tmp / 'audit.sqlite3'}",
        "MINPLAN_CACHE_URL": "memory://",
        "MINPLAN_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789abcdef",
        "MINPLAN_CACHE_TTL": "0",
        "MINPLAN_HTTP_TRANSPORT": transport,
        "MINPLAN_PLAYGROUND": "false",
    }
    with mock.patch.dict(os.environ, env):  # read here; the process's environment stays
        app = create_app(Settings())
    tune_gc()  # as ``minplan serve`` does once the app is built
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        )
        async with client:
            yield client, issuer


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    src_url = f"http://127.0.0.1:{port}"
    with _sources(port, args.latency_ms), tempfile.TemporaryDirectory() as tmpdir:
        async with _gateway(Path(tmpdir), src_url, args.transport) as (client, issuer):
            total = args.warmup + args.n
            clinician = args.viewer == "clinician"
            if clinician:
                token = issuer.issue(role="clinician", org=_GP, name="Bench")
                tokens = [token] * total
            else:
                tokens = [
                    issuer.issue(role="citizen", cpr=cpr_for(i), name="Bench") for i in range(total)
                ]
            want = sources_for(args.shape, patient=not clinician)
            profile = cProfile.Profile() if args.profile else None
            usage = resource.getrusage(resource.RUSAGE_SELF)
            times: list[float] = []
            walls: list[float] = []
            for i in range(total):
                cpr = cpr_for(i)
                body = {"operationName": "Plan", "query": QUERIES[args.shape]}
                body["variables"] = {"cpr": cpr}  # type: ignore[assignment]
                headers = {"authorization": f"Bearer {tokens[i]}"}
                measured = i >= args.warmup
                if measured and profile is not None:
                    profile.enable()
                started, wall = time.process_time(), time.perf_counter()
                response = await client.post("/graphql", json=body, headers=headers)
                cpu, wall = time.process_time() - started, time.perf_counter() - wall
                if measured and profile is not None:
                    profile.disable()
                wrong = check_plan(response.json(), cpr, False, shape=args.shape, sources=want)
                if wrong:
                    raise SystemExit(f"plan {i} is wrong: {wrong}")
                if measured:
                    times.append(cpu * 1000)
                    walls.append(wall * 1000)
            used = resource.getrusage(resource.RUSAGE_SELF)
    quartiles = statistics.quantiles(times, n=4)
    batches = [times[i : i + _BATCH] for i in range(0, len(times) - _BATCH + 1, _BATCH)]
    result = {
        "shape": args.shape,
        "viewer": args.viewer,
        "transport": args.transport,
        "plans": len(times),
        "cpu_ms_p50": round(statistics.median(times), 3),
        "cpu_ms_p25": round(quartiles[0], 3),
        "cpu_ms_p75": round(quartiles[2], 3),
        "cpu_ms_mean": round(statistics.fmean(times), 3),
        "cpu_ms_best": round(min(map(statistics.median, batches)), 3) if batches else None,
        "wall_ms_p50": round(statistics.median(walls), 3),
        # All reads, warm-up included: how much of the CPU the kernel's (sockets, polling).
        "sys_share": round(
            (used.ru_stime - usage.ru_stime)
            / max(used.ru_utime - usage.ru_utime + used.ru_stime - usage.ru_stime, 1e-9),
            3,
        ),
    }
    if profile is not None:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats(args.sort).print_stats(args.top)
        if args.profile_out:
            stats.dump_stats(args.profile_out)
        result["profile"] = out.getvalue()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="plans measured")
    parser.add_argument("--warmup", type=int, default=30, help="plans read first, not measured")
    parser.add_argument("--shape", choices=sorted(QUERIES), default="full")
    parser.add_argument("--viewer", choices=("citizen", "clinician"), default="citizen")
    parser.add_argument("--transport", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="each source's latency (wall_ms_p50)"
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured reads")
    parser.add_argument("--profile-out", help="also write the cProfile stats to this file")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key")
    parser.add_argument("--top", type=int, default=40, help="cProfile rows printed")
    args = parser.parse_args(argv)
    if args.loop == "uvloop":  # what uvicorn runs the gateway on when it is installed
        import uvloop

        result = uvloop.run(_run(args))
    else:
        result = asyncio.run(_run(args))
    profile = result.pop("profile", None)
    print(json.dumps(result))
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
