"""What the GraphQL types share: how graphql-core tells which type an object is."""

from __future__ import annotations

from typing import Any

__all__ = ["instance_of"]


def instance_of(*types: type) -> Any:
    """``is_type_of`` for a type whose resolvers return these classes' objects (records,
    plan-model objects), not instances of the strawberry class itself.

    It reads no resolve info, and says so (``reads_info``): the executor's shortcut for
    plain object fields (:mod:`schema.execution`) may then call it without one.
    """

    def is_type_of(cls: type, obj: object, _info: object) -> bool:
        return isinstance(obj, (cls, *types))

    is_type_of.reads_info = False  # type: ignore[attr-defined]
    return classmethod(is_type_of)
