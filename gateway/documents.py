"""Trusted documents (contract §4): with a manifest, only registered operations run.

The manifest (``MINPLAN_TRUSTED_DOCUMENTS``) is a JSON object ``{"sha256:<hex>": "<text>"}``,
the hex being the SHA-256 of the text's UTF-8 bytes; ``minplan documents build`` writes one
from a front end's ``.graphql`` files. A request names its document in one of three ways,
the ones clients already send:

- ``"documentId": "sha256:<hex>"`` (GraphQL over HTTP, persisted documents; Hive, Relay);
- ``"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}`` (Apollo
  Client's persisted-query link), with or without the ``query``;
- a ``query`` whose hash is in the manifest.

An unknown id is ``PERSISTED_QUERY_NOT_IN_LIST`` and any other text ``QUERY_NOT_IN_SAFELIST``
(Apollo Router's codes and messages), both HTTP 400 before anything runs. Without a
manifest (the demo) any document runs, and an id alone is ``PERSISTED_QUERY_NOT_SUPPORTED``,
which makes Apollo Client send the text instead.

The manifest is read again on SIGHUP and when the file changes (checked at most once a
second, on a request). A manifest that no longer reads keeps the old one in force and is
logged; one that does not read at start is a :class:`~core.errors.ConfigError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import orjson
from graphql import GraphQLError, parse

from core.errors import ConfigError, MinPlanError

__all__ = [
    "DocumentRefused",
    "TrustedDocuments",
    "id_of",
    "read_manifest",
    "resolve_document",
]

log = logging.getLogger(__name__)

_ID = re.compile(r"sha256:[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-fA-F]{64}")
#: How much of a client's unknown id an error message quotes back.
_QUOTED_ID_CHARS = 100


def id_of(text: str) -> str:
    """The id of a document: ``sha256:`` and the hex SHA-256 of its UTF-8 bytes.

    >>> id_of("{ me { role } }")[:15]
    'sha256:27c64fc4'
    """
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class DocumentRefused(MinPlanError):
    """The request's document is not one this gateway runs: HTTP 400 with ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def read_manifest(path: Path) -> dict[str, str]:
    """The manifest at ``path``, every entry checked: its id is its text's hash, it parses.

    Raises:
        ConfigError: naming the file and the first entry (or the reason) that is wrong.
    """
    where = f"MINPLAN_TRUSTED_DOCUMENTS ({path})"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot be read: {exc.strerror or exc}") from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{where}: is not JSON (UTF-8): {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f'{where}: must be a JSON object {{"sha256:<hex>": "<document>"}}')
    for key, text in data.items():
        if not _ID.fullmatch(key):
            raise ConfigError(f"{where}: key {key[:80]!r} is not 'sha256:' and 64 lowercase hex")
        if not isinstance(text, str):
            raise ConfigError(f"{where}: the value of {key} is not a string (a GraphQL document)")
        if id_of(text) != key:
            raise ConfigError(
                f"{where}: {key} is not the SHA-256 of its text (that is {id_of(text)})"
            )
        try:
            parse(text)
        except GraphQLError as exc:
            raise ConfigError(f"{where}: {key} is not a GraphQL document: {exc.message}") from exc
    return data


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file does: a rewrite (mtime, size) or a rename over it (inode)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class TrustedDocuments:
    """The manifest in force, read again when the file changes or on SIGHUP.

    Args:
        path: the manifest file.
        check_every: seconds between two looks at the file's modification time.
        clock: a monotonic clock (tests pass their own).

    Raises:
        ConfigError: the manifest does not read at start (see :func:`read_manifest`).
    """

    def __init__(
        self,
        path: Path,
        *,
        check_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._check_every = check_every
        self._clock = clock
        self._stamp = _stamp(path)
        self._documents: Mapping[str, str] = read_manifest(path)
        self._checked = clock()
        log.info("trusted documents: %d from %s", len(self._documents), path)

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, document_id: str) -> str | None:
        """The text registered under ``document_id``, or None."""
        self._reload_if_changed()
        return self._documents.get(document_id)

    def reload(self) -> bool:
        """Read the file again; True when the new manifest is in force.

        A file that does not read keeps the old manifest, with an error in the log; the
        same broken file is not read (nor logged) again until it changes.
        """
        self._stamp = _stamp(self.path)
        try:
            documents = read_manifest(self.path)
        except ConfigError as exc:
            log.error("trusted documents not reloaded, the previous %d stay: %s",
                      len(self._documents), exc)  # fmt: skip
            return False
        self._documents = documents
        log.info("trusted documents reloaded: %d from %s", len(documents), self.path)
        return True

    def _reload_if_changed(self) -> None:
        now = self._clock()
        if now - self._checked < self._check_every:
            return
        self._checked = now
        if _stamp(self.path) != self._stamp:
            self.reload()

    @contextlib.contextmanager
    def reload_on_sighup(self) -> Iterator[None]:
        """While open, SIGHUP reloads the manifest (in the running event loop).

        Where a handler cannot be set (not the main thread, no SIGHUP on the platform), the
        file's modification time still brings a new manifest in.
        """
        loop = asyncio.get_running_loop()
        hangup = getattr(signal, "SIGHUP", None)
        try:
            if hangup is None:
                raise ValueError("no SIGHUP on this platform")
            loop.add_signal_handler(hangup, self.reload)
        except (ValueError, RuntimeError, NotImplementedError) as exc:
            log.info("trusted documents: no SIGHUP reload (%s); file changes still apply", exc)
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(hangup)


