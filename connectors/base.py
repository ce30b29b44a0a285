"""The connector pattern: search a source, parse each resource, skip the unreadable."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from core.records import Record

from .fhir import FhirClient

__all__ = ["Connector", "Fetched", "Parser", "SearchKey"]

log = logging.getLogger(__name__)

#: A search: (source name, FHIR resource type). ``careplan`` has three.
SearchKey = tuple[str, str]
#: Turns one resource into a record; returns None for a resource that is fine but not ours
#: (e.g. another questionnaire), raises ValueError / ValidationError for an unreadable one.
Parser = Callable[[str, dict[str, object]], Record | None]


@dataclass(slots=True)
class Fetched:
    """One search's answer, by patient. ``skipped`` counts unreadable resources."""

    by_patient: dict[str, list[Record]] = field(default_factory=dict)
    skipped: int = 0
    pages: int = 0
    foreign: int = 0


class Connector:
    """One upstream source: its searches and how to read what they return.

    ``on_demand`` names resource types the connector reads but a plan read does not ask
    for unless its query needs them (contract §6): :attr:`plan_types` leaves them out.
    """

    def __init__(
        self, fhir: FhirClient, parsers: Mapping[str, Parser], *, on_demand: Iterable[str] = ()
    ) -> None:
        self.fhir = fhir
        self.source = fhir.source
        self.parsers = dict(parsers)
        self.on_demand = frozenset(on_demand)

    @property
    def resource_types(self) -> tuple[str, ...]:
        """Every resource type this connector can search and read."""
        return tuple(self.parsers)

    @property
    def plan_types(self) -> tuple[str, ...]:
        """The resource types every plan read searches: all but the on-demand ones."""
        return tuple(t for t in self.parsers if t not in self.on_demand)

    async def fetch(self, resource_type: str, cprs: Sequence[str]) -> Fetched:
        """Search ``resource_type`` for these patients and parse every resource."""
        result = await self.fhir.search(resource_type, cprs)
        wanted = set(cprs)
        fetched = Fetched(by_patient={cpr: [] for cpr in cprs}, skipped=result.skipped)
        fetched.pages = result.pages
        parse = self.parsers[resource_type]
        for resource in result.resources:
            record = self._parse_one(parse, resource_type, resource)
            if record is None:
                continue
            if isinstance(record, _Unreadable):
                fetched.skipped += 1
            elif record.patient in wanted:
                fetched.by_patient[record.patient].append(record)
            else:
                fetched.foreign += 1  # a source answering for someone we did not ask about
        return fetched

    def _parse_one(
        self, parse: Parser, resource_type: str, resource: dict[str, object]
    ) -> Record | _Unreadable | None:
        if resource.get("resourceType") != resource_type:
            return _UNREADABLE
        try:
            return parse(self.source, resource)
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            self._log_skip(resource, reasons)
        except ValueError as exc:
            self._log_skip(resource, str(exc))  # the parsers' own reasons, no values
        except (TypeError, KeyError) as exc:
            self._log_skip(resource, type(exc).__name__)  # its text may quote the data
        return _UNREADABLE

    def _log_skip(self, resource: dict[str, object], reason: str) -> None:
        rid = resource.get("id")
        log.warning(
            "source %s: skipped unreadable %s/%s: %s",
            self.source,
            resource.get("resourceType"),
            rid if isinstance(rid, str) else "?",
            reason[:300],
        )


class _Unreadable:
    __slots__ = ()


_UNREADABLE = _Unreadable()
