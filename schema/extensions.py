"""Schema extensions of our own: bounded document caches, sources' warnings, error classes
and codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import MaskErrors

from core.errors import GraphQLFacingError

__all__ = [
    "DocumentCache",
    "GatewayExtension",
    "add_error_code",
    "is_input_error",
    "is_unexpected_error",
]

_Rules = tuple[type[ASTValidationRule], ...]
_Key = tuple[str, tuple[tuple[str, Any], ...]]

#: Total characters of query text the cache holds, and the most one document may have.
DEFAULT_MAX_CHARS = 4 * 1024 * 1024
DEFAULT_MAX_ENTRY_CHARS = 64 * 1024


@dataclass(slots=True, eq=False)
class _Entry:
    document: DocumentNode
    size: int
    # One validation per document: (schema, rules, errors); a schema has one set of rules.
    validation: tuple[GraphQLSchema, _Rules, list[GraphQLError]] | None = None


class _Entries(LRUCache[_Key, _Entry]):
    """cachetools' LRU, telling its owner which entry it evicted (its documented hook)."""

    def __init__(self, maxsize: int, evicted: Callable[[_Entry], None]) -> None:
        super().__init__(maxsize=maxsize, getsizeof=lambda entry: entry.size)
        self._evicted = evicted

    def popitem(self) -> tuple[_Key, _Entry]:
        key, entry = super().popitem()
        self._evicted(entry)
        return key, entry


class DocumentCache:
    """Parsed documents and their validation results, bounded by the size of their text.

    Holds at most ``max_chars`` characters of query text in all (least recently used out
    first), and never a document longer than ``max_entry_chars``: a distinct large query
    per request can fill neither. A document's validation result lives in its entry and
    goes with it.

    Validation is looked up by the document's identity, not its hash: graphql-core 3.3's
    AST nodes are frozen dataclasses whose hash walks the whole tree on every call, and
    :meth:`parse` hands back the same document object for the same query text.
    """

    def __init__(
        self, *, max_chars: int = DEFAULT_MAX_CHARS, max_entry_chars: int = DEFAULT_MAX_ENTRY_CHARS
    ) -> None:
        self.max_entry_chars = min(max_entry_chars, max_chars)
        self._by_document: dict[int, _Entry] = {}
        self._entries = _Entries(max_chars, self._forget)

    @property
    def size(self) -> int:
        """Characters of query text held now (the cache's own accounting)."""
        return int(self._entries.currsize)

    @property
    def max_chars(self) -> int:
        return int(self._entries.maxsize)

    def __len__(self) -> int:
        return len(self._entries)

    def _forget(self, entry: _Entry) -> None:
        self._by_document.pop(id(entry.document), None)

    def parse(self, query: str, options: Mapping[str, Any]) -> DocumentNode:
        key = (query, tuple(sorted(options.items())))
        entry = self._entries.get(key)
        if entry is not None:
            return entry.document
        document = parse(query, **options)
        if len(query) <= self.max_entry_chars:
            entry = _Entry(document, max(len(query), 1))
            self._entries[key] = entry
            self._by_document[id(document)] = entry
        return document

    def validated(
        self, query: str, options: Mapping[str, Any], schema: GraphQLSchema
    ) -> DocumentNode | None:
        """The document of ``query`` if it is here, parsed with ``options`` and validated
        against ``schema`` without an error; else None (nothing is parsed or validated)."""
        entry = self._entries.get((query, tuple(sorted(options.items()))))
        if entry is None or entry.validation is None:
            return None
        cached_schema, _rules, errors = entry.validation
        return entry.document if cached_schema is schema and not errors else None

    def validate(
        self, schema: GraphQLSchema, document: DocumentNode, rules: _Rules
    ) -> list[GraphQLError]:
        # strawberry's, imported here as its ValidationCache does (a circular import).
        from strawberry.schema.schema import validate_document

        entry = self._by_document.get(id(document))
        if entry is not None and entry.document is not document:
            entry = None  # an id reused after its entry went: not ours
        if entry is not None and entry.validation is not None:
            cached_schema, cached_rules, errors = entry.validation
            if cached_schema is schema and cached_rules == rules:
                return errors
        errors = validate_document(schema, document, rules)
        if entry is not None:
            entry.validation = (schema, rules, errors)
        return errors


