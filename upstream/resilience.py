"""Resilience around one upstream search: a circuit breaker per source and bounded retries.

The breaker is purgatory's, the retries stamina's. Only fast, transient failures of an
idempotent GET are retried (a refused or reset connection, a gateway error); a timeout is
not, so a hanging source costs at most its timeout.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import stamina
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from core.errors import UpstreamCircuitOpen, UpstreamError, UpstreamHTTPError
from core.metrics import Metrics

__all__ = ["Resilience", "is_retryable"]

T = TypeVar("T")

_RETRY_STATUSES = frozenset({502, 503, 504})


def is_retryable(exc: Exception) -> bool:
    """A refused or reset connection, or a 502/503/504: worth one more try."""
    if isinstance(exc, UpstreamHTTPError):
        return exc.status_code in _RETRY_STATUSES
    return type(exc) is UpstreamError


class Resilience:
    """Runs a source's searches through its circuit breaker, with bounded retries.

    Args:
        metrics: the breaker gauge is set after each call.
        breaker_threshold: failures before a source's circuit opens (no calls while open).
        breaker_cooldown: seconds a circuit stays open before one trial call.
        retries: extra attempts for a retryable failure.
    """

    def __init__(
        self,
        *,
        metrics: Metrics,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 15.0,
        retries: int = 1,
    ) -> None:
        self.metrics = metrics
        self.retries = retries
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_cooldown
        )

    async def states(self, sources: Iterable[str]) -> dict[str, str]:
        """Each source's circuit: ``closed``, ``opened`` or ``half-opened``."""
        states: dict[str, str] = {}
        for name in sources:
            breaker = await self.breakers.get_breaker(name)
            states[name] = breaker.context.state
        return states

    async def call(
        self, source: str, attempt: Callable[[], Awaitable[T]], *, retry_within: float
    ) -> T:
        """``attempt()`` through ``source``'s breaker, retried on fast failures.

        Retries stop once ``retry_within`` seconds have passed since the first retry.

        Raises:
            UpstreamCircuitOpen: the circuit is open; ``attempt`` was not called.
            UpstreamError: the last attempt's failure.
        """
        breaker = await self.breakers.get_breaker(source)
        try:
            async with breaker:
                try:
                    return await attempt()
                except UpstreamError as exc:
                    # stamina only once the first try failed: entering it costs CPU per search.
                    if not (self.retries and is_retryable(exc)):
                        raise
                await asyncio.sleep(random.uniform(0.01, 0.05))  # noqa: S311  jitter, not crypto
                async for retry in stamina.retry_context(
                    on=is_retryable,
                    attempts=self.retries,
                    timeout=retry_within,
                    wait_initial=0.02,
                    wait_max=0.2,
                    wait_jitter=0.05,
                ):
                    with retry:
                        return await attempt()
        except OpenedState as exc:
            raise UpstreamCircuitOpen(source) from exc
        finally:
            self.metrics.child(self.metrics.breaker_state, source).set(
                1 if breaker.context.state == "opened" else 0
            )
        raise AssertionError("unreachable: stamina re-raises the last failure")
