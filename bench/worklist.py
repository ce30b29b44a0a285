"""The work-list scenario (issue 13, item 7): a clinic's COPD work list, cold and warm.

The synthetic clinic (bench/clinic.py) lists 2,000 patients with the benchmark
clinician's organisation, 150 of them in COPD; every source answers in 20 ms. One client
reads the first page (``first: 50``) of :data:`WORKLIST_QUERY` one request at a time:

- **cold**: a gateway with ``MINPLAN_CACHE_TTL=0``, so every read asks every source again
  (the cache holds nothing); the first reads warm the process (imports, first
  connections) and are left out, then :data:`COLD`/:data:`QUICK_COLD` reads give p50;
- **warm**: a gateway with a 300 s TTL, filled by one read, then as many reads: what a
  clinician paging back and forth within minutes sees;
- **searches** of one cold read, counted at the sources per search (path): CPRs asked,
  first pages and pages after the first; each must be at most ``ceil(N / batch) + next
  pages``, with N the patients that search was asked about (2,000 for consent and
  diagnoses, 150 for the rest), and each patient asked once. Against the naive way (a
  clinician's whole plan per listed patient: 2,000 x 11 searches) the ratio must be
  at least 10;
- **memory**: the gateway's peak resident memory (``VmHWM``) during one cold read above
  its resident memory before it, read from ``/proc``: on a fresh gateway (after one small
  plan read, so the generic request machinery is loaded) and again after the timed reads.
  The peak is reset between the two through ``/proc/<pid>/clear_refs`` (``5``); where
  that is refused, only the fresh process's figure is given.

Every answer is checked: all sources ok, 150 in total, each entry a COPD patient of the
clinic with the triage and alerts bench/clinic.py gave them, and the first page the first
50 of the whole list read at once.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.clinic import CLINIC_SOR, IN_PACKAGE, LISTED, LISTING_PATH, expected, package_cprs
from bench.harness import PY, Harness
from bench.procs import Proc, free_port
from bench.profile import py_spy, start_py_spy, summarize
from bench.synthetic import SEARCHES

__all__ = [
    "BATCH",
    "WORKLIST_QUERY",
    "check_worklist",
    "expected_searches",
    "render_worklist",
    "run_worklist",
    "worklist_goals",
]

WORKLIST_QUERY = """query Worklist($kind: PackageKind!, $first: Int, $after: String) {
  worklist(kind: $kind, first: $first, after: $after) {
    total endCursor hasNextPage sources { name ok }
    entries {
      cpr name restricted
      package { id kind triage { level } alerts { kind priority since text } }
    }
  }
}"""
#: Patients per search (``MINPLAN_BATCH_SIZE``) and the listing's ``_count``, set explicitly.
BATCH, LISTING_PAGE = 50, 1000
PAGE = 50
COLD, WARM, QUICK_COLD, QUICK_WARM = 40, 100, 12, 30
COLD_GOAL_MS, WARM_GOAL_MS, RATIO_GOAL = 300.0, 60.0, 10.0
#: The sources a work list of this query asks (§5: what triage and alerts read), in order.
SOURCES = ["diagnoses", "appointments", "careplan", "consent", "observations", "listing"]


def expected_searches() -> dict[str, int]:
    """Each search of one cold read, with the patients it is about (N); the listing's 0."""
    everyone = {"/diagnoses/Condition": LISTED}
    package = (  # consent too: asked only about those with a diagnosis of the package
        "/consent/Consent",
        "/appointments/Appointment",
        "/careplan/Goal",
        "/careplan/RiskAssessment",
        "/careplan/CarePlan",
        "/observations/Observation",
    )
    return {LISTING_PATH: 0, **everyone, **dict.fromkeys(package, IN_PACKAGE)}


def check_worklist(body: dict[str, Any], first: int) -> str | None:
    """Why a work-list answer for ``first`` entries is wrong, or None when it is right."""
    if body.get("errors"):
        codes = [(e.get("extensions") or {}).get("code") for e in body["errors"]]
        return f"errors {codes} {body['errors'][0].get('message', '')[:200]}"
    page = (body.get("data") or {}).get("worklist")
    if not isinstance(page, dict):
        return "no worklist"
    failed = [s["name"] for s in page["sources"] if not s["ok"]]
    if failed:
        return f"sources failed: {failed}"
    if page["total"] != IN_PACKAGE:
        return f"total {page['total']}, not {IN_PACKAGE}"
    entries = page["entries"]
    if len(entries) != min(first, IN_PACKAGE) or page["hasNextPage"] != (first < IN_PACKAGE):
        return f"{len(entries)} entries, hasNextPage {page['hasNextPage']}"
    for entry in entries:
        want = expected(entry["cpr"])
        if want is None:
            return "an entry not in COPD"
        package = entry["package"]
        level = (package["triage"] or {}).get("level")
        kinds = tuple(sorted(a["kind"] for a in package["alerts"]))
        if package["kind"] != "COPD" or level != want.triage or kinds != want.alerts:
            return f"entry: triage {level}, alerts {kinds}; want {want.triage}, {want.alerts}"
        if not entry["name"] or entry["restricted"]:
            return "entry: no name, or restricted"
    if len({e["cpr"] for e in entries}) != len(entries):
        return "an entry twice"
    return None


