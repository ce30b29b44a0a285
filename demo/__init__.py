"""The embedded demo: synthetic people and FHIR sources served in the gateway's own process.

``minplan serve`` with no source configured mounts :func:`create_sources_app` at
``/demo/fhir`` and points the sources at it, e.g.
``http://127.0.0.1:8000/demo/fhir/appointments``. The named people are in
:mod:`demo.people`, their resources in :mod:`demo.data` (and :mod:`demo.data_v2`); the GP
clinic's list of about 1,600 generated citizens, and their resources, in :mod:`demo.clinic`.
"""

from __future__ import annotations

from demo.clinic import LISTED, clinic_resources
from demo.data import RAW_RESOURCE_KEY, RESOURCE_TYPES, build_resources
from demo.sources import SERVED_TYPES, create_sources_app

__all__ = [
    "LISTED",
    "RAW_RESOURCE_KEY",
    "RESOURCE_TYPES",
    "SERVED_TYPES",
    "build_resources",
    "clinic_resources",
    "create_sources_app",
]
