"""Node projects the client tests run: ``npm ci`` once per lock file, and skip or fail."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

__all__ = ["INSTALL_TIMEOUT", "install_node_modules", "require_tool"]

INSTALL_TIMEOUT = 300
_FALSY = frozenset({"", "0", "false", "no", "off"})


def require_tool(available: bool, why: str) -> None:
    """Skip locally, fail in CI (as ``tests.services.require_service`` does for services)."""
    if available:
        return
    if os.environ.get("CI", "").strip().lower() not in _FALSY:
        pytest.fail(f"{why} (CI set: the client tests are required)", pytrace=False)
    pytest.skip(why)


def install_node_modules(npm: str, project: Path) -> None:
    """``npm ci`` in ``project`` when node_modules is missing or from another lock file."""
    stamp = project / "node_modules" / ".minplan-lock-sha256"
    lock = hashlib.sha256((project / "package-lock.json").read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == lock:
        return
    try:
        done = subprocess.run(  # noqa: S603
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        require_tool(False, f"npm ci did not finish within {INSTALL_TIMEOUT} s")
        return
    require_tool(done.returncode == 0, f"npm ci failed: {done.stderr.strip()[-2000:]}")
    stamp.write_text(lock)
