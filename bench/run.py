"""The benchmark, end to end: ``python -m bench [--quick] [--profile]`` (or ``scripts/bench``).

Starts the synthetic sources, bare strawberry, the bare floor and the gateway on loopback,
runs the scenarios of the issue, prints a table with goals and writes
``bench/results/latest.json``. Every process it starts is stopped in ``finally``.

Scenarios (a: latency, b: throughput, c: cached, d: searches per plan, e: soak):
every gateway configuration (transport x workers) runs (a, 20 ms) and (b); the default
one (aiohttp, 1 worker) also runs (a, 100 ms), (d cold), (b) as a clinician, the
profile and the soak; a gateway with a cache TTL runs (c) and (d warm).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.procs import Proc, free_port, get_json
from bench.profile import py_spy, start_py_spy, summarize
from bench.report import evaluate_goals, render
from bench.synthetic import SOURCE_NAMES, cpr_for

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
FULL = {"latency": 10.0, "throughput": 15.0, "short": 5.0, "soak": 60.0, "warmup": 2.0}
QUICK = {"latency": 3.0, "throughput": 5.0, "short": 2.0, "soak": 10.0, "warmup": 1.0}
CONFIGS = (("aiohttp", 1), ("httpx", 1), ("aiohttp", 2), ("httpx", 2))
SLOW, FLAPPING, CLIENTS = "journal", "appointments", 32


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.d = QUICK if args.quick else FULL
        self.tmp = Path(tempfile.mkdtemp(prefix="minplan-bench-"))
        self.procs: list[Proc] = []
        self.patient = 0
        self.res: dict[str, Any] = {"scenarios": [], "searches": {}, "slowest_source_ms": {}}

    # processes ---------------------------------------------------------------------------
    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, argv, log_dir=self.tmp, env=env)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        self.procs.remove(proc)

    def start_common(self) -> None:
        from gateway.devtokens import DevIssuer

        self.key = self.tmp / "dev-key.pem"
        (self.tmp / "jwks.json").write_text(json.dumps(DevIssuer(self.key).jwks()))
        port = free_port()
        self.src_url = f"http://127.0.0.1:{port}"
        self.sources = self.start("sources", [PY, "-m", "bench.sources", "--port", str(port)])
        self.sources.wait_healthy(f"{self.src_url}/healthz")
        port = free_port()
        self.bare_url = f"http://127.0.0.1:{port}"
        self.bare = self.start("bare", [PY, "-m", "bench.bare", "--port", str(port)])
        port = free_port()
        self.floor_url = f"http://127.0.0.1:{port}"
        argv = [PY, "-m", "bench.floor", "--port", str(port), "--sources", self.src_url]
        self.floor = self.start("floor", argv)
        self.bare.wait_healthy(f"{self.bare_url}/healthz")
        self.floor.wait_healthy(f"{self.floor_url}/healthz")

    def start_gateway(self, transport: str, workers: int, ttl: float) -> tuple[Proc, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
        env |= {f"MINPLAN_SOURCE_{n.upper()}_URL": f"{self.src_url}/{n}" for n in SOURCE_NAMES}
        env |= {
            "MINPLAN_AUTH_ISSUER": "urn:minplan:dev-issuer",
            "MINPLAN_AUTH_JWKS_URL": (self.tmp / "jwks.json").as_uri(),
            "MINPLAN_AUDIT_URL": f"sqlite:///{self.tmp / f'audit-{transport}-{workers}.sqlite3'}",
            "MINPLAN_CACHE_URL": "memory://",
            "MINPLAN_CACHE_TTL": str(ttl),
            "MINPLAN_HTTP_TRANSPORT": transport,
            "MINPLAN_PLAYGROUND": "false",
        }
        port = free_port()
        argv = [str(Path(PY).with_name("minplan")), "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
        proc = self.start(f"gateway-{transport}-{workers}w-ttl{ttl:g}", argv, env)
        url = f"http://127.0.0.1:{port}"
        proc.wait_healthy(f"{url}/healthz")
        return proc, f"{url}/graphql"

    # measuring ---------------------------------------------------------------------------
    def control(self, **params: str | float) -> None:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        get_json(f"{self.src_url}/_control?{query}")

    def stats(self, reset: bool = True) -> dict[str, Any]:
        stats: dict[str, Any] = get_json(f"{self.src_url}/_stats{'?reset=1' if reset else ''}")
        return stats

    def source_alone(self, source: str, kind: str, n: int = 40) -> float:
        """p50 of one search straight to a source, sequential, on one keep-alive connection."""
        conn = http.client.HTTPConnection("127.0.0.1", int(self.src_url.rsplit(":", 1)[1]))
        times = []
        for i in range(n):
            path = f"/{source}/{kind}?patient:identifier=urn:oid:1.2.208.176.1.2%7C{cpr_for(i)}"
            started = time.perf_counter()
            conn.request("GET", path)
            conn.getresponse().read()
            times.append((time.perf_counter() - started) * 1000)
        conn.close()
        self.stats(reset=True)
        return round(sorted(times)[n // 2], 2)

    def load(
        self,
        sid: str,
        label: str,
        url: str,
        *,
        clients: int,
        seconds: float,
        target: Proc,
        mode: str = "graphql",
        auth: str = "citizen",
        fixed: str | None = None,
        allow_failures: bool = False,
        warmup: float | None = None,
        max_requests: int | None = None,
        watch: float = 0.0,
        info: bool = False,
        keepalive: bool = True,
    ) -> dict[str, Any]:
        warmup = self.d["warmup"] if warmup is None else warmup
        if max_requests is None:  # citizens' tokens are signed beforehand: sign what can be used
            signed = mode == "graphql" and auth == "citizen" and not fixed
            rate = 1.5 * self.res.get("bare_rps", 3000) if signed else 1e6
            max_requests = int(rate * (seconds + warmup)) + 50
        argv = [PY, "-m", "bench.load", "--url", url, "--mode", mode, "--auth", auth]
        argv += ["--key", str(self.key), "--clients", str(clients), "--duration", str(seconds)]
        argv += ["--warmup", str(warmup), "--max-requests", str(max_requests)]
        argv += ["--first", str(self.patient)] + (["--fixed-cpr", fixed] if fixed else [])
        argv += ["--allow-failures"] if allow_failures else []
        argv += [] if keepalive else ["--no-keepalive"]
        self.patient += max_requests
        cpu = (target.cpu_by_pid(), self.sources.cpu_seconds())
        rss: list[float] = [target.rss_mb()]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603
        deadline = time.monotonic() + seconds + warmup + max_requests / 10_000 + 120
        sample_at = time.monotonic() + watch
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            if watch and time.monotonic() >= sample_at:
                rss.append(target.rss_mb())
                sample_at += watch
        if proc.poll() is None:
            proc.kill()
            raise RuntimeError(f"load for {sid} did not finish in time")
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"load for {sid} failed: {err.decode()[-2000:]}")
        row: dict[str, Any] = {"id": sid, "label": label, "clients": clients, "info": info}
        row |= json.loads(out)
        warm = row.pop("warmup_requests", 0)
        plans = max(1, row["requests"] + warm)
        used = {p: s - cpu[0].get(p, 0.0) for p, s in target.cpu_by_pid().items()}
        row["gw_cpu_ms"] = round(sum(used.values()) * 1000 / plans, 2)
        row["cpu_s_by_process"] = [round(s, 2) for s in used.values()]
        row["src_cpu_ms"] = round((self.sources.cpu_seconds() - cpu[1]) * 1000 / plans, 2)
        row["capped"] = row["requests"] + warm >= max_requests
        if watch:
            row["rss_mb"] = [*rss, target.rss_mb()]
        self.res["scenarios"].append(row)
        print(
            f"  {sid:<28} {row['rps']:>8}/s p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms "
            f"5xx {row['http_5xx']} wrong {row['wrong']}",
            flush=True,
        )
        return row

    def count_searches(self, name: str, url: str, *, fixed: str | None = None, n: int = 20) -> None:
        if fixed:  # warm: one read fills the cache, then count
            self.run_quiet(url, fixed, 1)
        self.stats(reset=True)
        self.run_quiet(url, fixed, n)
        stats = self.stats(reset=True)
        per_plan = round(stats["total"] / n, 2)
        self.res["searches"][name] = {"plans": n, "per_plan": per_plan, "paths": stats["paths"]}
        print(f"  d.{name:<26} {per_plan} upstream searches per plan", flush=True)

    def run_quiet(self, url: str, fixed: str | None, n: int) -> None:
        argv = [PY, "-m", "bench.load", "--url", url, "--key", str(self.key), "--warmup", "0"]
        argv += ["--duration", "60", "--max-requests", str(n), "--first", str(self.patient)]
        argv += ["--fixed-cpr", fixed] if fixed else []
        self.patient += n
        subprocess.run(argv, check=True, capture_output=True, timeout=120)  # noqa: S603

    # the run -----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        d = self.d
        self.start_common()
        self.res["slowest_source_ms"]["20"] = self.source_alone("diagnoses", "Condition")
        bare = self.load(
            "b.bare",
            "bare strawberry, memory",
            f"{self.bare_url}/graphql",
            clients=CLIENTS,
            seconds=d["throughput"],
            target=self.bare,
            auth="none",
        )
        self.res["bare_rps"] = bare["rps"]
        self.load(
            "b.floor",
            "floor, starlette+aiohttp",
            f"{self.floor_url}/plan",
            clients=CLIENTS,
            seconds=d["throughput"],
            target=self.floor,
            mode="floor",
        )
        self.load(
            "a20.floor",
            "floor, 1 client",
            f"{self.floor_url}/plan",
            clients=1,
            seconds=d["latency"],
            target=self.floor,
            mode="floor",
        )
        for transport, workers in CONFIGS:
            self.run_config(transport, workers)
        self.run_cached()
        return self.res

    def run_config(self, transport: str, workers: int) -> None:
        d, tag = self.d, f"{transport} x{workers}"
        default = (transport, workers) == CONFIGS[0]
        gw, url = self.start_gateway(transport, workers, ttl=0)
        try:
            suffix = "" if default else f".{transport}.w{workers}"
            self.load(
                f"a20.gateway{suffix}",
                f"gw {tag}, 1 client",
                url,
                clients=1,
                seconds=d["latency"] if default else d["short"],
                target=gw,
            )
            if default:
                self.control(**{SLOW: 100})
                self.res["slowest_source_ms"]["100"] = self.source_alone(SLOW, "DocumentReference")
                self.load(
                    "a100.gateway",
                    f"gw {tag}, 1 client, {SLOW} 100 ms",
                    url,
                    clients=1,
                    seconds=d["latency"],
                    target=gw,
                )
                self.control(reset_latency=1)
                self.count_searches("cold", url)
            self.load(
                f"b.gateway{suffix}",
                f"gw {tag}",
                url,
                clients=CLIENTS,
                seconds=d["throughput"],
                target=gw,
            )
            if default:
                self.load(
                    "b.gateway.clinician",
                    f"gw {tag}, clinician (access log)",
                    url,
                    clients=CLIENTS,
                    seconds=d["short"],
                    target=gw,
                    auth="clinician",
                )
                if self.args.profile:
                    self.profile(gw, url)
                self.soak(gw, url)
        finally:
            self.stop(gw)

    def profile(self, gw: Proc, url: str) -> None:
        spy = py_spy()
        if spy is None:
            print("  (py-spy not installed: no profile)", flush=True)
            return
        out = self.tmp / "profile.txt"
        seconds = self.d["short"]
        pid = gw.tree()[-1]  # one worker: the server process itself
        sampler = start_py_spy(spy, pid, seconds + 1, out)
        self.load(
            "b.gateway.profiled",
            "gw aiohttp x1 under py-spy, not a goal",
            url,
            clients=CLIENTS,
            seconds=seconds,
            target=gw,
            warmup=0.5,
        )
        _, err = sampler.communicate(timeout=60)
        if out.exists():
            self.res["profile"] = summarize(out)
        else:
            print(f"  (py-spy failed: {err.decode()[-300:]})", flush=True)

    def soak(self, gw: Proc, url: str) -> None:
        self.control(flap=FLAPPING, flap_down=2, flap_period=5)
        try:
            row = self.load(
                "e.soak",
                f"soak, {FLAPPING} 503 2 s of 5 s",
                url,
                clients=CLIENTS,
                seconds=self.d["soak"],
                target=gw,
                allow_failures=True,
                watch=5.0,
            )
        finally:
            self.control(flap="")
        rss = row["rss_mb"]
        self.res["soak"] = {
            "rss_start_mb": rss[0],
            "rss_end_mb": rss[-1],
            "rss_mb": rss,
            "growth_mb": round(rss[-1] - rss[0], 1),
        }

    def run_cached(self) -> None:
        rows = [r for r in self.res["scenarios"] if r["id"].startswith("b.gateway")]
        best = max(
            (r for r in rows if "clinician" not in r["id"] and "profiled" not in r["id"]),
            key=lambda r: r["rps"],
        )
        self.res["best_b"] = best["id"]
        configs = [CONFIGS[0]]
        if best["id"] != "b.gateway":
            _, transport, workers = best["id"].split(".")[1:]
            configs.append((transport, int(workers[1:])))
        for transport, workers in configs:
            gw, url = self.start_gateway(transport, workers, ttl=300)
            try:
                fixed, suffix = cpr_for(99_000_000), "" if workers == 1 else f".w{workers}"
                if (transport, workers) == CONFIGS[0]:
                    self.count_searches("warm", url, fixed=fixed)
                self.load(
                    f"c.gateway{suffix}",
                    f"gw {transport} x{workers}, cached, 1 patient",
                    url,
                    clients=CLIENTS,
                    seconds=self.d["throughput"],
                    target=gw,
                    fixed=fixed,
                )
            finally:
                self.stop(gw)
        self.res["comparison"] = _compare(self.res["scenarios"])

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


def _compare(rows: list[dict[str, Any]]) -> str:
    found = {r["id"]: r for r in rows}
    ranked = []
    lines = ["transport x workers (b: 32 clients, a new patient each request):"]
    for transport, workers in CONFIGS:
        sid = (
            "b.gateway"
            if (transport, workers) == CONFIGS[0]
            else f"b.gateway.{transport}.w{workers}"
        )
        if sid in found:
            r = found[sid]
            ranked.append(r)
            lines.append(
                f"  {transport:<8} x{workers}: {r['rps']:>7}/s  p50 {r['p50_ms']} ms  "
                f"p99 {r['p99_ms']} ms  {r['gw_cpu_ms']} gateway CPU ms/plan"
            )
    ranked.sort(key=lambda r: -r["rps"])
    if len(ranked) > 1:
        best, second = ranked[0], ranked[1]
        lines.append(
            f"  best: {best['label']}, {best['rps'] / second['rps']:.2f}x the runner-up "
            f"({second['label']}), {best['rps'] / ranked[-1]['rps']:.2f}x the last"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short scenarios, a smoke run")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway under (b)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    bench = Bench(args)
    started = time.monotonic()
    meta = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "durations_s": bench.d,
        "cpus": os.cpu_count(),
        "load_avg_before": os.getloadavg(),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "clients": CLIENTS,
        "slow_source": SLOW,
        "flapping_source": FLAPPING,
    }
    print(f"Min Plan benchmark ({'quick' if args.quick else 'full'}), logs in {bench.tmp}")
    try:
        res = bench.run()
    finally:
        bench.close()
    meta["seconds"] = round(time.monotonic() - started, 1)
    res = {"meta": meta, **res}
    res["goals"] = evaluate_goals(res)
    print()
    print(render(res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nwrote {args.out} ({meta['seconds']} s)")
    return 0
