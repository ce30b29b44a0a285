"""The per-request context every resolver gets (``info.context``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import GraphQLError

from plans.audit import AccessLog
from plans.reader import PlanReader
from plans.viewer import Viewer
from plans.worklist import WorklistReader
from upstream.loaders import RequestLoaders

__all__ = ["Context"]


@dataclass(slots=True)
class Context:
    """Built once per request in ``get_context``; loaders never outlive their request."""

    viewer: Viewer
    plans: PlanReader
    loaders: RequestLoaders
    access_log: AccessLog
    worklists: WorklistReader
    request_id: str
    #: Errors to report next to the data (e.g. SOURCE_UNAVAILABLE), added after execution.
    warnings: list[GraphQLError] = field(default_factory=list)
