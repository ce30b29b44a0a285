"""The load generator: N concurrent clients, bounded in time and count, every answer checked.

``graphql`` mode posts the whole-plan query with a bearer token (a citizen's own token per
patient, a clinician's, or none for bare strawberry); ``floor`` mode GETs the floor's
``/plan``. A new patient each request, or ``--fixed-cpr``. Prints one JSON object: rate,
latency percentiles, status codes, and answers that were wrong (with a few examples).

Run: ``python -m bench.load --url http://127.0.0.1:8000/graphql --clients 32 --duration 10
--key /tmp/key.pem``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.synthetic import EXPECTED, cpr_for, resources

__all__ = ["PLAN_QUERY", "check_floor", "check_plan", "main"]

PLAN_QUERY = """
fragment Src on Sourced { source sourceId }
fragment Section on PlanSection {
  diagnoses { ...Src code display onset recordedBy }
  goals { ...Src description target due status }
  journalNotes { ...Src date title author text }
  preventionOffers { ...Src title provider status url }
  appointments { ...Src status start end description actor }
}
query Plan($cpr: String!) {
  plan(cpr: $cpr) {
    cpr restricted generatedAt
    sources { name ok stale latencyMs error cached }
    packages {
      id kind
      diagnoses { ...Src code display onset recordedBy }
      triage { ...Src level assessedAt assessedBy }
      goals { ...Src description target due status }
      journalNotes { ...Src date title author text }
      preventionOffers { ...Src title provider status url }
      healthLiteracy { ...Src score answeredAt }
      appointments { ...Src status start end description actor }
    }
    unassigned { ...Section }
  }
}
"""
_BODY = orjson.dumps({"operationName": "Plan", "query": PLAN_QUERY, "variables": {"cpr": "@"}})
_BODY_HEAD, _BODY_TAIL = _BODY.split(b'"@"')
_SEARCH_SIZES = {key: len(items) for key, items in resources().items()}
_GP = "380101000016003"


def check_plan(
    body: dict[str, Any], cpr: str, allow_failures: bool, *, sources: int = 7
) -> str | None:
    """Why a GraphQL answer is wrong for ``cpr``, or None when it is right.

    ``sources``: the statuses a whole plan lists, 6 for a citizen's own (no consent asked).
    """
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or ()]
    if any(code != "SOURCE_UNAVAILABLE" for code in codes):
        return f"unexpected error codes {sorted(set(map(str, codes)))}"
    plan = (body.get("data") or {}).get("plan")
    if not isinstance(plan, dict):
        return "no plan"
    if plan.get("cpr") != cpr:
        return "plan of another patient"
    ok = {s["name"]: s["ok"] for s in plan["sources"]}
    failed = {name for name, good in ok.items() if not good}
    if len(ok) != sources:
        return f"{len(ok)} source statuses, not {sources}"
    if failed and not allow_failures:
        return f"degraded: sources failed: {sorted(failed)}"
    if len(codes) != len(failed):
        return f"{len(codes)} SOURCE_UNAVAILABLE errors for {len(failed)} failed sources"
    packages = plan["packages"]
    if "diagnoses" in failed:
        return None if not packages else "a package without diagnoses"
    if len(packages) != 1 or packages[0]["kind"] != "COPD":
        return f"packages {[p['kind'] for p in packages]}, not one COPD"
    package, unassigned = packages[0], plan["unassigned"]
    for name, (source, count) in EXPECTED.items():
        want = 0 if source in failed else count
        if len(package[name]) != want or unassigned[name]:
            return f"{name}: {len(package[name])} in COPD, {len(unassigned[name])} unassigned"
    if (package["triage"] is None) != ("careplan" in failed):
        return "triage wrong"
    if (package["healthLiteracy"] is None) != ("pro" in failed):
        return "healthLiteracy wrong"
    return None


def check_floor(body: dict[str, Any], cpr: str, allow_failures: bool) -> str | None:
    """Why a floor answer is wrong for ``cpr``, or None when it is right."""
    failed = set(body.get("failed") or ())
    if body.get("cpr") != cpr:
        return "answer for another patient"
    if failed and not allow_failures:
        return f"degraded: sources failed: {sorted(failed)}"
    want = sum(n for (source, _), n in _SEARCH_SIZES.items() if source not in failed)
    return None if body.get("entries") == want else f"{body.get('entries')} entries, not {want}"


@dataclass
class _Run:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    degraded: int = 0  # answers with a source reported unavailable


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.graphql = args.mode == "graphql"
        self.next = 0
        self.tokens: list[str] = []
        if self.graphql and args.auth != "none":
            from gateway.devtokens import DevIssuer

            issuer = DevIssuer(Path(args.key))
            if args.auth == "clinician" or args.fixed_cpr:
                cpr = args.fixed_cpr if args.auth == "citizen" else None
                org = _GP if args.auth == "clinician" else None
                self.tokens = [issuer.issue(role=args.auth, cpr=cpr, org=org, name="Bench")]
            else:  # a citizen reads their own plan: one token per patient, signed beforehand
                self.tokens = [
                    issuer.issue(role="citizen", cpr=cpr_for(args.first + i), name="Bench")
                    for i in range(args.max_requests)
                ]

    def request(self, i: int) -> tuple[str, str, str, dict[str, str], bytes | None]:
        """Patient, method, URL, headers and body of the ``i``-th request."""
        cpr = self.args.fixed_cpr or cpr_for(self.args.first + i)
        if not self.graphql:
            return cpr, "GET", f"{self.args.url}?cpr={cpr}", {}, None
        headers = {"content-type": "application/json"}
        if self.tokens:
            headers["authorization"] = f"Bearer {self.tokens[i % len(self.tokens)]}"
        return cpr, "POST", self.args.url, headers, _BODY_HEAD + orjson.dumps(cpr) + _BODY_TAIL

    async def client(self, session: aiohttp.ClientSession, until: float, run: _Run) -> None:
        # The patient's own plan asks no consent (contract §6), so lists one source less.
        sources = 6 if self.args.auth == "citizen" else 7
        check = functools.partial(check_plan, sources=sources) if self.graphql else check_floor
        while time.perf_counter() < until and self.next < self.args.max_requests:
            i, self.next = self.next, self.next + 1
            cpr, method, url, headers, data = self.request(i)
            run.sent += 1
            started = time.perf_counter()
            try:
                async with session.request(method, url, headers=headers, data=data) as response:
                    raw, status = await response.read(), response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                run.statuses[type(exc).__name__] += 1
                continue
            run.latencies.append((time.perf_counter() - started) * 1000)
            run.statuses[str(status)] += 1
            problem = f"HTTP {status}" if status != 200 else None
            if problem is None:
                try:
                    body = orjson.loads(raw)
                    problem = check(body, cpr, self.args.allow_failures)
                    run.degraded += bool(body.get("errors") or body.get("failed"))
                except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                    problem = f"unreadable answer ({type(exc).__name__})"
            if problem is not None:
                run.problems[problem] += 1

    async def phase(self, session: aiohttp.ClientSession, seconds: float) -> tuple[_Run, float]:
        run = _Run()
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(self.client(session, until, run) for _ in range(self.args.clients)))
        return run, time.perf_counter() - started

    async def main(self) -> dict[str, Any]:
        connector = aiohttp.TCPConnector(
            limit=self.args.clients, limit_per_host=0, force_close=self.args.no_keepalive
        )
        timeout = aiohttp.ClientTimeout(total=30.0)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            warm = 0
            if self.args.warmup > 0:
                warm = len((await self.phase(session, self.args.warmup))[0].latencies)
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            run, elapsed = await self.phase(session, self.args.duration)
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        used = cpu_after.ru_utime + cpu_after.ru_stime - cpu.ru_utime - cpu.ru_stime
        return {**_summary(run, elapsed, used), "warmup_requests": warm}


def _summary(run: _Run, elapsed: float, cpu: float) -> dict[str, Any]:
    ordered = sorted(run.latencies)
    wrong = sum(n for p, n in run.problems.items() if not p.startswith(("HTTP", "degraded")))
    unwanted = sum(n for p, n in run.problems.items() if p.startswith("degraded"))

    def pct(q: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else None

    return {
        "requests": len(ordered),
        "seconds": round(elapsed, 3),
        "rps": round(len(ordered) / elapsed, 1) if elapsed else 0.0,
        # right answers per second: a plan with a failed source is not a plan served
        "ok_rps": round((run.statuses.get("200", 0) - wrong - run.degraded) / elapsed, 1)
        if elapsed
        else 0.0,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(ordered[-1], 2) if ordered else None,
        "mean_ms": round(sum(ordered) / len(ordered), 2) if ordered else None,
        "statuses": dict(run.statuses),
        "http_5xx": sum(n for s, n in run.statuses.items() if s.isdigit() and s[0] == "5"),
        "wrong": wrong,  # HTTP 200, but not the plan asked for (or not as it should be)
        "degraded": run.degraded,
        "right": run.statuses.get("200", 0) - wrong - unwanted,
        "problems": dict(run.problems.most_common(5)),
        "load_cpu_s": round(cpu, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Bounded load on the gateway, bare or floor.")
    parser.add_argument("--url", required=True, help=".../graphql, or the floor's .../plan")
    parser.add_argument("--mode", choices=["graphql", "floor"], default="graphql")
    parser.add_argument("--auth", choices=["citizen", "clinician", "none"], default="citizen")
    parser.add_argument("--key", help="the dev issuer's key file (signs the tokens)")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--max-requests", type=int, default=50_000, help="hard cap, warmup too")
    parser.add_argument("--first", type=int, default=0, help="index of the first patient")
    parser.add_argument("--fixed-cpr", help="the same patient every request")
    parser.add_argument("--allow-failures", action="store_true", help="failed sources are ok")
    parser.add_argument("--no-keepalive", action="store_true", help="a new connection each time")
    args = parser.parse_args(argv)
    if args.mode == "graphql" and args.auth != "none" and not args.key:
        parser.error("--key is needed to sign tokens")
    if not 0 < args.duration <= 600 or not 0 < args.clients <= 512:
        parser.error("--duration must be in (0, 600] and --clients in (0, 512]")
    load = Load(args)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(load.main())
    else:
        result = uvloop.run(load.main())
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
