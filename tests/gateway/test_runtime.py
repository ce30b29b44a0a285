"""The server process's garbage collector: the start-up heap frozen, young collections rarer."""

from __future__ import annotations

import subprocess
import sys


def test_tune_gc_freezes_the_heap_and_raises_only_the_young_threshold() -> None:
    code = (
        "import gc; before = gc.get_threshold(); "
        "from gateway.runtime import YOUNG_THRESHOLD, tune_gc; tune_gc(); "
        "after = gc.get_threshold(); "
        "assert after == (YOUNG_THRESHOLD, *before[1:]), (before, after); "
        "assert YOUNG_THRESHOLD > before[0]; "
        "assert gc.get_freeze_count() > 0"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 (our own code)
