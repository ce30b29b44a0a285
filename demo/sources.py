"""The demo's FHIR sources as one small ASGI app: real FHIR R4 search over HTTP.

Routes, relative to where the app is mounted (the gateway mounts it at ``/demo/fhir``):

- ``GET /{source}/{Type}?patient:identifier=<system>|<value>,...&_count=N`` searches;
  the answer is a ``searchset`` Bundle whose ``next`` link carries an opaque ``_offset``.
- (v2) ``GET /listing/Patient?general-practitioner:identifier=<SOR system>|<SOR>&_count=N``
  lists the citizens listed with a clinic, paged the same way (the demo clinic's list is
  :mod:`demo.clinic`'s; other clinics list nobody).
- ``GET /{source}/{Type}/{id}`` reads one resource; ``GET /{source}/metadata`` answers a
  CapabilityStatement.

Resources are encoded to JSON and filed by (source, type, patient) when the app is built,
so a search costs a dict lookup and a join of bytes. The demo clinic's citizens are encoded
once per process and shared by every app built without ``resources``.

Example:
    >>> app = create_sources_app(max_page_size=10, latency={"journal": 0.2})
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from demo.clinic import clinic_resources
from demo.data import RAW_RESOURCE_KEY, RESOURCE_TYPES, build_resources

__all__ = ["FHIR_JSON", "SERVED_TYPES", "create_sources_app"]

FHIR_JSON = "application/fhir+json"
_PATIENT = "patient:identifier"
_GENERAL_PRACTITIONER = "general-practitioner:identifier"
_LISTING = "listing"
#: Source name → the FHIR resource types the demo serves: every source's, and (v2) the
#: listing's Patients.
SERVED_TYPES: dict[str, tuple[str, ...]] = {**RESOURCE_TYPES, _LISTING: ("Patient",)}
_Key = tuple[str, str, str]


def _dumps(value: object) -> bytes:
    # orjson: compact UTF-8 like json.dumps(ensure_ascii=False), in a fraction of the time
    # (thousands of resources are encoded when the app is built).
    return orjson.dumps(value)


def _fhir(value: object, status_code: int = 200) -> Response:
    body = value if isinstance(value, bytes) else _dumps(value)
    return Response(body, status_code=status_code, media_type=FHIR_JSON)


def _outcome(status_code: int, code: str, diagnostics: str) -> Response:
    issue = {"severity": "error", "code": code, "diagnostics": diagnostics}
    return _fhir({"resourceType": "OperationOutcome", "issue": [issue]}, status_code)


def _token(ref: object) -> str | None:
    identifier = ref.get("identifier") if isinstance(ref, Mapping) else None
    if isinstance(identifier, Mapping):
        system, value = identifier.get("system"), identifier.get("value")
        if isinstance(system, str) and isinstance(value, str):
            return f"{system}|{value}"
    return None


def _search_tokens(resource: Mapping[str, Any]) -> list[str]:
    """What a search finds the resource by: its patient's ``system|value`` or, for a listed
    Patient, its GP clinics'."""
    if resource.get("resourceType") == "Patient":
        practitioners = resource.get("generalPractitioner")
        refs = practitioners if isinstance(practitioners, list) else []
        return [t for t in (_token(ref) for ref in refs) if t is not None]
    for field in ("subject", "patient"):
        token = _token(resource.get(field))
        if token is not None:
            return [token]
    return []


class _Index:
    """Every resource encoded once, filed by (source, type, search token) and by id.

    ``under`` is another index searched after this one: the demo clinic's, built once.
    """

    def __init__(
        self, resources: Mapping[str, Sequence[Mapping[str, Any]]], under: _Index | None = None
    ) -> None:
        self.types: dict[str, set[str]] = {s: set(t) for s, t in SERVED_TYPES.items()}
        self.by_token: dict[_Key, list[tuple[str, bytes]]] = {}
        self.by_id: dict[_Key, bytes] = {}
        self.under = under
        for source, items in resources.items():
            for resource in items:
                kind, rid = str(resource.get("resourceType")), str(resource.get("id"))
                self.types.setdefault(source, set()).add(kind)
                # The marker stands for an entry whose `resource` is not an object.
                body = _dumps(resource.get(RAW_RESOURCE_KEY, resource))
                self.by_id[(source, kind, rid)] = body
                for token in _search_tokens(resource):
                    self.by_token.setdefault((source, kind, token), []).append((rid, body))
        if under is not None:
            for source, kinds in under.types.items():
                self.types.setdefault(source, set()).update(kinds)

    def search(self, source: str, kind: str, tokens: Sequence[str]) -> list[tuple[str, bytes]]:
        found = (self.by_token.get((source, kind, token), ()) for token in tokens)
        matches = list(itertools.chain.from_iterable(found))
        return matches if self.under is None else matches + self.under.search(source, kind, tokens)

    def read(self, key: _Key) -> bytes | None:
        body = self.by_id.get(key)
        return body if body is not None or self.under is None else self.under.read(key)


