"""A small SVG chart of one value's history against its target, drawn on the server.

No script and no image request: the SVG is inline in the page, coloured by classes of the
page's stylesheet (the CSP allows no inline style), so it prints as it shows. It is an image
with a title and a description that say in words what it shows; the table beside it holds
every value.

Example:
    chart = value_chart(series, title_id="m-1")   # Markup, or None with fewer than 1 value
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from .labels import danish_day, parse_date

__all__ = ["Target", "danish_number", "parse_target", "value_chart"]

_WIDTH, _HEIGHT = 320, 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 12, 28

_NUMBER = r"(-?\d+(?:[.,]\d+)?)"
_PLOT_W, _PLOT_H = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
#: The two axes: the same for every chart.
_AXES = (
    f'<line class="chart-axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + _PLOT_H}"/>'
    f'<line class="chart-axis" x1="{_LEFT}" x2="{_LEFT + _PLOT_W}" '
    f'y1="{_TOP + _PLOT_H}" y2="{_TOP + _PLOT_H}"/>'
)

_TARGET_LINE = f'<line class="chart-target-line" x1="{_LEFT}" x2="{_LEFT + _PLOT_W}"'
_TICK = f'<text class="chart-label" x="{_LEFT - 4}" y="'

_TARGET = re.compile(rf"^\s*(<=|>=|≤|≥|<|>)?\s*{_NUMBER}(?:\s*[–—-]\s*{_NUMBER})?")


@dataclass(frozen=True, slots=True)
class Target:
    """A target's bounds as numbers; either may be open."""

    low: float | None
    high: float | None


# A target's text is one of a few per measured code: its bounds are worked out once.
@functools.lru_cache(maxsize=1024)
def parse_target(text: str | None) -> Target | None:
    """The bounds a target's text names: ``"< 53 mmol/mol"``, ``"110–130 mmHg"``, ``"≥ 400 m"``.

    A target in words ("Røgfri i 6 måneder") or a bare number has no bounds to draw: None.

    >>> parse_target("110–130 mmHg")
    Target(low=110.0, high=130.0)
    >>> parse_target("≤ 2 point")
    Target(low=None, high=2.0)
    """
    if not text:
        return None
    found = _TARGET.match(text)
    if found is None:
        return None
    comparator, first, second = found.groups()
    value = float(first.replace(",", "."))
    if second is not None and comparator is None:
        return Target(low=value, high=float(second.replace(",", ".")))
    if comparator in ("<", "<=", "≤"):
        return Target(low=None, high=value)
    if comparator in (">", ">=", "≥"):
        return Target(low=value, high=None)
    return None


