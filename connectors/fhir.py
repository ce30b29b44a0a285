"""The shared FHIR search client: one ``httpx.AsyncClient``, many patients per request, all pages.

A search is ``GET {base}/{Type}?patient:identifier=<system>|A,<system>|B&_count=N``; the answer
is a ``searchset`` Bundle whose ``next`` links are followed to the end. Failures are converted
here, once, into :mod:`core.errors` upstream errors that name the source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import httpx
import orjson
from opentelemetry import propagate, trace

from connectors.transport import Http, get_page
from core.errors import UpstreamBadResponse, UpstreamHTTPError, UpstreamTimeout
from core.tracing import tracing_on

__all__ = ["CPR_SYSTEM", "FhirClient", "SearchPage", "SearchResult"]

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
_CPR_SYSTEM_QUOTED = quote(CPR_SYSTEM, safe="")
#: A page beyond these is refused, not parsed: 8 MiB and 2,000 entries are far above
#: what ``_count`` (100 by default) asks for, and far below what would stall the loop.
#: The bytes are counted while reading (unpacked, if compressed): a huge page is never
#: held whole.
MAX_PAGE_BYTES = 8 * 1024 * 1024
MAX_PAGE_ENTRIES = 2_000
#: The largest ``_count`` asked for, however many patients share a search.
MAX_COUNT = 1_000
_ACCEPT = "application/fhir+json, application/json;q=0.9"
_HEADERS = {"Accept": _ACCEPT}
#: What stays as it is when a next link is re-quoted: RFC 3986 reserved characters and "%".
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"
_JSON_TYPES = ("application/fhir+json", "application/json")

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SearchPage:
    resources: list[dict[str, object]]
    skipped: int
    next_url: str | None


@dataclass(slots=True)
class SearchResult:
    """Every resource of every page; ``skipped`` counts bundle entries that were not objects."""

    resources: list[dict[str, object]]
    skipped: int
    pages: int


class FhirClient:
    """Searches one FHIR source over an injected, shared ``httpx.AsyncClient`` or transport.

    Each page is one :func:`~connectors.transport.get_page`: on the app's
    :class:`~connectors.transport.SourceTransport` a plain aiohttp GET; on another transport
    straight to it (a search needs none of a client's cookies, auth flows, redirects or URL
    merging); on a client (tests with respx), through it.

    Example:
        >>> client = FhirClient(http, source="appointments", base_url="http://x/fhir")
        >>> result = await client.search("Appointment", ["0101521234"])  # doctest: +SKIP
    """

    def __init__(
        self,
        http: Http,
        *,
        source: str,
        base_url: str,
        timeout: float = 2.0,
        page_size: int = 100,
        max_pages: int = 50,
    ) -> None:
        self.http = http
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.page_size = page_size
        self.max_pages = max_pages
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc)

    def search_url(self, resource_type: str, cprs: Sequence[str]) -> str:
        """The contract's search URL, its values percent-encoded.

        ``_count`` is the page size per patient (up to :data:`MAX_COUNT`): a search shared
        by several patients then needs about as many pages as one patient's would, and
        stays within the source's timeout, which covers the whole search.

        Built as a string: httpx's params machinery re-parses and re-quotes everything,
        which cost 4% of the gateway's CPU under load for a URL whose shape never changes.
        """
        identifiers = ",".join(f"{_CPR_SYSTEM_QUOTED}%7C{quote(cpr, safe='')}" for cpr in cprs)
        count = max(self.page_size, min(self.page_size * len(cprs), MAX_COUNT))
        return f"{self.base_url}/{resource_type}?patient%3Aidentifier={identifiers}&_count={count}"

    async def search(self, resource_type: str, cprs: Sequence[str]) -> SearchResult:
        """All resources of ``resource_type`` for these patients, following ``next`` links.

        The whole search, every page included, must finish within the source's timeout.
        """
        return await self._search_within_timeout(self.search_url(resource_type, cprs))

    def query_url(self, resource_type: str, params: Sequence[tuple[str, str]]) -> str:
        """``{base}/{Type}?name=value&...``, names and values percent-encoded whole.

        Every reserved character is encoded (``:`` as ``%3A``, ``|`` as ``%7C``), as
        :meth:`search_url` does for the patient search.
        """
        query = "&".join(
            f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params
        )
        return f"{self.base_url}/{resource_type}?{query}"

    async def search_where(
        self, resource_type: str, params: Sequence[tuple[str, str]], *, count: int | None = None
    ) -> SearchResult:
        """All resources of a search by any parameters (not by patient), every page of it.

        For searches the patient search does not cover, e.g. the ``listing`` source's search
        by clinic. ``_count`` is ``count`` (at most :data:`MAX_COUNT`), else the page size.
        Paging, limits, timeout and errors are those of :meth:`search`.

        Example:
            >>> await client.search_where("Patient", [("active", "true")])  # doctest: +SKIP
        """
        size = min(count if count is not None else self.page_size, MAX_COUNT)
        url = self.query_url(resource_type, [*params, ("_count", str(size))])
        return await self._search_within_timeout(url)

    async def _search_within_timeout(self, url: str) -> SearchResult:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._search_all(url)
        except TimeoutError as exc:
            raise UpstreamTimeout(self.source) from exc

    async def _search_all(self, first_url: str) -> SearchResult:
        url: httpx.URL | str = first_url
        resources: list[dict[str, object]] = []
        skipped = 0
        pages = 0
        while True:
            page = await self.fetch_page(url)
            pages += 1
            resources.extend(page.resources)
            skipped += page.skipped
            if page.next_url is None:
                break
            if pages >= self.max_pages:
                # A partial answer would pass for a whole one (a block on a later page lost,
                # items missing with ok: true); fail the search instead.
                raise UpstreamBadResponse(self.source, f"more than {self.max_pages} pages")
            url = self._checked_next(page.next_url, current=url)
        return SearchResult(resources=resources, skipped=skipped, pages=pages)

    async def fetch_page(self, url: httpx.URL | str) -> SearchPage:
        """One page of a search, read and checked."""
        response = await get_page(
            self.http, str(url), _headers(), source=self.source, max_bytes=MAX_PAGE_BYTES
        )
        if response.status != 200:
            raise UpstreamHTTPError(self.source, response.status)
        content_type = response.content_type.split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            raise UpstreamBadResponse(self.source, "not FHIR JSON")
        return self._read_bundle(response.body)

    def _read_bundle(self, body: bytes) -> SearchPage:
        try:
            bundle = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadResponse(self.source, "invalid JSON") from exc
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise UpstreamBadResponse(self.source, "not a Bundle")
        entries = bundle.get("entry", [])
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise UpstreamBadResponse(self.source, "Bundle.entry is not a list")
        if len(entries) > MAX_PAGE_ENTRIES:
            raise UpstreamBadResponse(self.source, "page has too many entries")
        resources: list[dict[str, object]] = []
        skipped = 0
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            search = entry.get("search") if isinstance(entry, dict) else None
            if isinstance(search, dict) and search.get("mode") == "outcome":
                continue  # a server's notice about the search (OperationOutcome), not data
            if isinstance(resource, dict):
                resources.append(resource)
            else:
                skipped += 1
        return SearchPage(resources, skipped, _next_link(bundle))

    def _checked_next(self, next_url: str, *, current: httpx.URL | str) -> str:
        # A next link may be relative (to the page it came in, RFC 3986 §5.1.3); an absolute
        # one must stay on the source's own origin, so that a source cannot send the gateway
        # (and its network position) elsewhere.
        # Characters a URL may not hold (a space, say) are percent-encoded, as httpx would.
        absolute = quote(urljoin(str(current), next_url), safe=_URL_SAFE)
        parts = urlsplit(absolute)
        if (parts.scheme, parts.netloc) != self._origin:
            raise UpstreamBadResponse(self.source, "next link points to another host")
        return absolute


def _headers() -> dict[str, str]:
    """The search's headers; within a traced span, its W3C ``traceparent`` too, so a source's
    own traces join the gateway's (the propagators are ``OTEL_PROPAGATORS``')."""
    if not tracing_on() or not trace.get_current_span().get_span_context().is_valid:
        return _HEADERS  # no tracing: no copy, nothing to add
    headers = dict(_HEADERS)
    propagate.inject(headers)
    return headers


def _next_link(bundle: dict[str, object]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url:
                return url
    return None
