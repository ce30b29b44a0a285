"""The access log ("who has seen my data"): every plan read by a clinician or a proxy.

Open the backend named by ``MINPLAN_AUDIT_URL`` with :func:`open_access_log`, ``start``
it in the app's lifespan, ``record`` each read before its answer leaves (an
:class:`~gateway.errors.AuditWriteError` means the read must fail), and read a
patient's entries back newest first with ``entries`` (the newest) or ``page`` (all, in
pages).
"""

from __future__ import annotations

from gateway.audit.base import (
    ACTOR_ROLES,
    DEFAULT_TABLE,
    AccessLog,
    AccessRecord,
    open_access_log,
    since_in_utc,
)
from gateway.audit.paging import (
    MAX_PAGE_SIZE,
    AccessPage,
    PageKey,
    check_page_size,
    decode_cursor,
    encode_cursor,
)
from gateway.audit.postgres import PostgresAccessLog
from gateway.audit.sqlite import SqliteAccessLog

__all__ = [
    "ACTOR_ROLES",
    "DEFAULT_TABLE",
    "MAX_PAGE_SIZE",
    "AccessLog",
    "AccessPage",
    "AccessRecord",
    "PageKey",
    "PostgresAccessLog",
    "SqliteAccessLog",
    "check_page_size",
    "decode_cursor",
    "encode_cursor",
    "open_access_log",
    "since_in_utc",
]