def is_input_error(error: GraphQLError) -> bool:
    """A variable the request sent does not fit its type (graphql-core's coercion).

    graphql-core reports those as an error wrapping its own GraphQLError (wrong type,
    missing required value, unknown enum value, a list for a string): the client's
    input, not a bug. Before execution, so without a path: a resolver's GraphQLError has one.
    """
    return error.path is None and isinstance(error.original_error, GraphQLError)


def is_unexpected_error(error: GraphQLError) -> bool:
    """A bug or an outage: an exception that is neither ours for the client nor GraphQL's.

    Our own errors carry safe messages and a code; GraphQL's (syntax, validation, variable
    coercion) are about the request.
    """
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, GraphQLFacingError)
        and not is_input_error(error)
    )


class ClassifyErrors(MaskErrors):
    """Masks unexpected errors; gives a variable's coercion errors ``BAD_USER_INPUT``."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [
            _as_bad_user_input(e) if is_input_error(e) else e
            for e in super()._process_errors(errors)
        ]


def _as_bad_user_input(error: GraphQLError) -> GraphQLError:
    # graphql-core's message names the variable and echoes the client's own value back to
    # the client, which is fine; it goes into no log (see MinPlanSchema.process_errors).
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": "BAD_USER_INPUT"},
    )


#: What a client sees of an unexpected error (the error itself is logged).
MASKED_MESSAGE = "Internal error. It has been logged; please try again."


class GatewayExtension(ClassifyErrors):
    """The gateway's schema extensions in one: strawberry makes every extension anew for each
    request and runs each one's hooks, so one instance with four hooks costs less than six.

    - ``on_operation``: the token limit (what ``MaxTokensLimiter`` sets), the depth and alias
      limits' validation rules (what ``AddValidationRules`` adds); once the result is in,
      :class:`ClassifyErrors`' masking and codes;
    - ``on_parse``, ``on_validate``: the :class:`DocumentCache` (strawberry's parser and
      validation caches, bounded by size and keyed by the document's identity);
    - ``on_execute``: the context's warnings (e.g. SOURCE_UNAVAILABLE) added to the errors,
      before the masking, which leaves them as they are.
    """

    def __init__(
        self, documents: DocumentCache, *, validation_rules: Sequence[type[ASTValidationRule]],
        max_tokens: int,
    ) -> None:  # fmt: skip
        super().__init__(should_mask_error=is_unexpected_error, error_message=MASKED_MESSAGE)
        self.documents = documents
        self.validation_rules = tuple(validation_rules)
        self.max_tokens = max_tokens

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = context.validation_rules + self.validation_rules
        yield from super().on_operation()

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        assert context.query is not None  # strawberry parses only a query it was given
        context.graphql_document = self.documents.parse(context.query, context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None  # strawberry validates only what it parsed
        context.pre_execution_errors = self.documents.validate(
            context.schema._schema, document, context.validation_rules
        )
        yield

    def on_execute(self) -> Iterator[None]:
        yield
        warnings = getattr(self.execution_context.context, "warnings", None)
        result = self.execution_context.result
        if warnings and result is not None:
            result.errors = [*(result.errors or []), *warnings]


def add_error_code(error: GraphQLError) -> GraphQLError:
    """The error with an ``extensions.code``: its own, or the one GraphQL servers use.

    The names are Apollo's: a query that does not parse (the token limit included), one
    that does not validate (the depth and alias limits included). An error during
    execution without a code of its own is a masked bug. A coded error comes back as it
    is; any other as a copy, since cached validation errors are shared by requests.
    """
    if error.extensions and "code" in error.extensions:
        return error
    if error.path is not None:
        code = "INTERNAL_SERVER_ERROR"
    elif error.message.startswith("Syntax Error"):
        code = "GRAPHQL_PARSE_FAILED"
    else:
        code = "GRAPHQL_VALIDATION_FAILED"
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code},
    )
