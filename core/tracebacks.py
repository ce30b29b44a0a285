"""Exceptions as logs may show them: types and code places, never a message.

An exception's message may quote a request's value (a CPR above all), so what we log of
an exception is its type, what caused it, and where: file, line and function.
"""

from __future__ import annotations

import traceback

__all__ = ["describe_exception", "format_traceback"]


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what led to it, oldest first, as Python prints a traceback."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 16:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain[::-1]


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def format_traceback(exc: BaseException) -> str:
    """A traceback with types and places only: no exception message, no locals.

    >>> try:
    ...     raise ValueError("0101521234 is not allowed")
    ... except ValueError as exc:
    ...     "0101521234" in format_traceback(exc)
    False
    """
    blocks = []
    for link in _chain(exc):
        frames = traceback.extract_tb(link.__traceback__)
        places = "".join(f"\n  {f.filename}:{f.lineno} in {f.name}" for f in frames)
        blocks.append(f"{_type_name(link)} (message left out){places}")
    return "\n  which led to ".join(blocks)


def describe_exception(exc: BaseException) -> str:
    """One line: the exception's type, what caused it, and where it was raised."""
    chain = _chain(exc)
    kinds = " <- ".join(_type_name(link) for link in reversed(chain))
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{kinds}{where}"
