"""Rendering the pages: one Jinja environment (autoescaped), its Danish filters, the headers.

Every page is HTML in Danish with a Content-Security-Policy that lets it load its own
stylesheet and script from this gateway and nothing else: no inline script, no inline
style, no other host. ``SecurityHeaders`` (``gateway/edge.py``) adds ``no-store``,
``nosniff`` and ``X-Frame-Options`` as on every answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.responses import HTMLResponse

from core.localtime import COPENHAGEN

from . import labels
from .chart import danish_number, value_chart

__all__ = ["PAGES_CSP", "STATIC_DIR", "TEMPLATES_DIR", "Renderer", "is_web_url"]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "pages"

#: The pages' policy: their own files only, forms to this gateway only.
PAGES_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def is_web_url(value: object) -> bool:
    """Only ``http(s)`` links are made links: a source's ``javascript:`` URL stays text."""
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def _chart(series: Sequence[Mapping[str, Any]], title_id: str) -> Markup | None:
    return value_chart(series, title_id=title_id)


class Renderer:
    """Renders a template of ``gateway/templates`` into an HTML response with the headers."""

    def __init__(self, *, demo: bool) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # The templates ship with the code: no file check on every render.
            auto_reload=False,
        )
        self.env.globals["demo"] = demo
        self.env.tests["web_url"] = is_web_url
        # Filters rather than calls: the template calls a filter directly, where a call
        # (``labels.goal_status(g.status)``) goes through the context's call machinery.
        self.env.filters.update(
            day=labels.danish_day,
            datetime=labels.danish_datetime,
            number=danish_number,
            chart=_chart,
            package_name=labels.word_for(labels.PACKAGE_NAMES),
            alert_kind=labels.word_for(labels.ALERT_KINDS),
            priority=labels.word_for(labels.PRIORITY),
            appointment_status=labels.word_for(labels.APPOINTMENT_STATUS),
            origin=labels.word_for(labels.MEASUREMENT_ORIGIN),
            section=labels.word_for(labels.SECTIONS),
            course_status=labels.course_status,
            goal_status=labels.goal_status,
            medication_status=labels.medication_status,
            offer_status=labels.offer_status,
        )

    def page(
        self,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        now = datetime.now(COPENHAGEN)
        html = self.env.get_template(template).render(
            **context, printed=labels.danish_day(now.date().isoformat())
        )
        all_headers = {"Content-Security-Policy": PAGES_CSP, "Cache-Control": "no-store"}
        all_headers.update(headers or {})
        return HTMLResponse(html, status_code=status, headers=all_headers)
