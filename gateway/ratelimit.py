"""A rate limit per caller (contract §4, ``MINPLAN_RATE_LIMIT``), with the ``limits`` library.

The window is a moving one: at most N requests in any span of the period, so no burst at
a window's edge doubles the limit. With ``MINPLAN_CACHE_URL`` a ``redis://`` URL, every
worker and replica counts in the same Redis (a Lua script per request, the library's);
otherwise each process counts its own, in memory.

The caller is the token's subject; else the citizen's CPR, else the clinician's
organisation. Whichever it is, the key holds only a keyed pseudonym of it (HMAC with
``MINPLAN_PSEUDONYM_KEY``): no CPR, nor anything an IdP put in ``sub``, reaches Redis.

The check runs after the token is verified (an unverified caller gets 401 and costs no
count) and before anything is parsed or executed, so a refused request calls no source.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import JSONResponse, Response

from core.cpr import pseudonymise_cpr
from plans.viewer import Viewer

from .tracing import note_outcome

__all__ = ["RateLimiter", "parse_rate_limit", "rate_limited_response"]

log = logging.getLogger(__name__)

#: Seconds one Redis round trip may take before the local count answers instead.
REDIS_TIMEOUT = 0.25
#: After Redis failed, seconds the local count answers before Redis is asked again: a
#: Redis that hangs must not add its timeout to every request.
REDIS_RETRY_AFTER = 5.0
_NAMESPACE = "minplan"


def parse_rate_limit(value: str) -> list[RateLimitItem]:
    """``120/minute``, or several at once: ``10/second; 600/hour``.

    Raises:
        ValueError: not in the ``limits`` notation.
    """
    items = parse_many(value)
    if not items:
        raise ValueError("no limit in it")
    return items


class RateLimiter:
    """Counts each caller's requests; :meth:`retry_after` says whether one is over.

    Redis down (or slower than :data:`REDIS_TIMEOUT`): the limit fails *open to each
    process*: it counts in memory, per process, until Redis answers again, with a warning.
    Refusing every request would lock patients and clinicians out of their plans over an
    outage of a protection against abuse; counting locally still stops one caller's flood
    (at the limit times the number of processes, at worst).

    Args:
        limits: what a caller may do; none: no limit (the default).
        redis_url: a ``redis://`` URL (``MINPLAN_CACHE_URL``), or None for memory.
        pseudonym_key: the key of the callers' pseudonyms.
        key_prefix: the prefix of every Redis key (tests keep theirs apart).
    """

    def __init__(
        self,
        limits: Sequence[RateLimitItem] = (),
        *,
        redis_url: str | None = None,
        pseudonym_key: bytes = b"",
        key_prefix: str = "minplan-rate",
    ) -> None:
        self.limits = tuple(limits)
        self._key = pseudonym_key
        # In memory, the synchronous strategy: its counting is plain CPU; the async one's
        # memory store hops to a thread for every caller's key as it expires them.
        self._local = MovingWindowRateLimiter(MemoryStorage()) if self.limits else None
        self._shared: AsyncMovingWindow | None = None
        self._redis: RedisStorage | None = None
        self._redis_down_until = 0.0
        if self.limits and redis_url is not None:
            self._redis = RedisStorage(
                f"async+{redis_url}",
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=key_prefix,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
            self._shared = AsyncMovingWindow(self._redis)

    @property
    def enabled(self) -> bool:
        return bool(self.limits)

    @property
    def shared(self) -> bool:
        """True when the count is Redis's, shared by every process."""
        return self._shared is not None

    def caller(self, viewer: Viewer) -> str:
        """The caller's key: a pseudonym of the subject, else of the CPR, else of the org."""
        if viewer.subject:
            who = f"sub:{viewer.subject}"
        elif viewer.cpr:
            who = f"cpr:{viewer.cpr}"
        else:
            who = f"org:{viewer.org or ''}"
        return pseudonymise_cpr(who, self._key)

    async def refusal(self, viewer: Viewer) -> Response | None:
        """Count one request of ``viewer``: None within the limit, else the 429 to answer."""
        wait = await self.retry_after(viewer)
        if wait is None:
            return None
        note_outcome("rate_limited")
        return rate_limited_response(wait, self.describe())

    async def retry_after(self, viewer: Viewer) -> int | None:
        """Count one request of ``viewer``: None when it is within the limit, else the whole
        seconds until it would be (at least 1)."""
        if not self.limits:
            return None
        caller = self.caller(viewer)
        if self._shared is not None and time.monotonic() >= self._redis_down_until:
            try:
                async with asyncio.timeout(REDIS_TIMEOUT * 2):
                    return await self._shared_check(self._shared, caller)
            except (StorageError, TimeoutError) as exc:
                self._redis_failed(exc)
        return self._local_check(caller)

    async def _shared_check(self, limiter: AsyncMovingWindow, caller: str) -> int | None:
        waits = []
        for item in self.limits:
            if not await limiter.hit(item, _NAMESPACE, caller):
                stats = await limiter.get_window_stats(item, _NAMESPACE, caller)
                waits.append(stats.reset_time)
        if self._redis_down_until:
            self._redis_down_until = 0.0
            log.warning("rate limit: Redis answers again; the limit is shared again")
        return _seconds_until(max(waits)) if waits else None

    def _local_check(self, caller: str) -> int | None:
        local = self._local
        assert local is not None  # made whenever there are limits
        waits = []
        for item in self.limits:
            if not local.hit(item, _NAMESPACE, caller):
                waits.append(local.get_window_stats(item, _NAMESPACE, caller).reset_time)
        return _seconds_until(max(waits)) if waits else None

    def _redis_failed(self, exc: BaseException) -> None:
        if not self._redis_down_until:
            cause = exc.storage_error if isinstance(exc, StorageError) else exc
            log.warning(
                "rate limit: Redis failed (%s): each process counts on its own until it "
                "answers again",
                type(cause).__name__,
            )
        self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER

    def describe(self) -> str:
        """The limits as the README writes them: ``5 per 1 minute``."""
        return "; ".join(str(item) for item in self.limits)

    async def aclose(self) -> None:
        if self._redis is not None:
            client = getattr(self._redis.bridge, "storage", None)
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()


def _seconds_until(at: float) -> int:
    return max(1, math.ceil(at - time.time()))


def rate_limited_response(retry_after: int, limits: str) -> Response:
    """HTTP 429, ``Retry-After`` and a GraphQL-shaped body with the code ``RATE_LIMITED``."""
    body = {
        "errors": [
            {
                "message": (
                    f"Too many requests: the limit is {limits} per caller. "
                    f"Try again in {retry_after} s."
                ),
                "extensions": {"code": "RATE_LIMITED", "retryAfter": retry_after},
            }
        ]
    }
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(retry_after)})
