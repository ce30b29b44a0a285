"""The access log ("who has seen my data"): every plan read by a clinician or a proxy.

Open the backend named by ``MINPLAN_AUDIT_URL`` with :func:`open_access_log`, ``start``
it in the app's lifespan, ``record`` each read before its answer leaves (an
:class:`~gateway.errors.AuditWriteError` means the read must fail), and read a
patient's entries back newest first with ``entries``.
"""

from __future__ import annotations

from gateway.audit.base import (
    ACTOR_ROLES,
    DEFAULT_TABLE,
    AccessLog,
    AccessRecord,
    open_access_log,
)
from gateway.audit.postgres import PostgresAccessLog
from gateway.audit.sqlite import SqliteAccessLog

__all__ = [
    "ACTOR_ROLES",
    "DEFAULT_TABLE",
    "AccessLog",
    "AccessRecord",
    "PostgresAccessLog",
    "SqliteAccessLog",
    "open_access_log",
]
