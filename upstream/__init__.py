"""Fetching from the sources: per-request loaders, the cache, single flight, resilience.

Import from its modules (``upstream.pipeline.SourcePipeline``, ``upstream.loaders``);
the package itself imports nothing.
"""

__all__: list[str] = []
