"""The benchmark's processes: start on loopback, wait until healthy, measure, stop for sure.

Every process starts in its own session (process group), so :meth:`Proc.stop` ends it and
the workers it forked, and nothing else. CPU and memory come from ``/proc`` (Linux).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["Proc", "free_port", "get_json"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET a loopback URL and decode its JSON answer."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the benchmark only talks to 127.0.0.1, not {url}")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


class Proc:
    """One started process (and the processes it forks)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 (our own argv)
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def tree(self) -> list[int]:
        """This process and its descendants, e.g. uvicorn's workers."""
        children, found, todo = _children(), [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        return found

    def cpu_by_pid(self) -> dict[int, float]:
        """User plus system CPU seconds so far, of each process of the tree."""
        found = {}
        for pid in self.tree():
            fields = _stat(pid)
            if fields is not None:
                found[pid] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        return found

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds of the whole tree, so far."""
        return sum(self.cpu_by_pid().values())

    def rss_mb(self) -> float:
        """Resident memory of the whole tree, MiB."""
        pages = 0
        for pid in self.tree():
            with contextlib.suppress(OSError, IndexError, ValueError):
                pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        return round(pages * _PAGE / 2**20, 1)

    def wait_healthy(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}): {self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                if get_json(url, timeout=1.0).get("status") == "ok":
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy at {url} after {timeout} s: {self.tail()}")

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the process group, SIGKILL if it lingers."""
        members = self.tree()
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout)
        for pid in members[1:]:  # a worker that outlived its parent, still in our group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == self.pid:
                    os.kill(pid, signal.SIGKILL)
        self._log.close()