def _quoted(document_id: str) -> str:
    if len(document_id) <= _QUOTED_ID_CHARS:
        return document_id
    return document_id[:_QUOTED_ID_CHARS] + "…"


def _requested_id(document_id: object, extensions: Mapping[str, object] | None) -> str | None:
    """The one id a request names, by ``documentId`` or Apollo's ``persistedQuery``."""
    ids: list[str] = []
    if document_id is not None:
        if not isinstance(document_id, str):
            raise DocumentRefused("BAD_REQUEST", "The request's `documentId` must be a string.")
        ids.append(document_id)
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is not None:
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise DocumentRefused(
                "BAD_REQUEST",
                "The persistedQuery extension must be "
                '{"version": 1, "sha256Hash": "<64 hex digits>"}.',
            )
        sha = persisted.get("sha256Hash")
        if not isinstance(sha, str) or not _HEX.fullmatch(sha):
            raise DocumentRefused(
                "BAD_REQUEST", "The persistedQuery extension's `sha256Hash` must be 64 hex digits."
            )
        ids.append("sha256:" + sha.lower())
    if not ids:
        return None
    # Hex is hex in either case; anything else is compared as sent.
    normalised = {i.lower() if _ID.fullmatch(i.lower()) else i for i in ids}
    if len(normalised) > 1:
        raise DocumentRefused(
            "BAD_REQUEST",
            "The `documentId` and the persistedQuery extension name different documents.",
        )
    return normalised.pop()


def resolve_document(
    documents: TrustedDocuments | None,
    *,
    query: str | None,
    document_id: object,
    extensions: Mapping[str, object] | None,
) -> str | None:
    """The text to run for a request, or :class:`DocumentRefused` with the code to answer.

    A request that names an id and sends a text too (Apollo's automatic persisted queries
    do) runs only if the text is the one the id names.
    """
    wanted = _requested_id(document_id, extensions)
    if documents is None:
        if wanted is None:
            return query
        if query is None:
            raise DocumentRefused(
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "This server keeps no persisted documents (MINPLAN_TRUSTED_DOCUMENTS is not "
                "set): send the `query` text.",
            )
        if id_of(query) != wanted:
            raise DocumentRefused(
                "BAD_REQUEST", "The `query` text is not the document its id names."
            )
        return query
    if wanted is not None:
        text = documents.get(wanted)
        if text is None:
            raise DocumentRefused(
                "PERSISTED_QUERY_NOT_IN_LIST",
                f"Persisted query '{_quoted(wanted)}' not found in the persisted query list.",
            )
        if query is not None and query != text:
            raise DocumentRefused(
                "BAD_REQUEST", "The `query` text is not the document its id names."
            )
        return text
    if query is None:
        return None  # no document at all: strawberry's own 400 says so
    if documents.get(id_of(query)) is None:
        raise DocumentRefused(
            "QUERY_NOT_IN_SAFELIST",
            "The operation body was not found in the persisted query safelist: send a "
            "registered document, by its id or its exact text.",
        )
    return query
