"""The GraphiQL playground at ``GET /graphql``, optionally preloaded with a query and headers.

The page carries a Content-Security-Policy that allows exactly what it loads: GraphiQL's
scripts and styles from unpkg.com (each pinned by its integrity hash in strawberry's page),
its one inline script by a fresh nonce, and calls back to this gateway only.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from starlette.responses import HTMLResponse

__all__ = ["PLAYGROUND_CDN", "playground_csp", "playground_html"]

#: Where strawberry's GraphiQL page loads its scripts, styles and fonts from.
PLAYGROUND_CDN = "https://unpkg.com"

_QUERY_HOOK = "parameters.q || EXAMPLE_QUERY"
_HEADERS_HOOK = "React.useState(parameters.headers)"
_INLINE_SCRIPT = "<script>"


def _script_json(value: object) -> str:
    return json.dumps(value).replace("<", "\\u003c")  # safe inside <script>, tags included


def playground_csp(nonce: str) -> str:
    """The page's policy; inline styles stay allowed, as GraphiQL and React set them."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'nonce-{nonce}' {PLAYGROUND_CDN}",
            f"style-src 'unsafe-inline' {PLAYGROUND_CDN}",
            f"font-src data: {PLAYGROUND_CDN}",
            "img-src data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def playground_html(template: str, defaults: Mapping[str, str] | None) -> HTMLResponse:
    """Strawberry's GraphiQL page; with ``defaults`` ({"query", "headers"}) preloaded.

    The page fetches GraphiQL from a CDN, so the browser (not the gateway) needs internet.
    """
    html = template
    if defaults and _QUERY_HOOK in template and _HEADERS_HOOK in template:
        # (When a strawberry upgrade changed the page, it is served plain rather than broken.)
        html = html.replace(_QUERY_HOOK, f"parameters.q || {_script_json(defaults['query'])}")
        html = html.replace(
            "<title>Strawberry GraphiQL</title>", "<title>Min Plan playground</title>"
        )
        html = html.replace(
            _HEADERS_HOOK,
            f"React.useState(parameters.headers || {_script_json(defaults['headers'])})",
        )
    nonce = secrets.token_urlsafe(16)
    # Only the page's own inline scripts get the nonce: a bare "<script>" tag cannot
    # come from the defaults, whose "<" is escaped (\u003c) inside the JSON above.
    html = html.replace(_INLINE_SCRIPT, f'<script nonce="{nonce}">')
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": playground_csp(nonce),
        "X-Frame-Options": "DENY",
    }
    return HTMLResponse(html, headers=headers)
