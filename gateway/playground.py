"""The GraphiQL playground at ``GET /graphql``, optionally preloaded with a query and headers."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import HTMLResponse

__all__ = ["playground_html"]

_QUERY_HOOK = "parameters.q || EXAMPLE_QUERY"
_HEADERS_HOOK = "React.useState(parameters.headers)"


def _script_json(value: object) -> str:
    return json.dumps(value).replace("</", "<\\/")  # safe inside <script>


def playground_html(template: str, defaults: Mapping[str, str] | None) -> HTMLResponse:
    """Strawberry's GraphiQL page; with ``defaults`` ({"query", "headers"}) preloaded.

    The page fetches GraphiQL from a CDN, so the browser (not the gateway) needs internet.
    """
    if not defaults:
        return HTMLResponse(template)
    if _QUERY_HOOK not in template or _HEADERS_HOOK not in template:
        # A strawberry upgrade changed the page: serve it plain rather than broken.
        return HTMLResponse(template)
    html = template.replace(_QUERY_HOOK, f"parameters.q || {_script_json(defaults['query'])}")
    html = html.replace("<title>Strawberry GraphiQL</title>", "<title>Min Plan playground</title>")
    html = html.replace(
        _HEADERS_HOOK, f"React.useState(parameters.headers || {_script_json(defaults['headers'])})"
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