@functools.cache
def _clinic_index() -> _Index:
    """The demo clinic's citizens, encoded once per process (apps are built per test)."""
    return _Index(clinic_resources())


class _BadSearch(ValueError):
    """A search parameter the demo server cannot read (answered with HTTP 400)."""


def _search_tokens_asked(request: Request, parameter: str) -> list[str]:
    # Repeating the parameter means AND in FHIR; one patient can't be two, so intersect.
    values = request.query_params.getlist(parameter)
    if not values:
        raise _BadSearch(f"Search parameter '{parameter}' is required.")
    chosen: dict[str, None] | None = None
    for value in values:
        tokens = dict.fromkeys(token.strip() for token in value.split(","))
        for token in tokens:
            system, bar, code = token.partition("|")
            if not (system and bar and code):
                raise _BadSearch(f"'{parameter}' token {token!r} is not 'system|value'.")
        chosen = tokens if chosen is None else {t: None for t in chosen if t in tokens}
    return list(chosen or ())


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise _BadSearch(f"Search parameter '{name}' must be a whole number >= 0, not {raw!r}.")
    return int(raw)


def _bundle(request: Request, matches: list[tuple[str, bytes]], offset: int, count: int) -> bytes:
    links = [{"relation": "self", "url": str(request.url)}]
    if count and offset + count < len(matches):
        following = request.url.include_query_params(_offset=offset + count, _count=count)
        links.append({"relation": "next", "url": str(following)})
    head = {"resourceType": "Bundle", "type": "searchset", "total": len(matches), "link": links}
    page = matches[offset : offset + count]
    if not page:
        return _dumps(head)
    base = str(request.url.replace(query=""))
    entries = b",".join(
        b'{"fullUrl":%s,"resource":%s,"search":{"mode":"match"}}' % (_dumps(f"{base}/{rid}"), body)
        for rid, body in page
    )
    return b'%s,"entry":[%s]}' % (_dumps(head)[:-1], entries)


def create_sources_app(
    resources: Mapping[str, Sequence[dict[str, Any]]] | None = None,
    *,
    max_page_size: int = 20,
    max_listing_page_size: int = 500,
    latency: Mapping[str, float] | None = None,
) -> Starlette:
    """An ASGI app serving ``resources`` as FHIR search endpoints, one per source.

    Args:
        resources: ``{source: [resource, ...]}``; None serves the named demo people
            (:func:`demo.data.build_resources`) and the demo clinic's list and citizens
            (:func:`demo.clinic.clinic_resources`).
        max_page_size: The largest page a search answers, and the page size without ``_count``.
        max_listing_page_size: The same for the ``listing`` source, whose one search
            answers a whole clinic.
        latency: Seconds to wait before answering, per source name, to imitate slow sources.

    Returns:
        A Starlette app with routes ``/{source}/{Type}``, ``/{source}/{Type}/{id}`` and
        ``/{source}/metadata``.
    """
    if resources is None:
        index = _Index(build_resources(), under=_clinic_index())
    else:
        index = _Index(resources)
    delays = dict(latency or {})

    async def known(request: Request) -> tuple[str, str]:
        source, kind = request.path_params["source"], request.path_params.get("kind")
        if source not in index.types:
            raise HTTPException(404, f"Unknown source {source!r}.")
        if kind is not None and kind not in index.types[source]:
            raise HTTPException(404, f"Source {source!r} serves no {kind!r} resources.")
        if delays.get(source, 0.0) > 0:
            await asyncio.sleep(delays[source])
        return source, kind or ""

    async def search(request: Request) -> Response:
        source, kind = await known(request)
        listing = source == _LISTING
        parameter = _GENERAL_PRACTITIONER if listing else _PATIENT
        largest = max_listing_page_size if listing else max_page_size
        try:
            tokens = _search_tokens_asked(request, parameter)
            count = min(_int_param(request, "_count", largest), largest)
            offset = _int_param(request, "_offset", 0)
        except _BadSearch as exc:
            return _outcome(400, "invalid", str(exc))
        matches = index.search(source, kind, tokens)
        return _fhir(_bundle(request, matches, offset, count))

    async def read(request: Request) -> Response:
        source, kind = await known(request)
        body = index.read((source, kind, request.path_params["rid"]))
        if body is None:
            return _outcome(404, "not-found", f"No {kind} with that id in {source!r}.")
        return _fhir(body)

    async def metadata(request: Request) -> Response:
        source, _ = await known(request)
        interactions = [{"code": "search-type"}, {"code": "read"}]
        served = [{"type": t, "interaction": interactions} for t in sorted(index.types[source])]
        statement = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server", "resource": served}],
        }
        return _fhir(statement)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "not-found" if exc.status_code == 404 else "not-supported"
        response = _outcome(exc.status_code, code, exc.detail)
        response.headers.update(exc.headers or {})
        return response

    routes = [
        Route("/{source}/metadata", metadata, methods=["GET"]),
        Route("/{source}/{kind}", search, methods=["GET"]),
        Route("/{source}/{kind}/{rid}", read, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
