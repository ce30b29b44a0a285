"""DataLoaders for the sources: one batch per search and loop turn, across requests.

:class:`BatchLoaders` lives as long as the app: one strawberry ``DataLoader`` per search
(source and resource type), without a cache. Every ``plan`` resolved in the same turn of
the event loop, in one request (aliases) or in many concurrent ones, loads through it, so
their CPRs go to the source as *one* search (the contract's
``patient:identifier=A,B,...``) instead of one search each. Under load this is what keeps
upstream calls, and the gateway's CPU per plan, down: the busier the gateway, the more
plans share a search. A single plan pays nothing for it (its batch is dispatched on the
next loop turn, as a request-scoped loader's would be).

Sharing a batch shares only what the sources said; records are split by patient before
anything else sees them, and consent filtering runs per request afterwards
(:mod:`plans.reader`). Nothing filtered for a viewer is ever shared.

:class:`RequestLoaders` is per request: it remembers what this request asked for, so the
same plan twice in one query waits on the same future.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import Future
from collections.abc import Awaitable, Callable, Sequence

from strawberry.dataloader import DataLoader

from connectors import SearchKey
from core.tracebacks import format_traceback
from upstream.pipeline import SourcePipeline, SourceResult

__all__ = ["BatchLoaders", "RequestLoaders"]

log = logging.getLogger(__name__)

_LoadFn = Callable[[list[str]], Awaitable[Sequence[SourceResult]]]


class BatchLoaders:
    """The app's batching loaders; ``max_batch_size`` caps the patients of one search."""

    def __init__(self, pipeline: SourcePipeline, *, max_batch_size: int = 10) -> None:
        self._pipeline = pipeline
        self._max_batch_size = max_batch_size
        self._loaders: dict[SearchKey, DataLoader[str, SourceResult]] = {
            key: self._new_loader(key) for key in pipeline.search_keys
        }

    def _new_loader(self, key: SearchKey) -> DataLoader[str, SourceResult]:
        return DataLoader(
            load_fn=self._load_fn(key), max_batch_size=self._max_batch_size, cache=False
        )

    def _load_fn(self, key: SearchKey) -> _LoadFn:
        async def load(cprs: list[str]) -> Sequence[SourceResult]:
            try:
                return await self._pipeline.fetch(key, cprs)
            except Exception as exc:
                # fetch answers failures as results; an exception is a bug. It must not
                # reach the other requests of the batch as theirs: each gets a failed
                # source (SOURCE_UNAVAILABLE), and the bug is logged once, here.
                log.error(
                    "source %s %s: unexpected error in a shared search: %s",
                    *key, format_traceback(exc),
                )  # fmt: skip
                return [SourceResult((), ok=False, error="internal error")] * len(cprs)

        return load

    def load(self, key: SearchKey, cpr: str) -> Awaitable[SourceResult]:
        loader = self._loaders.get(key)
        if loader is None:  # an on-demand search (a connector's on_demand type), made lazily
            loader = self._loaders[key] = self._new_loader(key)
        future = loader.load(cpr)
        assert isinstance(future, Future)  # DataLoader.load returns its batch's future
        # Shielded: a request cancelled while waiting (a client gone, a sibling field
        # failing) must not cancel the batch's future, or strawberry cancels the shared
        # search for the other requests in it.
        return asyncio.shield(future)


class RequestLoaders:
    """One request's view of the batching loaders: each search and patient asked once."""

    def __init__(self, batches: BatchLoaders) -> None:
        self._batches = batches
        self._asked: dict[tuple[SearchKey, str], Awaitable[SourceResult]] = {}

    def load(self, key: SearchKey, cpr: str) -> Awaitable[SourceResult]:
        future = self._asked.get((key, cpr))
        if future is None:
            future = self._asked[(key, cpr)] = self._batches.load(key, cpr)
        return future
