"""The benchmark's harness: start and stop its processes, run a load, read the sources' counts.

Scenario ids and their meaning are in ``bench/run.py``; each :meth:`Harness.load` adds one
row (the load generator's summary, plus CPU per plan of the target and of the sources).

Every process runs from a snapshot of the code taken when the harness is made (copied to
its temp dir, first on ``PYTHONPATH`` and the working directory), so that edits landing in
the working tree during a run cannot mix two gateway versions into one table. A gateway
can be started from another copy (``code=``), e.g. an older commit's (``bench/ab.py``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.gcprobe import read_stats
from bench.procs import Proc, free_port, get_json
from bench.synthetic import SOURCE_NAMES, cpr_for, searches_for

__all__ = ["IGNORE", "PACKAGES", "PY", "ROOT", "Harness", "code_hash", "code_packages"]

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def code_packages(root: Path) -> tuple[str, ...]:
    """The gateway's top-level packages in ``root`` (every one but ``bench`` and ``tests``).

    Read from the tree, not listed: a restructure that adds a package (``core``, ``plans``)
    must not leave it out of the snapshot, where it would be imported from the work tree.
    """
    found = (p.name for p in root.iterdir() if (p / "__init__.py").is_file())
    return tuple(sorted(name for name in found if name not in ("bench", "tests")))


#: What the snapshot copies; all but ``bench`` make up the gateway's code version.
PACKAGES = (*code_packages(ROOT), "bench")
#: Left out of every copy.
IGNORE = shutil.ignore_patterns("__pycache__", "results", "*.pyc")


class Harness:
    """The processes of one run, and how to measure them; every process is stopped in close."""

    def __init__(self, durations: dict[str, float]) -> None:
        self.d = durations
        self.tmp = Path(tempfile.mkdtemp(prefix="minplan-bench-"))
        self.procs: list[Proc] = []
        self.patient = 0
        self.gc_files: dict[int, Path] = {}
        self.res: dict[str, Any] = {"scenarios": [], "searches": {}, "slowest_source_ms": {}}
        self.code = self.tmp / "code"
        for package in PACKAGES:
            shutil.copytree(ROOT / package, self.code / package, ignore=IGNORE)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
        self.env["PYTHONPATH"] = str(self.code)
        self.code_version = _code_version(self.code)

    # processes ---------------------------------------------------------------------------
    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        cwd: Path | None = None,
    ) -> Proc:
        proc = Proc(name, argv, log_dir=self.tmp, env=env or self.env, cwd=cwd or self.code)
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

    def start_gateway(
        self,
        transport: str,
        workers: int,
        ttl: float,
        *,
        extra_env: dict[str, str] | None = None,
        command: list[str] | None = None,
        code: Path | None = None,
        tag: str = "",
    ) -> tuple[Proc, str]:
        """``minplan serve`` on the synthetic sources; one worker runs under bench.gcprobe.

        ``command`` replaces what comes before ``serve`` (experiments); ``extra_env`` adds
        or overrides ``MINPLAN_*`` settings. ``code`` runs the gateway from another copy
        (first on ``PYTHONPATH`` and its working directory, which ``python -m`` puts first
        on ``sys.path``; it needs its own ``bench``); ``tag`` names its log and access log.
        """
        env, audit = dict(self.env), f"audit{tag}-{transport}-{workers}.sqlite3"
        if code is not None:
            env["PYTHONPATH"] = str(code)
        port, name = free_port(), f"gateway{tag}-{transport}-{workers}w-ttl{ttl:g}"
        env |= {f"MINPLAN_SOURCE_{n.upper()}_URL": f"{self.src_url}/{n}" for n in SOURCE_NAMES}
        env |= {
            "MINPLAN_AUTH_ISSUER": "urn:minplan:dev-issuer",
            "MINPLAN_AUTH_JWKS_URL": (self.tmp / "jwks.json").as_uri(),
            "MINPLAN_AUDIT_URL": f"sqlite:///{self.tmp / audit}",
            "MINPLAN_CACHE_URL": "memory://",
            "MINPLAN_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789abcdef",
            "MINPLAN_CACHE_TTL": str(ttl),
            "MINPLAN_HTTP_TRANSPORT": transport,
            "MINPLAN_PLAYGROUND": "false",
            **(extra_env or {}),
        }
        gc_file = self.tmp / f"{name}.gc.json"
        if command is None:
            probe = [PY, "-m", "bench.gcprobe", str(gc_file)]
            command = probe if workers == 1 else [str(Path(PY).with_name("minplan"))]
        argv = [*command, "serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", str(workers), "--no-request-log"]
        proc = self.start(name, argv, env, cwd=code)
        self.gc_files[proc.pid] = gc_file
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
        shape: str = "full",
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
            # a smaller query than the whole plan runs faster than bare strawberry's plan
            factor = 1.5 if shape == "full" else 4.0
            rate = factor * self.res.get("bare_rps", 3000) if signed else 1e6
            max_requests = int(rate * (seconds + warmup)) + 50
        argv = [PY, "-m", "bench.load", "--url", url, "--mode", mode, "--auth", auth]
        argv += ["--shape", shape]
        argv += ["--key", str(self.key), "--clients", str(clients), "--duration", str(seconds)]
        argv += ["--warmup", str(warmup), "--max-requests", str(max_requests)]
        argv += ["--first", str(self.patient)] + (["--fixed-cpr", fixed] if fixed else [])
        argv += ["--allow-failures"] if allow_failures else []
        argv += [] if keepalive else ["--no-keepalive"]
        self.patient += max_requests
        gc_file = self.gc_files.get(target.pid)
        gc_before = read_stats(gc_file) if gc_file else None
        cpu = (target.cpu_by_pid(), self.sources.cpu_seconds())
        searches_before = self.stats(reset=False)["total"]
        samples = [self._sample(target, gc_file)]
        proc = subprocess.Popen(  # noqa: S603 (our own argv)
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env, cwd=self.code
        )
        deadline = time.monotonic() + seconds + warmup + max_requests / 10_000 + 120
        sample_at = time.monotonic() + watch
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            if watch and time.monotonic() >= sample_at:
                samples.append(self._sample(target, gc_file))
                sample_at += watch
        if proc.poll() is None:
            proc.kill()
            raise RuntimeError(f"load for {sid} did not finish in time")
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"load for {sid} failed: {err.decode()[-2000:]}")
        row: dict[str, Any] = {"id": sid, "label": label, "clients": clients, "info": info,
                               "shape": shape, "auth": auth}  # fmt: skip
        row |= json.loads(out)
        warm = row.pop("warmup_requests", 0)
        plans = max(1, row["requests"] + warm)
        used = {p: s - cpu[0].get(p, 0.0) for p, s in target.cpu_by_pid().items()}
        row["gw_cpu_ms"] = round(sum(used.values()) * 1000 / plans, 2)
        row["cpu_s_by_process"] = [round(s, 2) for s in used.values()]
        row["src_cpu_ms"] = round((self.sources.cpu_seconds() - cpu[1]) * 1000 / plans, 2)
        row["capped"] = row["requests"] + warm >= max_requests
        if mode == "graphql" and auth != "none":  # the gateway's searches (bare makes none)
            searches = self.stats(reset=False)["total"] - searches_before
            row["searches_per_plan"] = round(searches / plans, 2)
        if watch:
            row["samples"] = [*samples, self._sample(target, gc_file)]
        if gc_file is not None and gc_before is not None:
            time.sleep(0.3)  # the probe writes every 0.25 s
            gc_after = read_stats(gc_file) or gc_before
            spent = [a - b for a, b in zip(gc_after["seconds"], gc_before["seconds"], strict=True)]
            runs = [
                a - b
                for a, b in zip(gc_after["collections"], gc_before["collections"], strict=True)
            ]
            row["gc_ms"] = round(sum(spent) * 1000 / plans, 2)
            row["gc"] = {"collections": runs, "seconds": [round(x, 3) for x in spent]}
        self.res["scenarios"].append(row)
        print(
            f"  {sid:<28} {row['rps']:>8}/s p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms "
            f"5xx {row['http_5xx']} wrong {row['wrong']}",
            flush=True,
        )
        return row

    @staticmethod
    def _sample(target: Proc, gc_file: Path | None) -> dict[str, float]:
        """Now: the target's memory, CPU seconds and (under gcprobe) GC seconds so far."""
        stats = read_stats(gc_file) if gc_file else None
        gc_s = sum(stats["seconds"]) if stats else 0.0
        return {"t": time.monotonic(), "rss_mb": target.rss_mb(), "cpu_s": target.cpu_seconds(),
                "gc_s": gc_s}  # fmt: skip

    def count_searches(
        self,
        name: str,
        url: str,
        *,
        fixed: str | None = None,
        n: int = 20,
        shape: str = "full",
        auth: str = "citizen",
    ) -> None:
        """Upstream searches per plan of ``shape`` read by ``auth``, ``n`` plans one at a time.

        Kept in ``res["searches"][name]`` with the searches that read should make
        (bench/synthetic.py ``searches_for``): one each per plan cold, none warm.
        """
        if fixed:  # warm: one read fills the cache, then count
            self.run_quiet(url, fixed, 1, shape=shape, auth=auth)
        self.stats(reset=True)
        self.run_quiet(url, fixed, n, shape=shape, auth=auth)
        stats = self.stats(reset=True)
        per_plan = round(stats["total"] / n, 2)
        wanted = searches_for(shape, patient=auth == "citizen")
        self.res["searches"][name] = {
            "plans": n, "per_plan": per_plan, "paths": stats["paths"], "shape": shape,
            "auth": auth, "expected": [f"/{s}/{k}" for s, k in wanted],
        }  # fmt: skip
        print(f"  d.{name:<26} {per_plan} upstream searches per plan", flush=True)

    def run_quiet(
        self, url: str, fixed: str | None, n: int, *, shape: str = "full", auth: str = "citizen"
    ) -> None:
        argv = [PY, "-m", "bench.load", "--url", url, "--key", str(self.key), "--warmup", "0"]
        argv += ["--duration", "60", "--max-requests", str(n), "--first", str(self.patient)]
        argv += ["--shape", shape, "--auth", auth]
        argv += ["--fixed-cpr", fixed] if fixed else []
        self.patient += n
        done = subprocess.run(  # noqa: S603 (our own argv)
            argv, check=True, capture_output=True, timeout=120, env=self.env, cwd=self.code
        )
        result = json.loads(done.stdout)
        if result["wrong"] or result["right"] != n:
            raise RuntimeError(f"counting {shape}/{auth}: {result['problems']}")

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


def code_hash(code: Path) -> str:
    """A content hash of a copy's gateway code (its ``.py`` files but ``bench``'s)."""
    digest = hashlib.sha256()
    for path in sorted(code.rglob("*.py")):
        if path.relative_to(code).parts[0] != "bench":
            digest.update(str(path.relative_to(code)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _code_version(code: Path) -> dict[str, Any]:
    """The snapshot's gateway code: a content hash, and the git commit it started from."""
    version: dict[str, Any] = {"sha256": code_hash(code)}
    try:  # read-only git queries; the run does not need them
        head = subprocess.run(  # noqa: S603
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(  # noqa: S603
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", *PACKAGES[:-1]],  # noqa: S607
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        version |= {"git_head": head, "uncommitted_changes": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        pass
    return version
