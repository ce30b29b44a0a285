"""Shared core types, importing nothing of ours: errors, records, codes, CPR handling, metrics.

Import from its modules (``core.errors``, ``core.records``); the package itself imports
nothing, so each stays cheap to import from every layer above.
"""

__all__: list[str] = []