class _Client:
    """One keep-alive connection posting the work-list query with a clinician's token."""

    def __init__(self, url: str, token: str) -> None:
        host, _, rest = url.removeprefix("http://").partition("/")
        name, _, port = host.partition(":")
        self.conn = http.client.HTTPConnection(name, int(port), timeout=60)
        self.path = f"/{rest}"
        self.headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}

    def read(self, first: int) -> tuple[float, dict[str, Any]]:
        variables = {"kind": "COPD", "first": first}
        body = json.dumps({"query": WORKLIST_QUERY, "variables": variables}).encode()
        started = time.perf_counter()
        self.conn.request("POST", self.path, body, self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        ms = (time.perf_counter() - started) * 1000
        if response.status != 200:
            return ms, {"errors": [{"message": f"HTTP {response.status}: {raw[:200]!r}"}]}
        answer: dict[str, Any] = json.loads(raw)
        return ms, answer

    def plan_header(self, cpr: str) -> None:
        """One small plan read: loads the request machinery a work list shares."""
        query = "query P($cpr: String!) { plan(cpr: $cpr) { packages { id kind } } }"
        body = json.dumps({"query": query, "variables": {"cpr": cpr}}).encode()
        self.conn.request("POST", self.path, body, self.headers)
        self.conn.getresponse().read()

    def close(self) -> None:
        self.conn.close()


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid``, KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def _reset_peak(pid: int) -> bool:
    """Reset ``pid``'s VmHWM to its current RSS (Linux ``clear_refs`` 5); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_of_one_read(client: _Client, pid: int, *, fresh: bool) -> dict[str, Any] | None:
    """The peak resident memory of one cold read above the RSS before it, MiB."""
    reset = _reset_peak(pid)
    if not reset and not fresh:
        return None
    before = _memory(pid)
    _, body = client.read(PAGE)
    after = _memory(pid)
    return {
        "rss_before_mib": round(before["VmRSS"] / 1024, 1),
        "peak_mib": round(after["VmHWM"] / 1024, 1),
        "peak_above_before_mib": round((after["VmHWM"] - before["VmRSS"]) / 1024, 1),
        "rss_after_mib": round(after["VmRSS"] / 1024, 1),
        "peak_reset": reset,
        "wrong": check_worklist(body, PAGE),
    }


def _ensure_sources(h: Harness) -> None:
    """The synthetic sources and the dev issuer's keys, when the run has not started them."""
    if getattr(h, "sources", None) is not None:
        return
    from gateway.devtokens import DevIssuer

    h.key = h.tmp / "dev-key.pem"
    (h.tmp / "jwks.json").write_text(json.dumps(DevIssuer(h.key).jwks()))
    port = free_port()
    h.src_url = f"http://127.0.0.1:{port}"
    h.sources = h.start("sources", [PY, "-m", "bench.sources", "--port", str(port)])
    h.sources.wait_healthy(f"{h.src_url}/healthz")


def _timed(client: _Client, gw: Proc, n: int) -> dict[str, Any]:
    """``n`` reads one at a time: latency percentiles, gateway CPU per read, wrong answers."""
    times, wrong = [], []
    cpu = gw.cpu_seconds()
    for _ in range(n):
        ms, body = client.read(PAGE)
        times.append(ms)
        if (problem := check_worklist(body, PAGE)) is not None:
            wrong.append(problem)
    ordered = sorted(times)
    return {
        "reads": n,
        "p50_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[min(n - 1, int(0.9 * n))], 2),
        "max_ms": round(ordered[-1], 2),
        "min_ms": round(ordered[0], 2),
        "gw_cpu_ms": round((gw.cpu_seconds() - cpu) * 1000 / n, 2),
        "wrong": len(wrong),
        "problems": sorted(set(wrong))[:3],
    }


def _searches(stats: dict[str, Any]) -> dict[str, Any]:
    """One cold read's searches per path against ``ceil(N / batch) + next pages``."""
    rows, wanted = {}, expected_searches()
    for path in sorted(set(stats["paths"]) | set(wanted)):
        n = wanted.get(path)
        requests = stats["paths"].get(path, 0)
        next_pages = stats["next_pages"].get(path, 0)
        asked = stats["patients"].get(path, 0)
        limit = (math.ceil(n / BATCH) if n else 1) + next_pages if n is not None else 0
        rows[path] = {
            "searches": requests,
            "next_pages": next_pages,
            "patients_asked": asked,
            "most_in_one": stats["most_patients"].get(path, 0),
            "n": n,
            "limit": limit,
            "met": requests <= limit and asked == (n or 0) and n is not None,
        }
    total = sum(r["searches"] for r in rows.values())
    naive = LISTED * len(SEARCHES)
    # the naive way asking only this read's sections, one patient per search
    narrow = sum(n for n in wanted.values() if n) + stats["paths"].get(LISTING_PATH, 0)
    return {
        "paths": rows,
        "total": total,
        "naive_full_plans": naive,
        "ratio": round(naive / total, 1) if total else None,
        "naive_same_sections": narrow,
        "ratio_same_sections": round(narrow / total, 1) if total else None,
    }


def _profile(client: _Client, gw: Proc, out: Path, seconds: float) -> dict[str, Any] | None:
    """py-spy on the cold gateway while reads run one after another, untimed."""
    spy = py_spy()
    if spy is None:
        print("  (py-spy not installed: no profile)", flush=True)
        return None
    sampler = start_py_spy(spy, gw.pid, seconds, out)
    while sampler.poll() is None:
        client.read(PAGE)
    if not out.exists():
        print(f"  (py-spy failed: {sampler.communicate()[1].decode()[-300:]})", flush=True)
        return None
    return summarize(out)


def run_worklist(h: Harness, *, quick: bool, profile: bool = False) -> dict[str, Any]:
    """The whole scenario; returns (and keeps in ``h.res["worklist"]``) its figures.

    ``profile`` samples the cold gateway with py-spy after the timed reads.
    """
    from gateway.devtokens import DevIssuer

    _ensure_sources(h)
    h.control(reset_latency=1, default=20)
    token = DevIssuer(h.key).issue(role="clinician", org=CLINIC_SOR, name="Bench")
    env = {
        "MINPLAN_SOURCE_LISTING_URL": f"{h.src_url}/listing",
        "MINPLAN_BATCH_SIZE": str(BATCH),
        "MINPLAN_LISTING_PAGE_SIZE": str(LISTING_PAGE),
    }
    cold_n, warm_n = (QUICK_COLD, QUICK_WARM) if quick else (COLD, WARM)
    res: dict[str, Any] = {"load_avg_before": [round(x, 2) for x in os.getloadavg()]}
    print("  w: work list, 2,000 listed, 150 in COPD, sources 20 ms, 1 client", flush=True)
    gw, url = h.start_gateway("aiohttp", 1, ttl=0, extra_env=env, tag="-worklist")
    client = _Client(url, token)
    try:
        client.plan_header(package_cprs()[0])
        res["memory_fresh"] = _peak_of_one_read(client, gw.pid, fresh=True)
        _, whole = client.read(200)
        res["whole_list"] = check_worklist(whole, 200)
        _, first = client.read(PAGE)
        entries = (whole.get("data") or {}).get("worklist", {}).get("entries", [])
        got = (first.get("data") or {}).get("worklist", {}).get("entries", [])
        res["first_page_is_head"] = [e["cpr"] for e in got] == [e["cpr"] for e in entries][:PAGE]
        h.stats(reset=True)
        client.read(PAGE)
        res["searches"] = _searches(h.stats(reset=True))
        res["cold"] = _timed(client, gw, cold_n)
        res["memory_steady"] = _peak_of_one_read(client, gw.pid, fresh=False)
        if profile:
            res["profile"] = _profile(client, gw, h.tmp / "worklist-profile.txt", 15)
    finally:
        client.close()
        h.stop(gw)
    gw, url = h.start_gateway("aiohttp", 1, ttl=300, extra_env=env, tag="-worklist")
    client = _Client(url, token)
    try:
        client.read(PAGE)
        h.stats(reset=True)
        res["warm"] = _timed(client, gw, warm_n)
        res["warm"]["searches"] = h.stats(reset=True)["total"]
    finally:
        client.close()
        h.stop(gw)
    res["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    h.res["worklist"] = res
    for name in ("cold", "warm"):
        row = res[name]
        h.res["scenarios"].append(
            {
                "id": f"w.{name}",
                "label": f"work list, first 50, {name}",
                "clients": 1,
                "info": False,
                "rps": round(1000 / row["p50_ms"], 1),
                "p50_ms": row["p50_ms"],
                "p99_ms": None,
                "wrong": row["wrong"],
                "http_5xx": 0,
                "gw_cpu_ms": row["gw_cpu_ms"],
                "searches_per_plan": res["searches"]["total"]
                if name == "cold"
                else round(row["searches"] / row["reads"], 2),
            }
        )
        print(f"  w.{name:<26} p50 {row['p50_ms']} ms p90 {row['p90_ms']} ms "
              f"wrong {row['wrong']}", flush=True)  # fmt: skip
    return res


def _goal(name: str, value: Any, limit: str, met: bool | None, note: str = "") -> dict[str, Any]:
    return {"goal": name, "value": value, "limit": limit, "met": met, "note": note}


def worklist_goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 13's speed goals for the work list, met or missed."""
    w = res.get("worklist")
    if not w:
        return []
    cold, warm, searches = w["cold"], w["warm"], w["searches"]
    wrong = cold["wrong"] + warm["wrong"] + (w["whole_list"] is not None)
    wrong += not w["first_page_is_head"]
    goals = [
        _goal("(w) work list answers right: all 150, triage and alerts as given, paging",
              wrong, "0 wrong", wrong == 0,
              "; ".join(str(p) for p in [w["whole_list"], *cold["problems"],
                                         *warm["problems"]] if p)),
        _goal(f"(w) cold work list, first 50, 1 client: p50 ({cold['reads']} reads, TTL 0)",
              cold["p50_ms"], f"<= {COLD_GOAL_MS:g} ms", cold["p50_ms"] <= COLD_GOAL_MS,
              f"p90 {cold['p90_ms']} ms, {cold['gw_cpu_ms']} gateway CPU ms per read"),
        _goal(f"(w) warm work list, first 50, 1 client: p50 ({warm['reads']} reads, TTL 300 s)",
              warm["p50_ms"], f"<= {WARM_GOAL_MS:g} ms", warm["p50_ms"] <= WARM_GOAL_MS,
              f"p90 {warm['p90_ms']} ms, {warm['gw_cpu_ms']} gateway CPU ms per read, "
              f"{warm['searches']} searches in all"),
    ]  # fmt: skip
    for path, row in searches["paths"].items():
        goals.append(
            _goal(f"(w) searches of one cold read: {path} (N = {row['n']})", row["searches"],
                  f"<= {row['limit']} (ceil(N/{BATCH}) + {row['next_pages']} next pages), "
                  f"N asked once", row["met"],
                  f"{row['patients_asked']} CPRs asked, at most {row['most_in_one']} per search")
        )  # fmt: skip
    goals.append(
        _goal("(w) searches against the naive way (a whole plan per listed patient)",
              searches["ratio"], f">= {RATIO_GOAL:g}x",
              searches["ratio"] is not None and searches["ratio"] >= RATIO_GOAL,
              f"{searches['naive_full_plans']} / {searches['total']}; one patient per search "
              f"for this read's sections only: {searches['naive_same_sections']}, "
              f"{searches['ratio_same_sections']}x")
    )  # fmt: skip
    for name, label in (("memory_fresh", "fresh gateway"), ("memory_steady", "after the reads")):
        mem = w.get(name)
        if mem:
            goals.append(
                _goal(f"(w) memory of one cold work-list read, {label}: peak above RSS before",
                      f"{mem['peak_above_before_mib']} MiB", "reported", None,
                      f"RSS {mem['rss_before_mib']} -> peak {mem['peak_mib']} -> "
                      f"{mem['rss_after_mib']} MiB")
            )  # fmt: skip
    return goals


def render_worklist(res: dict[str, Any]) -> str:
    """The work list's searches per path, one cold read, as a small table."""
    w = res.get("worklist")
    if not w:
        return ""
    lines = ["work list, one cold read (first 50): searches per path at the sources",
             f"  {'path':<28} {'N':>5} {'asked':>6} {'max/srch':>8} {'searches':>8} "
             f"{'next pg':>7} {'limit':>5}"]  # fmt: skip
    for path, r in w["searches"]["paths"].items():
        lines.append(
            f"  {path:<28} {r['n']!s:>5} {r['patients_asked']:>6} {r['most_in_one']:>8} "
            f"{r['searches']:>8} {r['next_pages']:>7} {r['limit']:>5}"
        )
    s = w["searches"]
    lines.append(f"  total {s['total']}; naive {s['naive_full_plans']} ({s['ratio']}x)")
    profile = w.get("profile")
    if profile:
        lines.append(
            f"py-spy, cold work-list reads one after another, {profile['samples']} samples"
        )
        for title, key in (("request stages:", "stages"), ("our own functions:", "own_code"),
                           ("self time:", "self")):  # fmt: skip
            lines.append(f"  {title}")
            lines += [f"  {p['pct']:5.1f} %  {p['function']}" for p in profile[key][:12]]
    with contextlib.suppress(KeyError, TypeError):
        lines.append(f"  load average before {w['load_avg_before']}, after {w['load_avg_after']}")
    return "\n".join(lines)
