"""Helpers for tests that need real services (PostgreSQL, Redis).

Locally a missing service skips its tests; in CI (``CI`` set and truthy) it fails them,
so a broken service setup cannot pass as green.

Example:
    >>> async def test_something() -> None:  # doctest: +SKIP
    ...     url = postgres_url()
    ...     require_service("postgres", *await postgres_reachable(url))
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

import asyncpg
import pytest

__all__ = [
    "postgres_reachable",
    "postgres_url",
    "redis_reachable",
    "redis_url",
    "require_service",
]

PROBE_TIMEOUT = 1.0

_FALSY = frozenset({"", "0", "false", "no", "off"})


def postgres_url() -> str:
    """``$MINPLAN_TEST_POSTGRES_URL``, or the local server's ``test`` database."""
    return (
        os.environ.get("MINPLAN_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    )


def redis_url() -> str:
    """``$MINPLAN_TEST_REDIS_URL``, or database 15 of the local server."""
    return os.environ.get("MINPLAN_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in _FALSY


def require_service(name: str, reachable: bool, detail: str) -> None:
    """Skip the test (locally) or fail it (in CI) when a service is not reachable.

    Args:
        name: The service, e.g. ``"postgres"``.
        reachable: The probe's verdict.
        detail: The probe's detail; the probes here start it with ``host:port``.
    """
    if reachable:
        return
    message = f"{name} not reachable at {detail}"
    if _in_ci():
        pytest.fail(f"{message} (CI set: services are required)", pytrace=False)
    pytest.skip(message)


def _address(url: str, default_port: int) -> tuple[str, int]:
    # Host and port only: the URL may carry a password, which must not reach a report.
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


async def postgres_reachable(url: str) -> tuple[bool, str]:
    """Connect (TCP, handshake, auth) within a second; then disconnect.

    Returns:
        ``(True, "host:port")`` or ``(False, "host:port: why")``.
    """
    host, port = _address(url, 5432)
    where = f"{host}:{port}"
    try:
        conn = await asyncio.wait_for(
            asyncpg.connect(url, timeout=PROBE_TIMEOUT), PROBE_TIMEOUT + 0.5
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return False, f"{where}: {type(exc).__name__}: {exc}"
    await conn.close()
    return True, where


async def redis_reachable(url: str) -> tuple[bool, str]:
    """Open a TCP connection, send ``PING``, expect ``+PONG``, within a second.

    Returns:
        ``(True, "host:port")`` or ``(False, "host:port: why")``.
    """
    host, port = _address(url, 6379)
    where = f"{host}:{port}"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(b"PING\r\n")
                await writer.drain()
                reply = await reader.readline()
            finally:
                writer.close()
                await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return False, f"{where}: {type(exc).__name__}: {exc}"
    if reply.strip() != b"+PONG":
        return False, f"{where}: answered {reply.strip()[:60]!r} to PING, not +PONG"
    return True, where
