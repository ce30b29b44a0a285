"""The GraphQL schema: types, resolvers, loaders. ``schema/minplan.graphql`` is its SDL."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult

from core.cpr import mask_cpr
from core.tracebacks import format_traceback

from .context import Context
from .direct import mark_direct_fields
from .execution import AcyclicExecutionContext
from .extensions import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MAX_ENTRY_CHARS,
    DocumentCache,
    GatewayExtension,
    add_error_code,
    is_unexpected_error,
)
from .query import Query
from .scalars import schema_config
from .types.care import Course, Measurement, Medication
from .types.items import (
    Appointment,
    Diagnosis,
    Goal,
    HealthLiteracy,
    JournalNote,
    PreventionOffer,
    Triage,
)

__all__ = ["SDL_PATH", "Context", "MinPlanSchema", "build_schema", "export_sdl"]

SDL_PATH = Path(__file__).with_name("minplan.graphql")
#: Every type that implements ``Sourced``, so a fragment on the interface can name them all.
_ITEM_TYPES = [Diagnosis, Triage, Goal, Appointment, JournalNote, PreventionOffer, HealthLiteracy]
_ITEM_TYPES += [Course, Measurement, Medication]

log = logging.getLogger(__name__)


class MinPlanSchema(strawberry.Schema):
    """Logs only unexpected errors, and structurally: never a value the request held.

    FORBIDDEN, BAD_USER_INPUT (a variable of the wrong type included) and the like are
    answers, not logged. A bug is logged with its type, the request id, the operation and
    field path, and the code places of its traceback: not its message, which may quote a
    variable, an argument or the document (strawberry's own logger prints it).
    """

    def __init__(
        self,
        *args: Any,
        document_cache: DocumentCache | None = None,
        parse_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.document_cache = document_cache
        #: What strawberry parses a request's document with (its MaxTokensLimiter's limit).
        self.parse_options: dict[str, Any] = parse_options or {}

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """strawberry's, with an ``extensions.code`` on every error (:func:`add_error_code`).

        Here rather than in an extension: an error strawberry raises outside the operation's
        extensions (a failing hook) gets its code too, so every client sees the same codes.
        """
        result = await super().execute(*args, **kwargs)
        if result.errors:
            result.errors = [add_error_code(error) for error in result.errors]
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_unexpected_error(error):
                _log_unexpected(error, execution_context)


def _log_unexpected(error: GraphQLError, execution_context: ExecutionContext | None) -> None:
    original = error.original_error
    assert original is not None  # is_unexpected_error: there is one
    context = execution_context.context if execution_context is not None else None
    request_id = getattr(context, "request_id", None)
    operation = execution_context.operation_name if execution_context is not None else None
    path = ".".join(str(p) if isinstance(p, int) else _name(p) for p in error.path or ())
    log.error(
        "unexpected %s in request %s (operation %s, path %s)\n%s",
        type(original).__name__,
        # A client may choose its request id; the mask is for that one value.
        mask_cpr(str(request_id)) if request_id is not None else "-",
        _name(operation) if operation else "-",
        path or "-",
        format_traceback(original),
    )


def _name(name: str) -> str:
    # Operation names and aliases are the client's words: their digits stay out of logs.
    return re.sub(r"[0-9]", "#", name)


def build_schema(
    *,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2000,
    document_cache_chars: int = DEFAULT_MAX_CHARS,
    document_cache_entry_chars: int = DEFAULT_MAX_ENTRY_CHARS,
) -> MinPlanSchema:
    """The schema with its limits; extensions are passed as classes or factories.

    Parsed documents and their validation are cached up to ``document_cache_chars``
    characters of query text in all, none longer than ``document_cache_entry_chars``.
    """
    # The depth and alias limiters each build a new validation-rule class per instance; made
    # per request, they would make every request's rules differ and the validation cache
    # never hit (it is keyed by the rules). Their rules are built once here and added per request.
    documents = DocumentCache(
        max_chars=document_cache_chars, max_entry_chars=document_cache_entry_chars
    )
    limit_rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: GatewayExtension(documents, validation_rules=limit_rules, max_tokens=max_tokens)
    ]
    schema = MinPlanSchema(
        query=Query,
        types=_ITEM_TYPES,
        extensions=list(extensions),
        execution_context_class=AcyclicExecutionContext,
        document_cache=documents,
        parse_options={"max_tokens": max_tokens},
        config=schema_config(),
    )
    mark_direct_fields(schema._schema)
    return schema


def export_sdl(schema: strawberry.Schema | None = None) -> str:
    """The SDL as ``minplan schema`` prints it and ``schema/minplan.graphql`` holds it."""
    return (schema or build_schema()).as_str() + "\n"
