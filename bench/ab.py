"""A/B in one run: this tree's gateway (A) against a git ref's (B), alternating A, B, A, B.

``python -m bench --against REF [--rounds N] [--quick]`` (or ``scripts/bench --against REF``).

A is the snapshot the harness takes at the start; B is ``git archive REF`` unpacked next to
it, with A's ``bench`` beside it (the probe that wraps ``minplan``). Both run under this
``.venv``'s interpreter, each with its own copy first on ``PYTHONPATH`` and as its working
directory; which files each imports is checked before the first round, and each gateway's
``/healthz`` headers are recorded. The synthetic sources, the load generator and bare
strawberry are A's, shared by both, so only the gateway differs.

Each round runs bare strawberry (32 clients, the ratio's denominator), then for A and then
B: (a20) 1 client on a 1-worker gateway, p50; (b) 32 clients, a new patient each request,
2 workers, cache off; (c) 32 clients, one patient, 2 workers, cache TTL 300 s. The table
gives per metric A's and B's medians across rounds, B/A, and each side's spread between
its rounds, (max - min) / median: the noise. A difference is beyond the noise when
|B/A - 1| is larger than the larger of the two spreads.
"""

from __future__ import annotations

import io
import shutil
import statistics
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import IGNORE, PY, ROOT, Harness, code_hash, code_packages
from bench.procs import Proc
from bench.synthetic import cpr_for

__all__ = ["METRICS", "Side", "ref_copy", "render_ab", "run_ab", "summarize"]

CLIENTS = 32
SIDES = ("A", "B")
#: key, scenario, row field, label; bare runs once per round and has no B.
METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("bare.rps", "bare", "rps", "bare strawberry, 32 clients: req/s"),
    ("a20.p50_ms", "a20", "p50_ms", "(a20) 1 client, 1 worker: p50 ms"),
    ("a20.gw_cpu_ms", "a20", "gw_cpu_ms", "(a20) gateway CPU ms/plan"),
    ("b.ok_rps", "b", "ok_rps", "(b) 32 clients, 2 workers, cold: plans/s"),
    ("b.vs_bare", "b", "vs_bare", "(b) plans/s / bare req/s, same round"),
    ("b.p50_ms", "b", "p50_ms", "(b) p50 ms"),
    ("b.p99_ms", "b", "p99_ms", "(b) p99 ms"),
    ("b.gw_cpu_ms", "b", "gw_cpu_ms", "(b) gateway CPU ms/plan"),
    ("c.ok_rps", "c", "ok_rps", "(c) 32 clients, 2 workers, cached: plans/s"),
    ("c.vs_bare", "c", "vs_bare", "(c) plans/s / bare req/s, same round"),
    ("c.gw_cpu_ms", "c", "gw_cpu_ms", "(c) gateway CPU ms/plan"),
)


@dataclass
class Side:
    """One gateway version: its copy of the code and what was found about it."""

    name: str
    code: Path
    version: dict[str, Any]
    imports: dict[str, str] = field(default_factory=dict)
    nosniff: set[str] = field(default_factory=set)


