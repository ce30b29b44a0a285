"""Schema extensions of our own: report failed sources next to the data, mask the unexpected."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import MaskErrors, SchemaExtension

from core.errors import GraphQLFacingError

__all__ = ["DocumentValidationCache", "ReportWarnings", "ValidationStore", "mask_unexpected_errors"]

_Rules = tuple[type[ASTValidationRule], ...]


class ValidationStore:
    """Validation results by document identity, least recently used out past ``maxsize``.

    Each entry holds its document and schema, so their ids cannot be reused by other
    objects while the entry lives; a hit also needs the same rules.
    """

    def __init__(self, maxsize: int = 128) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[
            tuple[int, int], tuple[GraphQLSchema, DocumentNode, _Rules, list[GraphQLError]]
        ] = OrderedDict()

    def validate(
        self, schema: GraphQLSchema, document: DocumentNode, rules: _Rules
    ) -> list[GraphQLError]:
        # strawberry's, imported here as its ValidationCache does (a circular import).
        from strawberry.schema.schema import validate_document

        key = (id(schema), id(document))
        entry = self._entries.get(key)
        if entry is not None and entry[0] is schema and entry[1] is document and entry[2] == rules:
            self._entries.move_to_end(key)
            return entry[3]
        errors = validate_document(schema, document, rules)
        self._entries[key] = (schema, document, rules, errors)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return errors


class DocumentValidationCache(SchemaExtension):
    """strawberry's ValidationCache, keyed by the parsed document's identity, not its hash.

    ValidationCache keys an ``lru_cache`` on the document. graphql-core 3.3's AST nodes are
    frozen dataclasses, whose hash walks the whole tree on every call: 49 µs for the
    bench's plan query, every request, before the first search can leave. ParserCache
    hands back the same document object for the same query text, so its identity is as
    good a key (:class:`ValidationStore`). Pass as ``lambda: DocumentValidationCache(store)``.
    """

    def __init__(self, store: ValidationStore) -> None:
        super().__init__()
        self.store = store

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None  # strawberry validates only what it parsed
        context.pre_execution_errors = self.store.validate(
            context.schema._schema, document, context.validation_rules
        )
        yield


class ReportWarnings(SchemaExtension):
    """Adds ``context.warnings`` (e.g. SOURCE_UNAVAILABLE) to the response's errors."""

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        warnings = getattr(context, "warnings", None)
        result = self.execution_context.result
        if warnings and result is not None:
            result.errors = [*(result.errors or []), *warnings]


def _should_mask(error: GraphQLError) -> bool:
    # Our own errors carry safe messages and a code; GraphQL's (syntax, validation) have no
    # original error. Anything else is a bug or an outage: masked, and logged by strawberry.
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLFacingError)


def mask_unexpected_errors() -> MaskErrors:
    return MaskErrors(
        should_mask_error=_should_mask,
        error_message="Internal error. It has been logged; please try again.",
    )
