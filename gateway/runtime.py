"""Process tuning for the server, applied by whoever owns the process (``minplan serve``)."""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_gc"]

#: Allocations (less deallocations) of tracked objects between young collections.
YOUNG_THRESHOLD = 5000


def tune_gc() -> None:
    """Leave the start-up heap out of every garbage collection, and collect young objects
    less often.

    Imports, the schema and the settings live as long as the process; ``gc.freeze()``
    moves them to the permanent generation, so collections walk only what requests made.
    A request's objects are freed by reference counting (the executor holds no cycle, see
    ``schema.execution``), so a young collection finds next to no garbage: at Python's
    default of 700 it ran about once per plan, inside the request, for nothing. At
    :data:`YOUNG_THRESHOLD` it runs a few times less often; the older generations keep
    Python's defaults. ``bench/RESULTS.md`` has the latency and tail figures.
    """
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
