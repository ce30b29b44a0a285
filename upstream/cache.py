"""The source cache: what each search returned, per patient, for everyone.

Only raw source results are cached, keyed by search and a keyed pseudonym of the CPR, never
anything filtered for a viewer: consent runs after the cache, on every request. Entries live
for the longest stale window; whether one is *fresh* (served instead of calling the source)
or only *stale* (served if the source fails) is decided by its age on read.

Backends: ``memory://`` (default, per process: a bounded ``cachetools.TTLCache``) and
``redis://host:port/db`` (aiocache; shared by every gateway instance). Both hold the same
value: the records as JSON bytes without the patient's CPR, validated on the way back in,
so a cache entry can never become code the way a pickle could. Bytes also keep the memory
cache out of the garbage collector's way (bytes are not tracked; record objects were).

Memory-cache writes are deferred (write-behind): what a search returned is written
:data:`WRITE_DELAY` after the answers are handed out, batched, and read as cache entries
until then, so serialising never delays a plan. A shared cache is written at once, so that
another instance can serve the entries as soon as this one has answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import orjson
from aiocache import Cache
from aiocache.serializers import BaseSerializer
from cachetools import TTLCache
from pydantic import TypeAdapter

from connectors import SearchKey
from core import records
from core.errors import ConfigError

__all__ = ["WRITE_DELAY", "CacheEntry", "SourceCache"]

log = logging.getLogger(__name__)

#: Seconds memory-cache writes wait: into a time the gateway waits for its sources anyway.
WRITE_DELAY = 0.01

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
        records.CourseRecord,
        records.MeasurementRecord,
        records.MedicationRecord,
    )
}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(tuple[cls, ...])  # type: ignore[valid-type]
    for name, cls in _RECORD_TYPES.items()
}


class CacheEntry:
    """A search's records for one patient, and when (wall clock) they were fetched.

    An entry read from the memory cache that is too old to serve fresh decodes its
    records only when asked for (it is wanted only if its source fails, as stale), so
    most of those are never decoded. One that turns out unreadable is not :attr:`usable`.
    """

    __slots__ = ("_decode", "_records", "fetched_at")

    def __init__(
        self,
        fetched_at: float,
        records: tuple[records.Record, ...] | None = None,
        *,
        decode: Callable[[], tuple[records.Record, ...] | None] | None = None,
    ) -> None:
        self.fetched_at = fetched_at
        self._records = records
        self._decode = decode

    @property
    def usable(self) -> bool:
        """False when the stored value could not be read back (a miss, never data)."""
        if self._decode is not None:
            self._records, self._decode = self._decode(), None
        return self._records is not None

    @property
    def records(self) -> tuple[records.Record, ...]:
        return self._records if self.usable and self._records is not None else ()

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

    def loads(self, value: bytes | None, patient: str = "") -> CacheEntry | None:
        """The entry, its records the patient's (``patient``: the CPR the lookup was for)."""
        if value is None:
            return None
        try:
            data = orjson.loads(value)
            kind = data["k"]
            found = ()
            if kind:
                payload = data["r"]
                for record in payload:  # cheaper here than a dataclass replace afterwards
                    record["patient"] = patient
                found = _ADAPTERS[kind].validate_python(payload)
            return CacheEntry(fetched_at=float(data["t"]), records=found)
        except Exception:  # a cache must never break a plan: unreadable is a miss
            log.warning("source cache: unreadable entry ignored")
            return None


_Key = tuple[SearchKey, str]  # (search, patient pseudonym)


