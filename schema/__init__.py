"""The GraphQL schema: types, resolvers, loaders. ``schema/minplan.graphql`` is its SDL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from .context import Context
from .extensions import ReportWarnings, mask_unexpected_errors
from .loaders import SourceLoaders
from .query import Query
from .types.items import (
    Appointment,
    Diagnosis,
    Goal,
    HealthLiteracy,
    JournalNote,
    PreventionOffer,
    Triage,
)

__all__ = ["SDL_PATH", "Context", "SourceLoaders", "build_schema", "export_sdl"]

SDL_PATH = Path(__file__).with_name("minplan.graphql")


def build_schema(
    *, max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 2000
) -> strawberry.Schema:
    """The schema with its limits; extensions are passed as classes or factories."""
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        ParserCache,
        ValidationCache,
        ReportWarnings,
        mask_unexpected_errors,
    ]
    return strawberry.Schema(
        query=Query,
        types=[Diagnosis, Triage, Goal, Appointment, JournalNote, PreventionOffer, HealthLiteracy],
        extensions=list(extensions),
    )


def export_sdl(schema: strawberry.Schema | None = None) -> str:
    """The SDL as ``minplan schema`` prints it and ``schema/minplan.graphql`` holds it."""
    return (schema or build_schema()).as_str() + "\n"
