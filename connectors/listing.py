"""(v2) The ``listing`` source: which citizens are listed with a GP clinic.

Unlike every other source it is searched by clinic, not by patient (contract §1):
``GET {base}/Patient?general-practitioner:identifier=urn:oid:1.2.208.176.1.1|SOR&_count=N``,
every page. Each Patient gives a CPR number and a name. A Patient that cannot be read
(no valid CPR) is skipped and counted and never spoils the list; one marked
``active: false`` is no longer listed and is left out.

Example:
    >>> connector = build_listing(http, base_url="http://x/fhir/listing")  # doctest: +SKIP
    >>> listing = await connector.listed("380101000016003")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, NotRequired

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from core.codes import CPR_SYSTEM, SOR_SYSTEM
from core.cpr import is_valid_cpr, mask_cpr
from core.records import ListedPatient

from .fhir import FhirClient
from .transport import Http

__all__ = [
    "GP_PARAMETER",
    "LISTING_COUNT",
    "SOURCE",
    "Listing",
    "ListingConnector",
    "build_listing",
    "parse_listed_patient",
]

log = logging.getLogger(__name__)

SOURCE = "listing"
GP_PARAMETER = "general-practitioner:identifier"
#: Patients asked per page: a big practice's list (~10,000) in about 20 pages, a page far
#: below the client's page limits.
LISTING_COUNT = 500


@dataclass(frozen=True, slots=True)
class Listing:
    """A clinic's list: each citizen once, in the source's order; ``skipped`` unreadable ones."""

    patients: tuple[ListedPatient, ...]
    pages: int
    skipped: int


class _Identifier(TypedDict, total=False):
    system: str | None
    value: str | None
    use: str | None


class _HumanName(TypedDict, total=False):
    text: str | None
    family: str | None
    given: tuple[str, ...]


class _Patient(TypedDict):
    """A Patient as the listing answers it: what is read of it, other elements ignored.

    Validated as plain dicts (a TypedDict), not models: a clinic's thousands of Patients are
    read on every work list whose listing is not fresh.
    """

    resourceType: Literal["Patient"]
    id: NotRequired[str | None]
    identifier: NotRequired[tuple[_Identifier, ...]]
    name: NotRequired[tuple[_HumanName, ...]]
    active: NotRequired[bool | None]


_PATIENT: TypeAdapter[_Patient] = TypeAdapter(_Patient)
_PATIENTS: TypeAdapter[list[_Patient]] = TypeAdapter(list[_Patient])


def parse_listed_patient(resource: dict[str, object]) -> ListedPatient | None:
    """One Patient → a listed citizen; None when ``active`` is false (no longer listed).

    The CPR is the first CPR-system identifier not marked ``old``, trimmed; the name is
    ``name[0].text``, else its given names and family name joined (None without one).

    Raises:
        ValidationError, ValueError: an unreadable Patient (no valid CPR, not a Patient);
            the message never quotes the value.
    """
    return _listed(_PATIENT.validate_python(resource))


def _listed(patient: _Patient) -> ListedPatient | None:
    cpr = _cpr(patient)
    if patient.get("active") is False:
        return None
    return ListedPatient(cpr=cpr, name=_display_name(patient))


def _cpr(patient: _Patient) -> str:
    found = next(
        (
            value
            for i in patient.get("identifier", ())
            if i.get("system") == CPR_SYSTEM and i.get("use") != "old" and (value := i.get("value"))
        ),
        None,
    )
    if found is None:
        raise ValueError("Patient has no CPR identifier")
    value = found.strip()
    if not is_valid_cpr(value):
        raise ValueError("Patient CPR identifier is not a valid CPR number")
    return value


def _display_name(patient: _Patient) -> str | None:
    names = patient.get("name", ())
    if not names:
        return None
    first = names[0]
    text = first.get("text")
    if text and text.strip():
        return text.strip()
    parts = (*first.get("given", ()), first.get("family") or "")
    return " ".join(part.strip() for part in parts if part.strip()) or None


class ListingConnector:
    """Reads one clinic's list from the ``listing`` source.

    Failures are the shared client's upstream errors naming ``listing``; the caller puts
    the search behind resilience as it does every other.
    """

    def __init__(self, fhir: FhirClient) -> None:
        self.fhir = fhir
        self.source = fhir.source

    async def listed(self, org: str) -> Listing:
        """Every citizen listed with the clinic whose SOR code is ``org``, each once."""
        result = await self.fhir.search_where(
            "Patient",
            [(GP_PARAMETER, f"{SOR_SYSTEM}|{org}")],
            count=max(self.fhir.page_size, LISTING_COUNT),
        )
        patients: dict[str, ListedPatient] = {}
        skipped = result.skipped
        try:  # all at once, the common case; else one at a time, to skip only the unreadable
            checked: list[_Patient] | None = _PATIENTS.validate_python(result.resources)
        except ValidationError:
            checked = None
        for n, resource in enumerate(result.resources):
            try:
                listed = parse_listed_patient(resource) if checked is None else _listed(checked[n])
            except ValidationError as exc:
                reasons = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    for e in exc.errors(include_input=False, include_url=False)
                )
                self._log_skip(resource, reasons)
            except ValueError as exc:
                self._log_skip(resource, str(exc))  # the model's own reasons, no values
            except (TypeError, KeyError) as exc:
                self._log_skip(resource, type(exc).__name__)  # its text may quote the data
            else:
                if listed is not None:
                    patients.setdefault(listed.cpr, listed)
                continue
            skipped += 1
        return Listing(patients=tuple(patients.values()), pages=result.pages, skipped=skipped)

    def _log_skip(self, resource: dict[str, object], reason: str) -> None:
        rid = resource.get("id")
        # A source may use the CPR number as the Patient's id: masked, like any log line.
        log.warning(
            "source %s: skipped unreadable Patient/%s: %s",
            self.source,
            mask_cpr(rid) if isinstance(rid, str) else "?",
            reason[:300],
        )


def build_listing(
    http: Http,
    *,
    base_url: str,
    timeout: float = 2.0,
    page_size: int = 100,
    max_pages: int = 50,
) -> ListingConnector:
    """The ``listing`` connector over the app's shared transport, as the per-patient
    connectors are built (:data:`connectors.CONNECTOR_CLASSES`): one FHIR client, this
    source's URL and limits."""
    fhir = FhirClient(
        http,
        source=SOURCE,
        base_url=base_url,
        timeout=timeout,
        page_size=page_size,
        max_pages=max_pages,
    )
    return ListingConnector(fhir)
