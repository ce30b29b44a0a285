"""Process tuning for the server, applied by whoever owns the process (``minplan serve``)."""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc() -> None:
    """Leave the start-up heap out of every garbage collection.

    Imports, the schema and the settings live as long as the process; ``gc.freeze()``
    moves them to the permanent generation, so collections walk only what requests made.
    The thresholds stay at Python's defaults: a larger first generation saves CPU but makes
    each pause longer, which costs more in tail latency under load than it saves.
    """
    gc.freeze()
