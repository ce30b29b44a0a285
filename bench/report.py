"""The benchmark's verdict: goals checked against numbers of the same run, and the table.

Issue 12's goals (item 7, "Speed") beside the earlier ones: (a) at 1 client the full
plan's p50 <= 1.15 x the slowest source + 3 ms; (b) cold full plans/s against bare
strawberry, 32 clients, 2 workers, >= 8/11 of issue 11's 0.74; (d) the upstream searches
of each query shape; (f) a query of one source's data (appointments only) costs at most
half of a full plan's gateway CPU per request, under the same load.
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate_goals", "render"]

Row = dict[str, Any]


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


#: (b) of issue 12: 8/11 (eight searches then, eleven now) of issue 11's ratio, 0.74.
B_RATIO_V2 = round(8 / 11 * 0.74, 3)
#: (f): the one-source query's gateway CPU per request, at most this share of a full plan's.
F_SHARE = 0.5
#: The 2-worker default gateway's (b) row, the one issue 12's ratio is about.
B_V2_ROW = "b.gateway.aiohttp.w2"


def _goal(name: str, value: Any, limit: str, met: bool | None, note: str = "") -> dict[str, Any]:
    return {"goal": name, "value": value, "limit": limit, "met": met, "note": note}


def evaluate_goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Every goal of the issue, met or missed, with the numbers that decide it."""
    rows: dict[str, Row] = {r["id"]: r for r in res["scenarios"]}
    slowest = res["slowest_source_ms"]
    goals = []
    for ms in ("20", "100"):
        row = rows.get(f"a{ms}.gateway")
        if row and slowest.get(ms):
            limit = round(1.15 * slowest[ms] + 3, 2)
            goals.append(
                _goal(
                    f"(a) 1 client, p50 (slowest source {ms} ms alone: {slowest[ms]} ms)",
                    row["p50_ms"],
                    f"<= {limit} ms",
                    row["p50_ms"] <= limit,
                )
            )
    bare = rows.get("b.bare", {}).get("ok_rps")
    best = res.get("best_b")
    v2 = rows.get(B_V2_ROW)
    if v2:
        ratio = _ratio(v2["ok_rps"], bare)
        goals.append(
            _goal(
                f"(b, issue 12) {v2['label']}: cold full plans/s vs bare strawberry {bare}/s",
                ratio,
                f">= {B_RATIO_V2} (8/11 x 0.74)",
                ratio is not None and ratio >= B_RATIO_V2,
                f"{v2['ok_rps']} complete plans/s of {v2['rps']}/s",
            )
        )
    for sid in ["b.gateway"] + ([best] if best and best != "b.gateway" else []):
        row = rows.get(sid)
        if not row:
            continue
        ratio = _ratio(row["ok_rps"], bare)
        goals.append(
            _goal(
                f"(b) {row['label']}: plans/s vs bare strawberry {bare}/s",
                ratio,
                ">= 0.5",
                ratio is not None and ratio >= 0.5,
                f"{row['ok_rps']} complete plans/s of {row['rps']}/s",
            )
        )
        tail = _ratio(row["p99_ms"], row["p50_ms"])
        goals.append(
            _goal(
                f"(b) {row['label']}: p99/p50 (no queue collapse)",
                tail,
                "<= 2",
                tail is not None and tail <= 2,
                f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms",
            )
        )
    for sid in [r["id"] for r in res["scenarios"] if r["id"].startswith("c.gateway")]:
        ratio = _ratio(rows[sid]["ok_rps"], bare)
        goals.append(
            _goal(
                f"(c) {rows[sid]['label']}: plans/s vs bare strawberry",
                ratio,
                ">= 0.9",
                ratio is not None and ratio >= 0.9,
                f"{rows[sid]['ok_rps']} complete plans/s of {rows[sid]['rps']}/s",
            )
        )
    searches = res.get("searches", {})
    for name, count in searches.items():
        if name == "warm":
            continue
        want = count["expected"]
        one_each = sorted(count["paths"]) == sorted(want) and all(
            n == count["plans"] for n in count["paths"].values()
        )
        who = "the patient's own" if count["auth"] == "citizen" else "a clinician's"
        goals.append(
            _goal(
                f"(d) upstream searches per cold plan: {count['shape']}, {who}",
                count["per_plan"],
                f"== {len(want)}, one per search",
                count["per_plan"] == len(want) and one_each,
            )
        )
    if "warm" in searches:
        warm = searches["warm"]["per_plan"]
        goals.append(_goal("(d) upstream searches per warm plan", warm, "== 0", warm == 0))
    full, one = rows.get("b.gateway"), rows.get("f.appointments")
    if full and one:
        share = _ratio(one["gw_cpu_ms"], full["gw_cpu_ms"])
        goals.append(
            _goal(
                "(f) appointments only vs full plan: gateway CPU ms per request (32 clients)",
                share,
                f"<= {F_SHARE}",
                share is not None and share <= F_SHARE,
                f"{one['gw_cpu_ms']} ms against {full['gw_cpu_ms']} ms",
            )
        )
    soak = res.get("soak")
    if soak:
        row = rows["e.soak"]
        goals.append(_goal("(e) soak: HTTP 5xx", row["http_5xx"], "== 0", row["http_5xx"] == 0))
        goals.append(_goal("(e) soak: wrong answers", row["wrong"], "== 0", row["wrong"] == 0))
        goals.append(
            _goal(
                "(e) soak: memory growth (reported)",
                f"{soak['growth_mb']} MiB",
                "reported",
                None,
                f"RSS {soak['rss_start_mb']} -> {soak['rss_end_mb']} MiB over "
                f"{row['requests']} plans",
            )
        )
        shares = soak.get("gc_share") or []
        if len(shares) >= 2 and any(shares):
            goals.append(
                _goal(
                    "(e) soak: GC share of gateway CPU, first -> last 5 s (reported)",
                    f"{shares[0]:.0%} -> {shares[-1]:.0%}",
                    "reported",
                    None,
                    f"every 5 s: {' '.join(f'{x:.0%}' for x in shares)}",
                )
            )
    return goals


