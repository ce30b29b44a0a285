"""The load generator: N concurrent clients, bounded in time and count, every answer checked.

``graphql`` mode posts a plan query (``--shape``: the whole plan, appointments only, one
package header; :data:`QUERIES`) with a bearer token (a citizen's own token per
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

from bench.synthetic import (
    BY_GOAL,
    CITIZEN_SEARCHES,
    EXPECTED,
    ON_TARGET,
    cpr_for,
    resources,
    sources_for,
)

__all__ = ["PLAN_QUERY", "QUERIES", "check_floor", "check_plan", "main"]

PLAN_QUERY = """
fragment Src on Sourced { source sourceId }
fragment Measured on Measurement {
  ...Src system code display value unit at origin performer target onTarget
}
fragment Medicine on Medication { ...Src name atc status start end dosage prescriber }
fragment Section on PlanSection {
  diagnoses { ...Src code display onset recordedBy }
  goals { ...Src description target due status }
  journalNotes { ...Src date title author text }
  preventionOffers { ...Src title provider status url }
  appointments { ...Src status start end description actor }
  measurements { ...Measured }
  medications { ...Medicine }
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
      course {
        ...Src status startedAt planCreatedAt coordinator { sor name } lastReviewAt nextReviewDue
      }
      measurements { ...Measured }
      medications { ...Medicine }
    }
    unassigned { ...Section }
  }
}
"""
#: The query of each shape (bench/synthetic.py SHAPES): what its data needs is all it asks.
QUERIES = {
    "full": PLAN_QUERY,
    "appointments": """query Plan($cpr: String!) {
  plan(cpr: $cpr) { sources { name ok } packages { kind appointments { status } } }
}""",
    "header": """query Plan($cpr: String!) {
  plan(cpr: $cpr) { sources { name ok } packages { id kind } }
}""",
}


def _body_parts(shape: str) -> tuple[bytes, bytes]:
    body = {"operationName": "Plan", "query": QUERIES[shape], "variables": {"cpr": "@"}}
    head, tail = orjson.dumps(body).split(b'"@"')
    return head, tail


#: What the floor fans out: a patient's own whole plan's searches (bench/floor.py).
_SEARCH_SIZES = {key: len(items) for key, items in resources().items() if key in CITIZEN_SEARCHES}
_GP = "380101000016003"


def check_plan(
    body: dict[str, Any],
    cpr: str,
    allow_failures: bool,
    *,
    shape: str = "full",
    sources: list[str] | None = None,
) -> str | None:
    """Why a GraphQL answer of ``shape`` is wrong for ``cpr``, or None when it is right.

    ``sources``: the statuses the answer lists, in order (the patient's own read asks no
    consent); by default a patient's own read of ``shape``.
    """
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or ()]
    if any(code != "SOURCE_UNAVAILABLE" for code in codes):
        return f"unexpected error codes {sorted(set(map(str, codes)))}"
    plan = (body.get("data") or {}).get("plan")
    if not isinstance(plan, dict):
        return "no plan"
    if shape == "full" and plan.get("cpr") != cpr:
        return "plan of another patient"
    want = sources_for(shape, patient=True) if sources is None else sources
    ok = {s["name"]: s["ok"] for s in plan["sources"]}
    failed = {name for name, good in ok.items() if not good}
    if list(ok) != want:
        return f"sources {list(ok)}, not {want}"
    if failed and not allow_failures:
        return f"degraded: sources failed: {sorted(failed)}"
    if len(codes) != len(failed):
        return f"{len(codes)} SOURCE_UNAVAILABLE errors for {len(failed)} failed sources"
    packages = plan["packages"]
    if "diagnoses" in failed:
        return None if not packages else "a package without diagnoses"
    if len(packages) != 1 or packages[0]["kind"] != "COPD":
        return f"packages {[p['kind'] for p in packages]}, not one COPD"
    package = packages[0]
    if shape == "header":
        return None if set(package) == {"id", "kind"} else "header: other fields"
    if shape == "appointments":
        want_n = 0 if "appointments" in failed else EXPECTED["appointments"][1]
        return None if len(package["appointments"]) == want_n else "appointments wrong"
    return _check_full(package, plan["unassigned"], failed)


def _check_full(
    package: dict[str, Any], unassigned: dict[str, Any], failed: set[str]
) -> str | None:
    """The whole plan's COPD package and ``unassigned``, given the sources that failed."""
    for name, (source, count) in EXPECTED.items():
        want = 0 if source in failed else count
        loose = 0
        if name == "measurements" and "careplan" in failed and source not in failed:
            # without goals, the values a goal places have no package (contract §1 v2)
            want, loose = count - BY_GOAL, BY_GOAL
        if len(package[name]) != want or len(unassigned[name]) != loose:
            return f"{name}: {len(package[name])} in COPD, {len(unassigned[name])} unassigned"
    if (package["triage"] is None) != ("careplan" in failed):
        return "triage wrong"
    if (package["healthLiteracy"] is None) != ("pro" in failed):
        return "healthLiteracy wrong"
    course = package["course"]
    if (course is None) != ("careplan" in failed):
        return "course wrong"
    if course is not None and (course["coordinator"] or {}).get("sor") != _GP:
        return "course without its coordinator"
    targets = [m["onTarget"] for m in package["measurements"] if m["target"] is not None]
    if "careplan" not in failed and (len(targets) != BY_GOAL or sum(targets) != ON_TARGET):
        return f"measurement targets {targets}"
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
        self.head, self.tail = _body_parts(args.shape)
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
        return cpr, "POST", self.args.url, headers, self.head + orjson.dumps(cpr) + self.tail

    async def client(self, session: aiohttp.ClientSession, until: float, run: _Run) -> None:
        # The patient's own plan asks no consent (contract §6), so lists one source less;
        # bare strawberry serves the patient's own.
        sources = sources_for(self.args.shape, patient=self.args.auth != "clinician")
        check = (
            functools.partial(check_plan, shape=self.args.shape, sources=sources)
            if self.graphql
            else check_floor
        )
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
    parser.add_argument("--shape", choices=sorted(QUERIES), default="full", help="query shape")
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
