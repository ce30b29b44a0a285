"""Process tuning for the server, applied by whoever owns the process (``minplan serve``)."""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc() -> None:
    """Fewer, larger young-generation collections, and the start-up heap left out of them.

    A plan request allocates thousands of short-lived objects (GraphQL execution, records),
    so the default threshold of 700 ran a collection every couple of plans. Measured on
    the project's 2-core machine (1,000 cached plans in-process): CPU per plan 2.18 ms with
    7.8% in the collector before, 1.84 ms with 4.2% after.
    """
    gc.freeze()  # imports, schema, settings: live for the whole process, never garbage
    gc.set_threshold(10_000, 10, 10)