class SourceCache:
    """Per-search, per-patient source results; entries live ``max_age`` seconds at most."""

    def __init__(
        self,
        url: str,
        *,
        max_age: float,
        max_entries: int = 10_000,
        timeout: float = 0.25,
        write_delay: float = WRITE_DELAY,
    ) -> None:
        self.shared = not url.startswith("memory://")
        self.max_age = max_age
        self._serializer = RecordSerializer()
        self._memory: TTLCache[str, tuple[float, bytes]] | None = None
        self._redis: Any = None
        if not self.shared:
            self._memory = TTLCache(maxsize=max_entries, ttl=max_age)
        else:
            try:
                self._redis = Cache.from_url(url)
            except Exception as exc:
                raise ConfigError(
                    f"Config MINPLAN_CACHE_URL={url.split('@')[-1]!r} is not memory:// or "
                    "redis://host:port/db"
                ) from exc
            self._redis.serializer = self._serializer
            self._redis.namespace = "minplan:v1:"
            self._redis.timeout = timeout
        self._write_delay = write_delay
        # Memory only: entries not written yet, readable as if they were (write-behind).
        self._unwritten: dict[_Key, CacheEntry] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None

    @staticmethod
    def key(search: SearchKey, patient_ref: str) -> str:
        source, resource_type = search
        return f"{source}:{resource_type}:{patient_ref}"

    async def get_many(
        self,
        search: SearchKey,
        patients: Sequence[tuple[str, str]],
        *,
        fresh_for: float | None = None,
    ) -> list[CacheEntry | None]:
        """Entries for these (CPR, pseudonym) pairs, None where absent or unreadable.

        In memory, an entry ``fresh_for`` seconds old or older is read only when its
        records are asked for (check :attr:`CacheEntry.usable` first). A cache outage
        reads as misses.
        """
        now = time.time()
        keys = [self.key(search, ref) for _cpr, ref in patients]
        found: list[CacheEntry | None]
        if self._memory is not None:
            memory = self._memory
            found = []
            for key, (cpr, _ref) in zip(keys, patients, strict=True):
                try:
                    fetched_at, value = memory[key]
                except KeyError:  # absent or expired
                    found.append(None)
                    continue
                entry = CacheEntry(fetched_at, decode=self._decoder(value, cpr))
                if fresh_for is None or now - fetched_at < fresh_for:
                    # Served as it is: read it now, and an unreadable one is a miss.
                    found.append(entry if entry.usable else None)
                else:
                    found.append(entry)
        else:
            try:
                stored: list[CacheEntry | None] = await self._redis.multi_get(keys)
            except Exception as exc:
                log.warning("source cache read failed (%s): treated as a miss", type(exc).__name__)
                return [None] * len(keys)
            found = [
                None
                if entry is None
                else CacheEntry(
                    entry.fetched_at, tuple(replace(r, patient=cpr) for r in entry.records)
                )
                for entry, (cpr, _ref) in zip(stored, patients, strict=True)
            ]
        if self._unwritten:  # newer than what is stored, and still holding the patient
            pending = self._unwritten
            found = [
                pending.get((search, ref), e)
                for (_cpr, ref), e in zip(patients, found, strict=True)
            ]
        return found

    def _decoder(self, value: bytes, cpr: str) -> Callable[[], tuple[records.Record, ...] | None]:
        def decode() -> tuple[records.Record, ...] | None:
            entry = self._serializer.loads(value, cpr)
            return entry.records if entry is not None else None  # None: unreadable

        return decode

    async def put_many(self, search: SearchKey, entries: Sequence[tuple[str, CacheEntry]]) -> None:
        """Store (pseudonym, entry) pairs: in memory a moment later, in Redis now."""
        if not entries:
            return
        if self._memory is not None:
            self._unwritten.update(((search, ref), entry) for ref, entry in entries)
            if self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self._write_delay, self._write_soon)
            return
        pairs = [(self.key(search, ref), entry) for ref, entry in entries]
        try:
            await self._redis.multi_set(pairs, ttl=self.max_age)
        except Exception as exc:
            log.warning("source cache write failed (%s): not cached", type(exc).__name__)

    def _write_soon(self) -> None:
        # A task of its own, tied to no request: a client going away cannot cut it short.
        self._timer = None
        if self._writing is not None and not self._writing.done():
            self._timer = asyncio.get_running_loop().call_later(self._write_delay, self._write_soon)
            return
        if self._unwritten:
            self._writing = asyncio.get_running_loop().create_task(self._write_pending())

    async def _write_pending(self) -> None:
        memory = self._memory
        assert memory is not None
        unwritten = dict(self._unwritten)
        for (search, ref), entry in unwritten.items():
            if memory.maxsize:  # 0: nothing is kept
                memory[self.key(search, ref)] = (entry.fetched_at, self._serializer.dumps(entry))
            # An entry replaced by a newer one meanwhile stays for the next write.
            if self._unwritten.get((search, ref)) is entry:
                del self._unwritten[(search, ref)]

    async def flush(self) -> None:
        """Write what is deferred, and wait until it is written (tests, tools)."""
        while self._unwritten or (self._writing is not None and not self._writing.done()):
            if self._writing is not None and not self._writing.done():
                await self._writing
                continue
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._writing = asyncio.get_running_loop().create_task(self._write_pending())
            await self._writing

    def stored(self) -> list[bytes]:
        """The memory cache's stored values, as bytes (what a heap dump would show)."""
        return [value for _at, value in self._memory.values()] if self._memory is not None else []

    async def ping(self) -> bool:
        if self._redis is None:
            return True
        try:
            await self._redis.exists("ping")
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Drop pending memory writes (the memory cache goes with the process); close Redis."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._unwritten.clear()
        if self._redis is not None:
            client = getattr(self._redis, "client", None)
            if client is not None:
                # aiocache 0.12 closes redis-py with its deprecated close(); aclose() directly.
                await client.aclose()
            else:
                await self._redis.close()
