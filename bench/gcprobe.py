"""Run ``minplan`` with Python's garbage collector timed: how much of the gateway's CPU is GC?

``python -m bench.gcprobe STATS.json serve --port 8000 ...`` installs a ``gc.callbacks``
timer, then runs ``gateway.cli.main`` with the remaining arguments (what the ``minplan``
script runs). A thread rewrites ``STATS.json`` every 0.25 s: collections and seconds per
generation, and the objects each generation freed. The callbacks cost microseconds per
collection; nothing else changes. Only this process is timed: ``--workers 1``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["GcTimer", "read_stats"]


class GcTimer:
    """A ``gc.callbacks`` entry adding up collections and their duration per generation."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self.collections[generation] += 1
        self.seconds[generation] += time.perf_counter() - self._started

    def snapshot(self) -> dict[str, Any]:
        return {
            "collections": list(self.collections),
            "seconds": [round(s, 4) for s in self.seconds],
            "collected": [g["collected"] for g in gc.get_stats()],
        }


def read_stats(path: Path) -> dict[str, Any] | None:
    """The latest snapshot, or None when there is none (yet)."""
    try:
        stats: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return stats


def _write_forever(timer: GcTimer, path: Path) -> None:
    scratch = path.with_suffix(".tmp")
    while True:
        scratch.write_text(json.dumps(timer.snapshot()))
        os.replace(scratch, path)
        time.sleep(0.25)


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: python -m bench.gcprobe STATS.json serve [minplan options]")
    timer = GcTimer()
    gc.callbacks.append(timer)
    thread = threading.Thread(target=_write_forever, args=(timer, Path(sys.argv[1])), daemon=True)
    thread.start()
    from gateway.cli import main as minplan

    raise SystemExit(minplan(sys.argv[2:]))


if __name__ == "__main__":
    main()
