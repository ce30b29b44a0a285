"""Logging set-up: logs are structural, so no request value (a CPR above all) reaches them.

- The request log (``uvicorn.access``) holds the client address, method, path without
  its query string, and status: :class:`RequestLogFilter` rewrites uvicorn's arguments.
- Tracebacks hold exception types and code places (file, line, function), never the
  exception's message, which may quote a request's value: :func:`format_traceback`,
  used by :class:`StructuralFormatter` and :class:`CprMaskingFilter`.
- Our own log calls name pseudonyms, sources, types and request ids, never values.

:class:`CprMaskingFilter` stays on the handler as a second net, for what others log.
"""

from __future__ import annotations

import logging
import re

from core.cpr import mask_cpr
from core.tracebacks import describe_exception, format_traceback

__all__ = [
    "CprMaskingFilter",
    "DemoSourcesQuiet",
    "RequestLogFilter",
    "StructuralFormatter",
    "configure_logging",
    "describe_exception",
    "format_traceback",
]

_METHOD = re.compile(r"[A-Z]{1,16}")


class StructuralFormatter(logging.Formatter):
    """Formats tracebacks with :func:`format_traceback`: whoever logs, no message in them."""

    def formatException(self, ei: object) -> str:
        exc = ei[1] if isinstance(ei, tuple) and len(ei) == 3 else None
        if not isinstance(exc, BaseException):
            return ""
        return format_traceback(exc)


class CprMaskingFilter(logging.Filter):
    """Second net: masks CPR-like numbers in a record, and drops its exception's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_cpr(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, structurally, so no handler prints its message.
            record.exc_text = format_traceback(record.exc_info[1])
            record.exc_info = None
        if record.exc_text:
            # Masked whoever formatted it first (another handler may have, before us).
            record.exc_text = mask_cpr(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_cpr(record.stack_info)
        return True


class RequestLogFilter(logging.Filter):
    """uvicorn's request log without anything a client wrote but the method and route.

    uvicorn logs ``(client_addr, method, path?query, http_version, status)``. The query
    string (a GET query's document and variables) is cut off; digits in the path are
    replaced by ``#`` (no route of ours has one, and an id in a path is a value); a
    method that is not a plain word is replaced by ``?``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            path = str(path).split("?", 1)[0]
            method = str(method) if _METHOD.fullmatch(str(method)) else "?"
            record.args = (client, method, re.sub(r"[0-9]", "#", path), version, status)
        return True


class DemoSourcesQuiet(logging.Filter):
    """Drops uvicorn's access-log lines for the embedded demo's own sources.

    In demo mode every plan makes eight searches to ``/demo/fhir/`` on the same server;
    logged, they would bury the requests a developer made.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(a, str) and a.startswith("/demo/fhir/") for a in args)


def configure_logging(level: str = "INFO", *, request_log: bool = True) -> None:
    """One stderr handler on the root logger, structural and masking; uvicorn propagates.

    ``request_log=False`` silences uvicorn's request log (``minplan serve --no-access-log``).
    """
    handler = logging.StreamHandler()
    handler.setFormatter(StructuralFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(CprMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    # At DEBUG it writes each query's parameters: an emergency reason is the user's own text.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.propagate = request_log  # uvicorn logs requests only when the logger has handlers
    for kind in (DemoSourcesQuiet, RequestLogFilter):
        if not any(isinstance(f, kind) for f in access.filters):
            access.addFilter(kind())
