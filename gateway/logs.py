"""Logging set-up: every record passes a filter that masks CPR numbers, whoever logged it.

The code never logs a CPR on purpose (it logs pseudonyms); this filter is the second line,
for what others log: uvicorn's access log prints query strings, and a GET request's query
string may hold ``plan(cpr: "…")``.
"""

from __future__ import annotations

import logging

from core.cpr import mask_cpr

__all__ = ["CprMaskingFilter", "DemoSourcesQuiet", "configure_logging"]


class CprMaskingFilter(logging.Filter):
    """Rewrites a record's message with CPR-like numbers masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_cpr(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None and record.exc_text is None:
            # Format the traceback now, masked, so the handler prints no CPR from it either.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Masked whoever formatted it first (another handler may have, before us).
            record.exc_text = mask_cpr(record.exc_text)
            record.exc_info = None
        return True


class DemoSourcesQuiet(logging.Filter):
    """Drops uvicorn's access-log lines for the embedded demo's own sources.

    In demo mode every plan makes eight searches to ``/demo/fhir/`` on the same server;
    logged, they would bury the requests a developer made.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(a, str) and a.startswith("/demo/fhir/") for a in args)


def configure_logging(level: str = "INFO") -> None:
    """One stderr handler on the root logger, with the masking filter; uvicorn propagates."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(CprMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").addFilter(DemoSourcesQuiet())
