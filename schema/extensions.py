"""Schema extensions of our own: report failed sources next to the data, mask the unexpected."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from gateway.errors import GraphQLFacingError

__all__ = ["ReportWarnings", "mask_unexpected_errors"]


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
