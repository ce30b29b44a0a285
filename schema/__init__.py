"""The GraphQL schema: types, resolvers, loaders. ``schema/minplan.graphql`` is its SDL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types import ExecutionContext

from gateway.errors import GraphQLFacingError

from .context import Context
from .extensions import (
    DocumentValidationCache,
    ReportWarnings,
    ValidationStore,
    mask_unexpected_errors,
)
from .loaders import BatchLoaders, SourceLoaders
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

__all__ = ["SDL_PATH", "BatchLoaders", "Context", "SourceLoaders", "build_schema", "export_sdl"]

SDL_PATH = Path(__file__).with_name("minplan.graphql")


class MinPlanSchema(strawberry.Schema):
    """Logs only unexpected errors: FORBIDDEN, BAD_USER_INPUT and the like are answers."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [
            e
            for e in errors
            if e.original_error is not None and not isinstance(e.original_error, GraphQLFacingError)
        ]
        super().process_errors(unexpected, execution_context)


def build_schema(
    *, max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 2000
) -> strawberry.Schema:
    """The schema with its limits; extensions are passed as classes or factories."""
    # The depth and alias limiters each build a new validation-rule class per instance; made
    # per request, they would make every request's rules differ and the validation cache
    # never hit (it is keyed by the rules). Their rules are built once here and added per request.
    validations = ValidationStore()
    limit_rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        ParserCache,
        lambda: DocumentValidationCache(validations),
        ReportWarnings,
        mask_unexpected_errors,
    ]
    return MinPlanSchema(
        query=Query,
        types=[Diagnosis, Triage, Goal, Appointment, JournalNote, PreventionOffer, HealthLiteracy],
        extensions=list(extensions),
    )


def export_sdl(schema: strawberry.Schema | None = None) -> str:
    """The SDL as ``minplan schema`` prints it and ``schema/minplan.graphql`` holds it."""
    return (schema or build_schema()).as_str() + "\n"
