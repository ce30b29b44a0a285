"""Request-scoped DataLoaders: each search is made at most once per request.

One loader per search (source and resource type). Every ``plan`` field in a query, aliases
included, loads through them, so two plans in one query share one search per source
(their CPRs batched into one request) and the same plan asked twice costs nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial

from strawberry.dataloader import DataLoader

from connectors import SearchKey
from gateway.sources import SourceRegistry, SourceResult

__all__ = ["SourceLoaders"]


class SourceLoaders:
    def __init__(self, registry: SourceRegistry, *, max_batch_size: int = 50) -> None:
        self._registry = registry
        self._max_batch_size = max_batch_size
        self._loaders: dict[SearchKey, DataLoader[str, SourceResult]] = {}

    def load(self, key: SearchKey, cpr: str) -> Awaitable[SourceResult]:
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = DataLoader(
                load_fn=partial(self._registry.fetch, key),
                max_batch_size=self._max_batch_size,
            )
        return loader.load(cpr)
