"""The shared source cache (aiocache): what each search returned, per patient, for everyone.

Only raw source results are cached, keyed by search and a keyed pseudonym of the CPR, never
anything filtered for a viewer: consent runs after the cache, on every request. Entries live
for the longest stale window; whether one is *fresh* (served instead of calling the source)
or only *stale* (served if the source fails) is decided by its age on read.

Backends: ``memory://`` (default, per process) and ``redis://host:port/db`` (shared by every
gateway instance). Both hold the same value: the records as JSON bytes without the patient's
CPR, validated on the way back in, so a cache entry can never become code the way a pickle
could. In memory that also keeps the cache out of the garbage collector's way: bytes are not
tracked, where cached record objects were (about 50,000 objects at 10,000 entries, a 50 ms
full collection every few hundred plans on the bench machine).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from aiocache import Cache, SimpleMemoryCache
from aiocache.serializers import BaseSerializer
from pydantic import TypeAdapter

from connectors import SearchKey
from core import records
from core.errors import ConfigError

__all__ = ["CacheEntry", "SourceCache"]

log = logging.getLogger(__name__)

_RECORD_TYPES: dict[str, type[records.Record]] = {
    cls.__name__: cls
    for cls in (
        records.DiagnosisRecord,
        records.AppointmentRecord,
        records.JournalNoteRecord,
        records.GoalRecord,
        records.TriageRecord,
        records.HealthLiteracyRecord,
        records.PreventionOfferRecord,
        records.ConsentRecord,
    )
}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(tuple[cls, ...])  # type: ignore[valid-type]
    for name, cls in _RECORD_TYPES.items()
}


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A search's records for one patient, and when (wall clock) they were fetched."""

    fetched_at: float
    records: tuple[records.Record, ...]

    def age(self) -> float:
        return time.time() - self.fetched_at


class RecordSerializer(BaseSerializer):  # type: ignore[misc]
    """CacheEntry ⇄ JSON bytes, typed by record class; anything unreadable is a miss."""

    DEFAULT_ENCODING = None

    def dumps(self, value: CacheEntry) -> bytes:
        kind = type(value.records[0]).__name__ if value.records else ""
        payload = _ADAPTERS[kind].dump_python(value.records, mode="json") if kind else []
        for record in payload:
            # The key holds only a pseudonym; the value should not hold the CPR either.
            # It is put back on read, from the CPR the lookup was for.
            record["patient"] = ""
        return orjson.dumps({"v": 1, "t": value.fetched_at, "k": kind, "r": payload})

    def loads(self, value: bytes | None) -> CacheEntry | None:
        if value is None:
            return None
        try:
            data = orjson.loads(value)
            kind = data["k"]
            found = _ADAPTERS[kind].validate_python(data["r"]) if kind else ()
            return CacheEntry(fetched_at=float(data["t"]), records=found)
        except Exception:  # a cache must never break a plan: unreadable is a miss
            log.warning("source cache: unreadable entry ignored")
            return None


class BoundedMemoryCache(SimpleMemoryCache):  # type: ignore[misc]
    """aiocache's memory backend with a size bound and lazy expiry.

    Written here because aiocache's own memory backend has neither: it grows without limit
    and keeps an asyncio timer per key. A gateway asked for a new patient each request
    would hold every patient of the stale window (minutes) in memory, and Python's
    garbage collector would spend ever longer walking it (measured: half the CPU in the
    benchmark's soak). Here the oldest entries go first past ``max_entries``, and an
    expired entry is dropped when read.
    """

    def __init__(self, *, max_entries: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_entries = max_entries
        self._expires: dict[str, float] = {}

    def _live(self, key: str, now: float) -> object | None:
        value: object | None = self._cache.get(key)
        if value is not None and self._expires.get(key, now + 1) <= now:
            self._cache.pop(key, None)
            self._expires.pop(key, None)
            return None
        return value

    async def _get(self, key: str, encoding: str = "utf-8", _conn: Any = None) -> object | None:
        return self._live(key, time.monotonic())

    async def _multi_get(
        self, keys: list[str], encoding: str = "utf-8", _conn: Any = None
    ) -> list[object | None]:
        now = time.monotonic()
        return [self._live(key, now) for key in keys]

    async def _set(
        self, key: str, value: object, ttl: float | None = None, _cas_token: Any = None,
        _conn: Any = None,
    ) -> bool:  # fmt: skip
        self._cache.pop(key, None)  # re-insert: dict order is age order
        self._cache[key] = value
        if ttl:
            self._expires[key] = time.monotonic() + ttl
        while len(self._cache) > self.max_entries:
            oldest = next(iter(self._cache))
            del self._cache[oldest]
            self._expires.pop(oldest, None)
        return True

    async def _delete(self, key: str, _conn: Any = None) -> int:
        self._expires.pop(key, None)
        return 1 if self._cache.pop(key, None) is not None else 0

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        self._cache.clear()
        self._expires.clear()
        return True


class SourceCache:
    """Per-search, per-patient source results, behind aiocache."""

    def __init__(
        self, url: str, *, max_age: float, max_entries: int = 10_000, timeout: float = 0.25
    ) -> None:
        try:
            cache = (
                BoundedMemoryCache(max_entries=max_entries)
                if url.startswith("memory://")
                else Cache.from_url(url)
            )
        except Exception as exc:
            raise ConfigError(
                f"Config MINPLAN_CACHE_URL={url.split('@')[-1]!r} is not memory:// or "
                "redis://host:port/db"
            ) from exc
        self.shared = not url.startswith("memory")
        cache.serializer = RecordSerializer()
        cache.namespace = "minplan:v1:"
        # A dict lookup needs no timeout; aiocache would wrap each call in asyncio.wait_for.
        cache.timeout = timeout if self.shared else None
        self._cache = cache
        self.max_age = max_age

    @staticmethod
    def key(search: SearchKey, patient_ref: str) -> str:
        source, resource_type = search
        return f"{source}:{resource_type}:{patient_ref}"

    async def get_many(
        self, search: SearchKey, patients: Sequence[tuple[str, str]]
    ) -> list[CacheEntry | None]:
        """Entries for these (CPR, pseudonym) pairs, None where absent.

        A cache outage reads as misses.
        """
        keys = [self.key(search, ref) for _cpr, ref in patients]
        try:
            found: list[CacheEntry | None] = await self._cache.multi_get(keys)
        except Exception as exc:
            log.warning("source cache read failed (%s): treated as a miss", type(exc).__name__)
            return [None] * len(keys)
        return [
            None
            if entry is None
            else CacheEntry(entry.fetched_at, tuple(replace(r, patient=cpr) for r in entry.records))
            for entry, (cpr, _ref) in zip(found, patients, strict=True)
        ]

    async def set_many(self, search: SearchKey, entries: Sequence[tuple[str, CacheEntry]]) -> None:
        pairs = [(self.key(search, ref), entry) for ref, entry in entries]
        if not pairs:
            return
        try:
            await self._cache.multi_set(pairs, ttl=self.max_age)
        except Exception as exc:
            log.warning("source cache write failed (%s): not cached", type(exc).__name__)

    async def ping(self) -> bool:
        try:
            await self._cache.exists("ping")
        except Exception:
            return False
        return True

    async def clear(self) -> None:
        await self._cache.clear()

    async def close(self) -> None:
        client = getattr(self._cache, "client", None)
        if client is not None:
            # aiocache 0.12 closes redis-py with its deprecated close(); aclose() directly.
            await client.aclose()
        else:
            await self._cache.close()
