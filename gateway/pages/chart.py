"""A small SVG chart of one value's history against its target, drawn on the server.

No script and no image request: the SVG is inline in the page, coloured by classes of the
page's stylesheet (the CSP allows no inline style), so it prints as it shows. It is an image
with a title and a description that say in words what it shows; the table beside it holds
every value.

Example:
    chart = value_chart(series, title_id="m-1")   # Markup, or None with fewer than 1 value
"""

from __future__ import annotations

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
_TARGET = re.compile(rf"^\s*(<=|>=|≤|≥|<|>)?\s*{_NUMBER}(?:\s*[–—-]\s*{_NUMBER})?")


@dataclass(frozen=True, slots=True)
class Target:
    """A target's bounds as numbers; either may be open."""

    low: float | None
    high: float | None


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
    points = sorted(
        ((parse_date(m["at"]), float(m["value"]), m) for m in series if m.get("value") is not None),
        key=lambda p: _timestamp(p[0]),
    )
    if not points:
        return None
    newest = points[-1][2]
    unit = newest.get("unit") or ""
    target = parse_target(newest.get("target"))
    values = [v for _, v, _ in points]
    bounds = [b for b in (target.low, target.high) if b is not None] if target else []
    low, high = min(values + bounds), max(values + bounds)
    if high == low:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.12
    low, high = low - pad, high + pad
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    times = [_timestamp(at) for at, _, _ in points]
    span = (times[-1] - times[0]) or 1.0

    def x(t: float) -> float:
        return _LEFT + (plot_w / 2 if len(points) == 1 else (t - times[0]) / span * plot_w)

    def y(v: float) -> float:
        return _TOP + (high - v) / (high - low) * plot_h

    parts: list[str] = []
    if target is not None:
        top = y(target.high) if target.high is not None else _TOP
        bottom = y(target.low) if target.low is not None else _TOP + plot_h
        parts.append(
            f'<rect class="chart-target" x="{_LEFT}" y="{top:.1f}" width="{plot_w}" '
            f'height="{max(bottom - top, 1):.1f}"/>'
        )
        for bound in (target.low, target.high):
            if bound is not None:
                parts.append(
                    f'<line class="chart-target-line" x1="{_LEFT}" x2="{_LEFT + plot_w}" '
                    f'y1="{y(bound):.1f}" y2="{y(bound):.1f}"/>'
                )
    parts.append(
        f'<line class="chart-axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}"/>'
        f'<line class="chart-axis" x1="{_LEFT}" x2="{_LEFT + plot_w}" '
        f'y1="{_TOP + plot_h}" y2="{_TOP + plot_h}"/>'
    )
    for tick in (low + pad, high - pad):
        parts.append(
            f'<text class="chart-label" x="{_LEFT - 4}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{escape(danish_number(round(tick, 2)))}</text>'
        )
    coords = [(x(t), y(v)) for t, (_, v, _) in zip(times, points, strict=True)]
    if len(coords) > 1:
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(f'<polyline class="chart-line" points="{path}"/>')
    for (cx, cy), (_, _, m) in zip(coords, points, strict=True):
        kind = _verdict(m.get("onTarget"), "on", "off") or "unknown"
        parts.append(
            f'<circle class="chart-point chart-point-{kind}" cx="{cx:.1f}" cy="{cy:.1f}" r="4"/>'
        )
    first_day, last_day = danish_day(points[0][2]["at"]), danish_day(newest["at"])
    parts.append(
        f'<text class="chart-label" x="{_LEFT}" y="{_HEIGHT - 8}">{escape(first_day)}</text>'
    )
    if len(points) > 1:
        parts.append(
            f'<text class="chart-label" x="{_LEFT + plot_w}" y="{_HEIGHT - 8}" '
            f'text-anchor="end">{escape(last_day)}</text>'
        )
    name = newest.get("display") or newest.get("code") or "Værdi"
    title = f"{name} over tid"
    desc = _describe(points, unit=unit, target_text=newest.get("target"))
    svg = (
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-labelledby="{escape(title_id)}-t {escape(title_id)}-d" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(title_id)}-t">{escape(title)}</title>'
        f'<desc id="{escape(title_id)}-d">{escape(desc)}</desc>' + "".join(parts) + "</svg>"
    )
    return Markup(svg)  # noqa: S704 - every value in it is escaped above or a number


def _describe(
    points: Sequence[tuple[Any, float, Mapping[str, Any]]], *, unit: str, target_text: str | None
) -> str:
    newest = points[-1][2]
    count = len(points)
    value = f"{danish_number(points[-1][1])} {unit}".strip()
    first, last = danish_day(points[0][2]["at"]), danish_day(newest["at"])
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
