"""The benchmark, end to end: ``python -m bench [--quick] [--profile]`` (or ``scripts/bench``).

``--against REF`` runs the A/B of ``bench/ab.py`` instead: this tree's gateway against REF's;
``--worklist`` runs only the work-list scenario (``bench/worklist.py``), which the full run
ends with.

Starts the synthetic sources, bare strawberry, the bare floor and the gateway on loopback,
runs the scenarios of the issue, prints a table with goals and writes
``bench/results/latest.json``. Every process it starts is stopped in ``finally``.

Scenarios (a: latency, b: throughput, c: cached, d: searches per query shape, e: soak,
f: a query of one source's data against the whole plan): every gateway configuration
(transport x workers) runs (a, 20 ms) and (b); the default one (aiohttp, 1 worker) also
runs (a, 100 ms), (d, cold: every query shape, the patient and a clinician), (f), (b) as a
clinician, the profile and the soak; a gateway with a cache TTL runs (c) and (d, warm).
Rows marked ``info`` are context, not goals.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

from bench.ab import render_ab, run_ab
from bench.harness import Harness
from bench.procs import Proc
from bench.profile import py_spy, start_py_spy, summarize
from bench.report import evaluate_goals, render
from bench.synthetic import SHAPES, cpr_for
from bench.worklist import render_worklist, run_worklist, worklist_goals

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
FULL = {"latency": 10.0, "throughput": 15.0, "short": 5.0, "soak": 60.0, "warmup": 2.0}
QUICK = {"latency": 3.0, "throughput": 5.0, "short": 2.0, "soak": 10.0, "warmup": 1.0}
CONFIGS = (("aiohttp", 1), ("httpx", 1), ("aiohttp", 2), ("httpx", 2))
SLOW, FLAPPING, CLIENTS = "journal", "appointments", 32


class Run:
    def __init__(self, h: Harness, *, profile: bool, quick: bool = False) -> None:
        self.h, self.d, self.res, self.want_profile = h, h.d, h.res, profile
        self.quick = quick

    def all(self) -> None:
        h, d = self.h, self.d
        h.start_common()
        self.res["slowest_source_ms"]["20"] = h.source_alone("diagnoses", "Condition")
        bare_url, floor_url = f"{h.bare_url}/graphql", f"{h.floor_url}/plan"
        bare = h.load("b.bare", "bare strawberry, memory", bare_url, clients=CLIENTS,
                      seconds=d["throughput"], target=h.bare, auth="none")  # fmt: skip
        self.res["bare_rps"] = bare["rps"]
        h.load("b.floor", "floor, starlette+aiohttp", floor_url, clients=CLIENTS,
               seconds=d["throughput"], target=h.floor, mode="floor")  # fmt: skip
        h.load("a20.floor", "floor, 1 client", floor_url, clients=1, seconds=d["latency"],
               target=h.floor, mode="floor")  # fmt: skip
        for transport, workers in CONFIGS:
            self.config(transport, workers)
        self.cached()
        run_worklist(h, quick=self.quick)

    def config(self, transport: str, workers: int) -> None:
        h, d, tag = self.h, self.d, f"{transport} x{workers}"
        default = (transport, workers) == CONFIGS[0]
        suffix = "" if default else f".{transport}.w{workers}"
        gw, url = h.start_gateway(transport, workers, ttl=0)
        try:
            h.load(f"a20.gateway{suffix}", f"gw {tag}, 1 client", url, clients=1,
                   seconds=d["latency"] if default else d["short"], target=gw)  # fmt: skip
            if default:
                h.control(**{SLOW: 100})
                self.res["slowest_source_ms"]["100"] = h.source_alone(SLOW, "DocumentReference")
                h.load("a100.gateway", f"gw {tag}, 1 client, {SLOW} 100 ms", url, clients=1,
                       seconds=d["latency"], target=gw)  # fmt: skip
                h.control(reset_latency=1)
                for shape in SHAPES:
                    for auth in ("citizen", "clinician"):
                        h.count_searches(f"{shape}.{auth}", url, shape=shape, auth=auth)
            h.load(f"b.gateway{suffix}", f"gw {tag}", url, clients=CLIENTS,
                   seconds=d["throughput"], target=gw)  # fmt: skip
            if default:  # (f): one source's data against the whole plan, the same load
                h.load("f.appointments", f"gw {tag}, appointments only", url, clients=CLIENTS,
                       seconds=d["throughput"], target=gw, shape="appointments")  # fmt: skip
                h.load("f.header", f"gw {tag}, one package header", url, clients=CLIENTS,
                       seconds=d["short"], target=gw, shape="header", info=True)  # fmt: skip
            if workers > 1 and transport == "aiohttp":  # do the workers share the load?
                h.load(f"b.gateway{suffix}.fresh", f"gw {tag}, new conn. per request",
                       url, clients=CLIENTS, seconds=d["short"], target=gw, info=True,
                       keepalive=False)  # fmt: skip
            if default:
                h.load("b.gateway.clinician", f"gw {tag}, clinician (access log)", url,
                       clients=CLIENTS, seconds=d["short"], target=gw, auth="clinician",
                       info=True)  # fmt: skip
                if self.want_profile:
                    self.profile(gw, url)
                self.soak(gw, url)
        finally:
            h.stop(gw)

    def profile(self, gw: Proc, url: str) -> None:
        spy = py_spy()
        if spy is None:
            print("  (py-spy not installed: no profile)", flush=True)
            return
        out, seconds = self.h.tmp / "profile.txt", self.d["short"]
        sampler = start_py_spy(spy, gw.pid, seconds + 1, out)  # 1 worker: the server itself
        self.h.load("b.gateway.profiled", "gw aiohttp x1 under py-spy", url, clients=CLIENTS,
                    seconds=seconds, target=gw, warmup=0.5, info=True)  # fmt: skip
        _, err = sampler.communicate(timeout=60)
        if out.exists():
            self.res["profile"] = summarize(out)
        else:
            print(f"  (py-spy failed: {err.decode()[-300:]})", flush=True)

    def soak(self, gw: Proc, url: str) -> None:
        self.h.control(flap=FLAPPING, flap_down=2, flap_period=5)
        try:
            row = self.h.load("e.soak", f"soak, {FLAPPING} 503 2 s of 5 s", url,
                              clients=CLIENTS, seconds=self.d["soak"], target=gw,
                              allow_failures=True, watch=5.0)  # fmt: skip
        finally:
            self.h.control(flap="")
        samples = row.pop("samples")
        rss = [s["rss_mb"] for s in samples]
        # GC's share of the gateway's CPU, interval by interval: does it grow with the heap?
        pairs = itertools.pairwise(samples)
        gc_share = [round((b["gc_s"] - a["gc_s"]) / max(b["cpu_s"] - a["cpu_s"], 1e-9), 3)
                    for a, b in pairs]  # fmt: skip
        self.res["soak"] = {"rss_start_mb": rss[0], "rss_end_mb": rss[-1], "rss_mb": rss,
                            "growth_mb": round(rss[-1] - rss[0], 1), "gc_share": gc_share,
                            "interval_s": 5.0}  # fmt: skip

    def cached(self) -> None:
        rows = [r for r in self.res["scenarios"] if r["id"].startswith("b.gateway")]
        best = max((r for r in rows if not r["info"]), key=lambda r: r["ok_rps"])
        self.res["best_b"] = best["id"]
        configs = [CONFIGS[0]]
        if best["id"] != "b.gateway":
            _, transport, workers = best["id"].split(".")[1:]
            configs.append((transport, int(workers[1:])))
        fixed = cpr_for(99_000_000)
        for transport, workers in configs:
            gw, url = self.h.start_gateway(transport, workers, ttl=300)
            try:
                if (transport, workers) == CONFIGS[0]:
                    self.h.count_searches("warm", url, fixed=fixed)
                suffix = "" if (transport, workers) == CONFIGS[0] else f".{transport}.w{workers}"
                self.h.load(f"c.gateway{suffix}", f"gw {transport} x{workers}, cached, 1 patient",
                            url, clients=CLIENTS, seconds=self.d["throughput"], target=gw,
                            fixed=fixed)  # fmt: skip
            finally:
                self.h.stop(gw)
        self.res["comparison"] = _compare(self.res["scenarios"])


def _compare(rows: list[dict[str, Any]]) -> str:
    found = {r["id"]: r for r in rows}
    ranked = []
    lines = ["transport x workers (b: 32 clients, a new patient each request):"]
    for transport, workers in CONFIGS:
        first = (transport, workers) == CONFIGS[0]
        r = found.get("b.gateway" if first else f"b.gateway.{transport}.w{workers}")
        if r is not None:
            ranked.append(r)
            lines.append(f"  {transport:<8} x{workers}: {r['ok_rps']:>7} complete plans/s "
                         f"({r['degraded']} degraded)  p50 {r['p50_ms']} ms  "
                         f"p99 {r['p99_ms']} ms  {r['gw_cpu_ms']} gateway CPU ms/plan")  # fmt: skip
    ranked.sort(key=lambda r: -r["ok_rps"])
    if len(ranked) > 1:
        best, second, last = ranked[0], ranked[1], ranked[-1]
        lines.append(f"  best: {best['label']}, {_ratio(best, second)}x the runner-up "
                     f"({second['label']}), {_ratio(best, last)}x the last "
                     f"({last['label']})")  # fmt: skip
    return "\n".join(lines)


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores, from /proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process and every process it started and waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> str:
    return f"{a['ok_rps'] / b['ok_rps']:.2f}" if b["ok_rps"] else "inf"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short scenarios, a smoke run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the gateway under (b), or with --worklist its cold reads",
    )
    parser.add_argument("--against", metavar="REF", help="A/B: this tree's gateway against REF's")
    parser.add_argument("--worklist", action="store_true", help="only the work-list scenario")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds (A, B each), >= 2")
    parser.add_argument("--out", type=Path, help="JSON (bench/results/latest.json, ab-latest.json)")
    args = parser.parse_args(argv)
    if args.against and args.profile:
        parser.error("--profile runs only in the full run, not with --against")
    if args.worklist and args.against:
        parser.error("--worklist runs alone: not with --against")
    if args.rounds < 2:
        parser.error("--rounds: at least 2, or there is no noise to compare with")
    name = "ab-latest.json" if args.against else "latest.json"
    name = "worklist-latest.json" if args.worklist else name
    args.out = args.out or ROOT / "bench" / "results" / name
    harness = Harness(QUICK if args.quick else FULL)
    started, busy, own = time.monotonic(), _machine_busy_s(), _own_cpu_s()
    meta = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "quick": args.quick, "durations_s": harness.d, "cpus": os.cpu_count(),
            "load_avg_before": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "machine": platform.platform(), "clients": CLIENTS, "slow_source": SLOW,
            "flapping_source": FLAPPING, "against": args.against}  # fmt: skip
    version = " ".join(f"{k} {v}" for k, v in harness.code_version.items())
    kind = "quick" if args.quick else "full"
    kind += f", A/B against {args.against}" if args.against else ""
    kind += ", work list only" if args.worklist else ""
    print(f"Min Plan benchmark ({kind}), code {version}, logs in {harness.tmp}", flush=True)
    try:
        if args.against:
            run_ab(harness, args.against, args.rounds)
        elif args.worklist:
            run_worklist(harness, quick=args.quick, profile=args.profile)
        else:
            Run(harness, profile=args.profile, quick=args.quick).all()
    finally:
        harness.close()
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["code"] = harness.code_version
    meta["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    others = (_machine_busy_s() - busy) - (_own_cpu_s() - own)
    meta["other_processes_cpu_s"] = round(max(0.0, others), 1)
    meta["other_processes_share"] = round(
        max(0.0, others) / (meta["seconds"] * (os.cpu_count() or 1)), 3
    )
    res = {"meta": meta, **harness.res}
    print()
    if args.against:
        print(render_ab(res["ab"]))
    else:
        res["goals"] = evaluate_goals(res) + worklist_goals(res)
        print(render(res))
        if "worklist" in res:
            print("\n" + render_worklist(res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(
        f"\nwrote {args.out} ({meta['seconds']} s; load average before {meta['load_avg_before']}, "
        f"other processes used {meta['other_processes_share']:.0%} of the machine meanwhile)"
    )
    return 0
