"""Logging set-up: every record passes a filter that masks CPR numbers, whoever logged it.

The code never logs a CPR on purpose (it logs pseudonyms); this filter is the second line,
for what others log: uvicorn's access log prints query strings, and a GET request's query
string may hold ``plan(cpr: "…")``.
"""

from __future__ import annotations

import logging

from .privacy import mask_cpr

__all__ = ["CprMaskingFilter", "configure_logging"]


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
