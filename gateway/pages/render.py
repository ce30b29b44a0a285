"""Rendering the pages: one Jinja environment (autoescaped), its Danish filters, the headers.

Every page is HTML in Danish with a Content-Security-Policy that lets it load its own
stylesheet and script from this gateway and nothing else: no inline script, no inline
style, no other host. ``SecurityHeaders`` (``gateway/edge.py``) adds ``no-store``,
``nosniff`` and ``X-Frame-Options`` as on every answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
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
        self.env.globals.update(
            demo=demo,
            labels=labels,
            value_chart=value_chart,
        )
        self.env.tests["web_url"] = is_web_url
        self.env.filters.update(
            day=labels.danish_day,
            datetime=labels.danish_datetime,
            number=danish_number,
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
