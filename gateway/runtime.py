"""Process tuning for the server, applied by whoever owns the process (``minplan serve``)."""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc() -> None:
    """Leave the start-up heap out of every garbage collection.

    Imports, the schema and the settings live as long as the process; ``gc.freeze()``
    moves them to the permanent generation, so collections walk only what requests made.
    The thresholds stay at Python's defaults: a larger first generation (10,000) saved
    CPU in-process (2.18 → 1.84 ms per cached plan) but made each pause longer, and under
    32 clients p99 went from 392 to 586 ms at the same throughput (bench, 2-core machine).
    """
    gc.freeze()
