"""The GraphQL schema: types, resolvers, loaders. ``schema/minplan.graphql`` is its SDL."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLResolveInfoHelpers
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext

from core.errors import GraphQLFacingError

from .context import Context
from .extensions import (
    DocumentValidationCache,
    ReportWarnings,
    ValidationStore,
    mask_unexpected_errors,
)
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

__all__ = ["SDL_PATH", "Context", "build_schema", "export_sdl"]

SDL_PATH = Path(__file__).with_name("minplan.graphql")


class AcyclicExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context without graphql-core's reference cycle.

    graphql-core 3.3 gives each execution ``async_helpers`` made of its own bound methods,
    a cycle from the context to itself. Everything the context reaches (the request's
    context, loaders, records, the result) was then freed only by the garbage collector,
    never by reference counting: about 320 objects per plan, which under load filled the
    older generations and made full collections pauses of 50-120 ms (bench, soak). Here
    the helpers reach the context through a weak reference, and a plan's objects go as
    soon as its request is done.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        this = weakref.ref(self)

        def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
            return _alive(this).gather_async_work(values)

        def track(values: Sequence[Any]) -> None:
            _alive(this).track_async_work(values)

        self.async_helpers = GraphQLResolveInfoHelpers(gather=gather, track=track)


def _alive(ref: weakref.ref[AcyclicExecutionContext]) -> AcyclicExecutionContext:
    context = ref()
    if context is None:  # a resolver outliving its execution: graphql-core's error to raise
        raise RuntimeError("the GraphQL execution is over")
    return context


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
        execution_context_class=AcyclicExecutionContext,
    )


def export_sdl(schema: strawberry.Schema | None = None) -> str:
    """The SDL as ``minplan schema`` prints it and ``schema/minplan.graphql`` holds it."""
    return (schema or build_schema()).as_str() + "\n"
