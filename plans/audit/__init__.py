"""The access log ("who has seen my data"): every read by a clinician or a proxy.

Open the backend named by ``MINPLAN_AUDIT_URL`` with :func:`open_access_log`, ``start``
it in the app's lifespan (which also migrates an older log in place), ``record`` each
read before its answer leaves (``record_many`` a work-list page's entries, all or none; an
:class:`~core.errors.AuditWriteError` means the read must fail), and read a
patient's entries back newest first with ``entries`` (the newest) or ``page`` (all, in
pages).
"""

from __future__ import annotations

import re

from core.errors import ConfigError
from plans.audit.base import (
    ACTOR_ROLES,
    DEFAULT_TABLE,
    AccessContext,
    AccessLog,
    AccessRecord,
    check_table_name,
    since_in_utc,
)
from plans.audit.paging import (
    MAX_PAGE_SIZE,
    AccessPage,
    PageKey,
    check_page_size,
    decode_cursor,
    encode_cursor,
)
from plans.audit.postgres import PostgresAccessLog
from plans.audit.sqlite import SqliteAccessLog

__all__ = [
    "ACTOR_ROLES",
    "DEFAULT_TABLE",
    "MAX_PAGE_SIZE",
    "AccessContext",
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

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")

_SQLITE_PREFIX = "sqlite:///"

_POSTGRES_PREFIXES = ("postgresql://", "postgres://")

_ACCEPTED = "sqlite:///path, sqlite:///:memory:, postgresql://… or postgres://…"


def open_access_log(url: str, *, table: str = DEFAULT_TABLE) -> AccessLog:
    """Make the access log backend named by ``url`` (not yet started).

    Args:
        url: ``MINPLAN_AUDIT_URL``: ``sqlite:///relative/path.sqlite3``,
            ``sqlite:////absolute/path``, ``sqlite:///:memory:``, ``postgresql://…``
            or ``postgres://…``.
        table: Table name; tests pass their own to stay apart.

    Raises:
        ConfigError: Unknown scheme, empty SQLite path, or an unsafe table name.

    >>> type(open_access_log("sqlite:///:memory:")).__name__
    'SqliteAccessLog'
    """
    check_table_name(table)
    if url.startswith(_SQLITE_PREFIX):
        path = url.removeprefix(_SQLITE_PREFIX)
        if not path:
            raise ConfigError(f"MINPLAN_AUDIT_URL names no SQLite file; use {_ACCEPTED}")
        return SqliteAccessLog(path, table=table)
    if url.startswith(_POSTGRES_PREFIXES):
        return PostgresAccessLog(url, table=table)
    # Never echo the URL: it may carry a password. The scheme alone is safe.
    scheme = _SCHEME.match(url)
    given = f" (scheme {scheme.group(1)!r})" if scheme else ""
    raise ConfigError(f"MINPLAN_AUDIT_URL is not an accepted URL{given}; use {_ACCEPTED}")