def danish_number(value: float | None) -> str:
    """``58.0`` → ``"58"``, ``1.85`` → ``"1,85"``: a decimal comma, no trailing zeros."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").replace(".", ",")


def value_chart(series: Sequence[Mapping[str, Any]], *, title_id: str) -> Markup | None:
    """An SVG line of the values (``value``, ``at``) oldest first, with the target's band.

    ``series`` holds one code's measurements as the API gives them (newest first is fine).
    None when no value is a number.
    """
    points = [
        (_timestamp(parse_date(m["at"])), float(value), m)
        for m in series
        if (value := m.get("value")) is not None
    ]
    if not points:
        return None
    points.sort(key=_first)
    newest = points[-1][2]
    target = parse_target(newest.get("target"))
    values = [v for _, v, _ in points]
    if target is not None:
        values += [b for b in (target.low, target.high) if b is not None]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.12
    low, high = low - pad, high + pad
    first_t = points[0][0]
    span = (points[-1][0] - first_t) or 1.0
    height = high - low

    def y(v: float) -> float:
        return _TOP + (high - v) / height * _PLOT_H

    parts: list[str] = []
    if target is not None:
        top = y(target.high) if target.high is not None else _TOP
        bottom = y(target.low) if target.low is not None else _TOP + _PLOT_H
        parts.append(
            f'<rect class="chart-target" x="{_LEFT}" y="{top:.1f}" width="{_PLOT_W}" '
            f'height="{max(bottom - top, 1):.1f}"/>'
        )
        for bound in (target.low, target.high):
            if bound is not None:
                at = f"{y(bound):.1f}"
                parts.append(f'{_TARGET_LINE} y1="{at}" y2="{at}"/>')
    # The ticks are numbers of our own making: nothing in them to escape.
    parts.append(
        f'{_AXES}{_TICK}{y(low + pad) + 4:.1f}" text-anchor="end">'
        f"{danish_number(round(low + pad, 2))}</text>"
        f'{_TICK}{y(high - pad) + 4:.1f}" text-anchor="end">'
        f"{danish_number(round(high - pad, 2))}</text>"
    )
    if len(points) == 1:
        coords = [(f"{_LEFT + _PLOT_W / 2:.1f}", f"{y(points[0][1]):.1f}")]
    else:
        coords = [
            (f"{_LEFT + (t - first_t) / span * _PLOT_W:.1f}", f"{y(v):.1f}") for t, v, _ in points
        ]
        path = " ".join([f"{cx},{cy}" for cx, cy in coords])
        parts.append(f'<polyline class="chart-line" points="{path}"/>')
    for (cx, cy), (_, _, m) in zip(coords, points, strict=True):
        kind = _verdict(m.get("onTarget"), "on", "off") or "unknown"
        parts.append(f'<circle class="chart-point chart-point-{kind}" cx="{cx}" cy="{cy}" r="4"/>')
    first_day, last_day = danish_day(points[0][2]["at"]), danish_day(newest["at"])
    parts.append(
        f'<text class="chart-label" x="{_LEFT}" y="{_HEIGHT - 8}">{escape(first_day)}</text>'
    )
    if len(points) > 1:
        parts.append(
            f'<text class="chart-label" x="{_LEFT + _PLOT_W}" y="{_HEIGHT - 8}" '
            f'text-anchor="end">{escape(last_day)}</text>'
        )
    name = newest.get("display") or newest.get("code") or "Værdi"
    desc = _describe(points, newest, first_day, last_day)
    tid = escape(title_id)
    svg = (
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-labelledby="{tid}-t {tid}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{tid}-t">{escape(name)} over tid</title>'
        f'<desc id="{tid}-d">{escape(desc)}</desc>' + "".join(parts) + "</svg>"
    )
    return Markup(svg)  # noqa: S704 - every value in it is escaped above or a number


def _describe(
    points: Sequence[tuple[float, float, Mapping[str, Any]]],
    newest: Mapping[str, Any],
    first: str,
    last: str,
) -> str:
    """The chart in words; ``first`` and ``last`` are the first and last days as shown."""
    count = len(points)
    unit = newest.get("unit") or ""
    target_text = newest.get("target")
    value = f"{danish_number(points[-1][1])} {unit}".strip()
    span = f"{count} målinger fra {first} til {last}." if count > 1 else f"1 måling den {last}."
    words = [span, f"Seneste værdi: {value} den {last}."]
    if target_text:
        verdict = _verdict(newest.get("onTarget"), "inden for målet", "uden for målet")
        words.append(
            f"Målet er {target_text}; den seneste værdi er {verdict}."
            if verdict
            else f"Målet er {target_text}."
        )
    else:
        words.append("Der er intet mål for værdien.")
    return " ".join(words)


def _first(point: tuple[float, float, Mapping[str, Any]]) -> float:
    return point[0]


def _verdict(on_target: object, on: str, off: str) -> str | None:
    """``on`` for a value on target, ``off`` for one off it, None when it is not known."""
    if on_target is True:
        return on
    if on_target is False:
        return off
    return None


def _timestamp(at: object) -> float:
    if isinstance(at, datetime):
        return at.timestamp()
    return 0.0