def _git(*args: str) -> bytes:
    return subprocess.run(  # noqa: S603 (our own argv)
        ["git", "-C", str(ROOT), *args],  # noqa: S607
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip


def ref_copy(ref: str, dest: Path, bench: Path) -> dict[str, Any]:
    """Unpack ``ref``'s gateway packages into ``dest``, with ``bench`` copied beside them."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
    src = dest.with_name(f"{dest.name}-archive")
    with tarfile.open(fileobj=io.BytesIO(_git("archive", "--format=tar", commit))) as tar:
        tar.extractall(src, filter="data")
    packages = code_packages(src)
    for package in packages:
        shutil.copytree(src / package, dest / package, ignore=IGNORE)
    shutil.copytree(bench, dest / "bench", ignore=IGNORE)
    return {"ref": ref, "git_commit": commit[:7], "sha256": code_hash(dest),
            "packages": list(packages)}  # fmt: skip


def _imports(code: Path, env: dict[str, str], packages: list[str]) -> dict[str, str]:
    """Where each package is imported from when a process starts as the gateway's does.

    Same interpreter, ``PYTHONPATH`` and working directory (``-c``, like ``-m``, puts the
    working directory first on ``sys.path``). Raises when one is not from ``code``.
    """
    script = (
        "import importlib, sys\nfor p in sys.argv[1:]: print(importlib.import_module(p).__file__)"
    )
    out = subprocess.run(  # noqa: S603 (our own argv)
        [PY, "-c", script, *packages], capture_output=True, text=True, check=True,
        timeout=60, env={**env, "PYTHONPATH": str(code)}, cwd=code,
    ).stdout.split()  # fmt: skip
    found = dict(zip(packages, out, strict=True))
    strays = {p: f for p, f in found.items() if not Path(f).is_relative_to(code)}
    if strays:
        raise RuntimeError(f"{code.name}: packages imported from elsewhere: {strays}")
    return found


def _nosniff(graphql_url: str) -> str:
    """The served ``/healthz``'s ``X-Content-Type-Options`` (added by issue 10), or "none"."""
    url = graphql_url.removesuffix("/graphql") + "/healthz"
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the benchmark only talks to 127.0.0.1, not {url}")
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
        return str(response.headers.get("X-Content-Type-Options") or "none")


def spread(values: list[float]) -> float:
    """(max - min) / median: how far rounds of the same code fall apart."""
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def summarize(a: list[float], b: list[float]) -> dict[str, Any]:
    """Medians, B/A, each side's spread between rounds, and whether B/A is beyond it."""
    med_a, med_b = statistics.median(a), statistics.median(b)
    ratio = med_b / med_a if med_a else float("nan")
    noise = max(spread(a), spread(b))
    paired = [y / x for x, y in zip(a, b, strict=True) if x]
    return {
        "a": a, "b": b, "median_a": round(med_a, 2), "median_b": round(med_b, 2),
        "ratio": round(ratio, 3), "spread_a": round(spread(a), 3),
        "spread_b": round(spread(b), 3), "noise": round(noise, 3),
        "paired_ratios": [round(p, 3) for p in paired],
        "beyond_noise": abs(ratio - 1) > noise,
    }  # fmt: skip


def _value(row: dict[str, Any], field_name: str, bare_rps: float) -> float:
    if field_name == "vs_bare":
        return round(row["ok_rps"] / bare_rps, 3) if bare_rps else 0.0
    return float(row[field_name])


def _side_round(h: Harness, side: Side, r: int, fixed: str) -> dict[str, dict[str, Any]]:
    d, rows, tag = h.d, {}, f"-{side.name}{r}"

    def started(workers: int, ttl: float) -> tuple[Proc, str]:
        gw, url = h.start_gateway("aiohttp", workers, ttl, code=side.code, tag=tag)
        side.nosniff.add(_nosniff(url))
        return gw, url

    gw, url = started(1, 0)
    try:  # 1 client: at most ~50 plans/s with 20 ms sources; sign no more tokens than that
        seconds = d["latency"]
        rows["a20"] = h.load(f"ab.r{r}.{side.name}.a20", f"{side.name}: 1 client, 1 worker",
                             url, clients=1, seconds=seconds, target=gw,
                             max_requests=int(250 * (seconds + d["warmup"])) + 50)  # fmt: skip
    finally:
        h.stop(gw)
    gw, url = started(2, 0)
    try:
        rows["b"] = h.load(f"ab.r{r}.{side.name}.b", f"{side.name}: 32 clients, 2 workers",
                           url, clients=CLIENTS, seconds=d["throughput"], target=gw)  # fmt: skip
    finally:
        h.stop(gw)
    gw, url = started(2, 300)
    try:
        rows["c"] = h.load(f"ab.r{r}.{side.name}.c", f"{side.name}: cached, 2 workers",
                           url, clients=CLIENTS, seconds=d["throughput"], target=gw,
                           fixed=fixed)  # fmt: skip
    finally:
        h.stop(gw)
    return rows


def run_ab(h: Harness, ref: str, rounds: int) -> dict[str, Any]:
    """Both gateways, ``rounds`` times each, A then B; the summary goes into ``h.res``."""
    ref_version = ref_copy(ref, h.tmp / "code-ref", h.code / "bench")
    schema = h.tmp / "code-ref" / "schema" / "minplan.graphql"
    if not schema.is_file() or "course: Course" not in schema.read_text():
        raise SystemExit(
            f"--against {ref}: its schema serves no CarePackage.course (contract v2), so the "
            "whole-plan query (bench/load.py PLAN_QUERY) would fail there. Run an A/B of an "
            "older ref from a tree of its era, e.g. a worktree at ce5b8d7."
        )
    sides = (Side("A", h.code, dict(h.code_version)), Side("B", h.tmp / "code-ref", ref_version))
    for side in sides:
        packages = list(code_packages(side.code))
        side.imports = _imports(side.code, h.env, packages)
        print(f"  {side.name}: {side.version}\n     gateway from {side.imports['gateway']}",
              flush=True)  # fmt: skip
    h.start_common()
    h.stop(h.floor)  # not part of the A/B
    h.res["slowest_source_ms"]["20"] = h.source_alone("diagnoses", "Condition")
    fixed, order = cpr_for(99_000_000), []
    per_round: list[dict[str, Any]] = []
    for r in range(1, rounds + 1):
        bare = h.load(f"ab.r{r}.bare", "bare strawberry, memory", f"{h.bare_url}/graphql",
                      clients=CLIENTS, seconds=h.d["throughput"], target=h.bare,
                      auth="none")  # fmt: skip
        h.res["bare_rps"] = max(h.res.get("bare_rps", 0.0), bare["rps"])  # sizes token lists
        found: dict[str, Any] = {"bare": bare}
        for side in sides:
            found[side.name] = _side_round(h, side, r, fixed)
            order.append(side.name)
        per_round.append(found)
    summary: dict[str, Any] = {}
    for key, scenario, field_name, label in METRICS:
        values: dict[str, list[float]] = {s: [] for s in SIDES}
        for found in per_round:
            bare_rps = found["bare"]["rps"]
            for s in SIDES:
                row = found["bare"] if scenario == "bare" else found[s][scenario]
                values[s].append(_value(row, field_name, bare_rps))
        summary[key] = {"label": label, **summarize(values["A"], values["B"])}
    rows = [r for r in h.res["scenarios"] if r["id"].startswith("ab.")]
    ab = {
        "ref": ref, "rounds": rounds, "order": order, "summary": summary,
        "sides": {s.name: {**s.version, "imports": s.imports, "healthz_nosniff": sorted(s.nosniff)}
                  for s in sides},
        "wrong": sum(r["wrong"] for r in rows), "http_5xx": sum(r["http_5xx"] for r in rows),
        "capped": [r["id"] for r in rows if r["capped"] and r["id"].endswith((".a20", ".b"))],
    }  # fmt: skip
    h.res["ab"] = ab
    return ab


def render_ab(ab: dict[str, Any]) -> str:
    """The A/B table: medians, B/A, noise, and the ratio of each round's pair."""
    a, b = ab["sides"]["A"], ab["sides"]["B"]
    lines = [
        f"A/B, {ab['rounds']} rounds, order {' '.join(ab['order'])}",
        f"  A: {a.get('git_head', '?')} (sha256 {a['sha256']}), /healthz nosniff "
        f"{a['healthz_nosniff']}, gateway from {a['imports']['gateway']}",
        f"  B: {b['ref']} = {b['git_commit']} (sha256 {b['sha256']}), /healthz nosniff "
        f"{b['healthz_nosniff']}, gateway from {b['imports']['gateway']}",
        "",
        f"{'metric':<44} {'A':>8} {'B':>8} {'B/A':>6} {'noise A':>8} {'noise B':>8}  B/A by round",
    ]
    for key, s in ab["summary"].items():
        if key == "bare.rps":
            lines.append(f"{s['label']:<44} {s['median_a']:>8} {'':>8} {'':>6} "
                         f"{s['spread_a']:>8.1%} {'':>8}  (same process for A and B)")  # fmt: skip
            continue
        mark = "  BEYOND NOISE" if s["beyond_noise"] else ""
        paired = " ".join(f"{p:.3f}" for p in s["paired_ratios"])
        lines.append(f"{s['label']:<44} {s['median_a']:>8} {s['median_b']:>8} "
                     f"{s['ratio']:>6.3f} {s['spread_a']:>8.1%} {s['spread_b']:>8.1%}  "
                     f"{paired}{mark}")  # fmt: skip
    beyond = [s["label"] for s in ab["summary"].values() if s["beyond_noise"]]
    lines.append("")
    lines.append("beyond the noise: " + ("; ".join(beyond) if beyond else "nothing"))
    lines.append(
        f"answers: {ab['wrong']} wrong, {ab['http_5xx']} 5xx"
        + (f"; token lists ran out in {ab['capped']}" if ab["capped"] else "")
    )
    return "\n".join(lines)