_COLUMNS = (
    ("scenario", 40, "label"),
    ("cl", 3, "clients"),
    ("plans/s", 8, "rps"),
    ("ok/s", 8, "ok_rps"),
    ("p50 ms", 8, "p50_ms"),
    ("p99 ms", 8, "p99_ms"),
    ("p99/p50", 7, "tail"),
    ("5xx", 5, "http_5xx"),
    ("wrong", 5, "wrong"),
    ("degr", 5, "degraded"),
    ("gw ms/pl", 8, "gw_cpu_ms"),
    ("gc ms/pl", 8, "gc_ms"),
    ("src ms/pl", 9, "src_cpu_ms"),
    ("srch/pl", 7, "searches_per_plan"),
    ("vs bare", 7, "vs_bare"),
    ("vs floor", 8, "vs_floor"),
)


def _cell(value: Any, width: int, first: bool) -> str:
    text = "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
    return text.ljust(width) if first else text.rjust(width)


def render(res: dict[str, Any]) -> str:
    """The printed table: one line per scenario, then the goals, then the comparison."""
    rows = res["scenarios"]
    by_id = {r["id"]: r for r in rows}
    bare, floor = by_id.get("b.bare", {}).get("ok_rps"), by_id.get("b.floor", {}).get("ok_rps")
    lines = ["  ".join(_cell(h, w, i == 0) for i, (h, w, _) in enumerate(_COLUMNS))]
    lines.append("-" * len(lines[0]))
    for row in rows:
        row = {**row, "tail": _ratio(row.get("p99_ms"), row.get("p50_ms"))}
        if row["clients"] > 1 and not row["id"].startswith(("d.", "e.", "f.")):
            row["vs_bare"] = _ratio(row["ok_rps"], bare)
            row["vs_floor"] = _ratio(row["ok_rps"], floor)
        lines.append(
            "  ".join(_cell(row.get(k), w, i == 0) for i, (_, w, k) in enumerate(_COLUMNS))
        )
    lines += [
        "",
        "gw ms/pl, src ms/pl: CPU ms per plan of the gateway (all workers) and of the synthetic "
        "sources; gc ms/pl: of that, Python's GC (1 worker); srch/pl: upstream searches per "
        "plan (a full plan alone: 10 for a citizen's own, 11 for a clinician's; fewer when "
        "concurrent plans share a search); f.*: other query shapes, per request;",
        "degr: answers with a source reported unavailable; ok/s: complete, right plans per "
        "second (what vs bare/floor compare)",
        "",
    ]
    searches = {k: v for k, v in res.get("searches", {}).items() if k != "warm"}
    if searches:
        lines.append("upstream searches per query shape (cold, one plan at a time):")
        for name, count in searches.items():
            lines.append(f"  {name:<24} {count['per_plan']:>5}  {' '.join(sorted(count['paths']))}")
        lines.append("")
    for goal in res["goals"]:
        mark = {True: "MET   ", False: "MISSED", None: "INFO  "}[goal["met"]]
        note = f"  ({goal['note']})" if goal["note"] else ""
        lines.append(f"{mark} {goal['goal']}: {goal['value']} (goal {goal['limit']}){note}")
    if res.get("comparison"):
        lines += ["", res["comparison"]]
    split = [r for r in rows if len(r.get("cpu_s_by_process", ())) > 1 and r["clients"] > 1]
    if split:
        lines += ["", "CPU seconds by gateway process (supervisor, workers, helpers):"]
        lines += [f"  {r['label']:<40} {r['cpu_s_by_process']}" for r in split]
    profile = res.get("profile")
    if profile:
        lines += ["", f"py-spy, gateway aiohttp x1 under (b), {profile['samples']} samples"]
        sections = (
            ("self time (innermost frame; GC pauses land on whatever frame allocates):", "self"),
            ("request stages (a sample counts when the stage is on its stack):", "stages"),
            ("the gateway's own functions (inclusive):", "own_code"),
        )
        for title, key in sections:
            lines.append(f"  {title}")
            lines += [f"  {p['pct']:5.1f} %  {p['function']}" for p in profile[key][:12]]
    return "\n".join(lines)
