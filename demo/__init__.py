"""The embedded demo: synthetic people and FHIR sources served in the gateway's own process.

``minplan serve`` with no source configured mounts :func:`create_sources_app` at
``/demo/fhir`` and points the seven sources at it, e.g.
``http://127.0.0.1:8000/demo/fhir/appointments``. The people are in :mod:`demo.people`,
their resources in :mod:`demo.data`.
"""

from __future__ import annotations

from demo.data import RAW_RESOURCE_KEY, RESOURCE_TYPES, build_resources
from demo.sources import create_sources_app

__all__ = ["RAW_RESOURCE_KEY", "RESOURCE_TYPES", "build_resources", "create_sources_app"]
