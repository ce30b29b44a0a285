"""``minplan documents build``: a front end's ``.graphql`` files as a trusted-documents
manifest (contract §4), the format :mod:`gateway.documents` reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate

from .documents import id_of

__all__ = ["BuiltDocument", "manifest_json", "read_document"]


@dataclass(frozen=True)
class BuiltDocument:
    """One ``.graphql`` file read for a manifest: its id, its operation's name, its text."""

    id: str
    path: Path
    operation: str | None
    text: str


def read_document(path: Path, schema: GraphQLSchema | None = None) -> BuiltDocument:
    """A front end's ``.graphql`` file as a manifest entry: its text as it is, by its hash.

    The text is kept byte for byte, so a client that sends it (rather than its id) is
    matched too.

    Raises:
        ValueError: naming the file: it does not read, does not parse, holds no operation
            or several, or (given ``schema``) does not validate against it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as UTF-8 text: {exc}") from exc
    try:
        document = parse(text)
    except GraphQLError as exc:
        raise ValueError(f"{path}: does not parse: {exc.message}") from exc
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        raise ValueError(f"{path}: holds {len(operations)} operations; give one per file")
    if schema is not None:
        errors = validate(schema, document)
        if errors:
            raise ValueError(f"{path}: does not validate against the schema: {errors[0].message}")
    name = operations[0].name.value if operations[0].name else None
    return BuiltDocument(id=id_of(text), path=path, operation=name, text=text)


def manifest_json(documents: Iterable[BuiltDocument]) -> bytes:
    """The manifest file's bytes: sorted by id, UTF-8, one entry a line."""
    entries = {d.id: d.text for d in documents}
    return orjson.dumps(entries, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
