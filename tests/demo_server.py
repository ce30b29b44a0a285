"""``minplan serve`` in demo mode as a real process on a free loopback port, for tests.

Its dev key and access log live in the directory given; tokens come from ``minplan token``
with the same key, as a developer would get them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

MINPLAN = Path(sys.executable).with_name("minplan")
#: What :meth:`Server.plan` asks.
PLAN = """query($cpr: String) { plan(cpr: $cpr) {
  cpr packages { kind appointments { sourceId } } sources { name ok }
} }"""
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Server:
    url: str
    env: dict[str, str]

    def token(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [str(MINPLAN), "token", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.strip()

    def plan(self, token: str, cpr: str | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": PLAN, "variables": {"cpr": cpr}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        plan: dict[str, Any] = body["data"]["plan"]
        return plan


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"minplan serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"minplan serve not healthy after {START_TIMEOUT} s:\n{log.read_text()}")


@contextlib.contextmanager
def demo_server(home: Path, *serve_args: str) -> Iterator[Server]:
    """A running demo gateway; stopped (SIGTERM, then SIGKILL) when the block ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    env |= {
        "MINPLAN_DEV_KEY_FILE": str(home / "dev-signing-key.pem"),
        "MINPLAN_AUDIT_URL": f"sqlite:///{home / 'access-log.sqlite3'}",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [str(MINPLAN), "serve", "--host", "127.0.0.1", "--port", str(port), *serve_args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(url, process, log)
        yield Server(url=url, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
