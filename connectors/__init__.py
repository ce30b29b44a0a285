"""Upstream sources: one module per source over the shared FHIR search client."""

from __future__ import annotations

from collections.abc import Callable

from .appointments import AppointmentsConnector
from .base import Connector, Fetched, SearchKey
from .careplan import CareplanConnector
from .consent import ConsentConnector
from .diagnoses import DiagnosesConnector
from .fhir import FhirClient, SearchResult
from .journal import JournalConnector
from .listing import Listing, ListingConnector, build_listing
from .medication import MedicationConnector
from .observations import ObservationsConnector
from .prevention import PreventionConnector
from .pro import ProConnector

__all__ = [
    "CONNECTOR_CLASSES",
    "AppointmentsConnector",
    "CareplanConnector",
    "Connector",
    "ConsentConnector",
    "DiagnosesConnector",
    "Fetched",
    "FhirClient",
    "JournalConnector",
    "Listing",
    "ListingConnector",
    "MedicationConnector",
    "ObservationsConnector",
    "PreventionConnector",
    "ProConnector",
    "SearchKey",
    "SearchResult",
    "build_listing",
]

#: Source name → connector class, in the contract's order. The app builds only those of
#: the configured sources. (``listing`` (v2) searches by clinic, not by patient: not here;
#: :func:`build_listing` builds it.)
CONNECTOR_CLASSES: dict[str, Callable[[FhirClient], Connector]] = {
    "diagnoses": DiagnosesConnector,
    "appointments": AppointmentsConnector,
    "journal": JournalConnector,
    "careplan": CareplanConnector,
    "pro": ProConnector,
    "prevention": PreventionConnector,
    "consent": ConsentConnector,
    "observations": ObservationsConnector,
    "medication": MedicationConnector,
}
