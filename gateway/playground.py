"""The GraphiQL playground at ``GET /graphql``, served whole by the gateway: no internet needed.

GraphiQL, React and the explorer plugin are vendored in ``static/playground/`` by
``scripts/vendor-playground`` (its ``manifest.json`` lists the files the page loads, in
order, with their SRI hashes) and served at ``/static/playground/``. The page names no
other host, and its Content-Security-Policy allows exactly what it loads: those files
('self'), its one inline script by a fresh nonce, and calls back to this gateway.

The page is ours rather than strawberry's, whose template loads everything from a CDN.
"""

from __future__ import annotations

import functools
import html
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = [
    "PLAYGROUND_STATIC",
    "PLAYGROUND_TITLE",
    "PlaygroundPreset",
    "playground_assets",
    "playground_csp",
    "playground_html",
]

#: Where the gateway serves the vendored assets.
PLAYGROUND_STATIC = "/static/playground"
PLAYGROUND_TITLE = "Min Plan playground"

#: Makes the page's preloaded ``{"query", "headers"}`` (the demo's, with a fresh token) on
#: each page load.
PlaygroundPreset = Callable[[], Mapping[str, str]]

_ASSETS = Path(__file__).parent / "static" / "playground"
# Each file sits in a folder named by its package's version, so a URL's content never
# changes: browsers may keep it for good.
_ASSET_CACHE = "public, max-age=31536000, immutable"
# Set here rather than guessed from the system's MIME table: with `nosniff` a browser runs
# a script or applies a style only under its right type (and shows a licence as text).
_CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

_WELCOME_QUERY = """# Min Plan playground. Put your access token in the Headers tab below:
#   {"Authorization": "<your token>"}  (the scheme word first, as the API expects)
# then run a query, for example:
query Me {
  me { role name }
}
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
{styles}
<style>
  html, body {{ height: 100%; margin: 0; }}
  #graphiql {{ height: 100vh; display: flex; }}
  .graphiql-explorer-actions select {{ margin-left: 4px; }}
</style>
{scripts}
</head>
<body>
<div id="graphiql" class="graphiql-container">Loading the playground…</div>
<noscript>The playground needs JavaScript.</noscript>
<script nonce="{nonce}">
"use strict";
const preset = {preset};
// A shared link may carry a query (?q=) and variables, never headers: a link must not
// choose whose token the page sends.
const parameters = Object.fromEntries(new URLSearchParams(window.location.search));
function updateURL(data) {{
  Object.assign(parameters, data);
  const kept = Object.entries(parameters).filter(([, value]) => Boolean(value));
  history.replaceState(null, "", "?" + new URLSearchParams(kept).toString());
}}
const fetcher = GraphiQL.createFetcher({{
  url: window.location.origin + window.location.pathname,
}});
const explorer = GraphiQLPluginExplorer.explorerPlugin();
function Playground() {{
  const [query, setQuery] = React.useState(parameters.q || preset.query);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [headers, setHeaders] = React.useState(preset.headers);
  return React.createElement(GraphiQL, {{
    fetcher: fetcher,
    plugins: [explorer],
    query: query,
    variables: variables,
    headers: headers,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    // Tokens stay in the page, not in the browser's storage after it closes.
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
    onEditQuery: (value) => {{ setQuery(value); updateURL({{ q: value }}); }},
    onEditVariables: (value) => {{ setVariables(value); updateURL({{ variables: value }}); }},
    onEditHeaders: setHeaders,
  }});
}}
ReactDOM.createRoot(document.getElementById("graphiql"))
  .render(React.createElement(Playground));
</script>
</body>
</html>
"""


def _script_json(value: object) -> str:
    return json.dumps(value).replace("<", "\\u003c")  # safe inside <script>, tags included


@functools.cache
def _asset_tags() -> tuple[str, str]:
    """The page's ``<link>`` and ``<script>`` tags, from the vendored manifest."""
    manifest = json.loads((_ASSETS / "manifest.json").read_text(encoding="utf-8"))

    def url(asset: Mapping[str, str]) -> str:
        return html.escape(f"{PLAYGROUND_STATIC}/{asset['path']}")

    styles = "\n".join(
        f'<link rel="stylesheet" href="{url(a)}" integrity="{html.escape(a["integrity"])}">'
        for a in manifest["styles"]
    )
    scripts = "\n".join(
        f'<script src="{url(a)}" integrity="{html.escape(a["integrity"])}"></script>'
        for a in manifest["scripts"]
    )
    return styles, scripts


def playground_csp(nonce: str) -> str:
    """The page's policy: this gateway's files, the nonce'd inline script, no other host.

    Inline styles stay allowed, as GraphiQL and React set them; GraphiQL's fonts are
    data: URIs inside its stylesheet.
    """
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "font-src 'self' data:",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def playground_html(preset: Mapping[str, str] | None) -> HTMLResponse:
    """The playground page; ``preset`` ({"query", "headers"}) preloads its editors.

    Without a preset (outside the demo) the page opens on a short welcome query and empty
    headers: the visitor brings their own token.
    """
    nonce = secrets.token_urlsafe(16)
    styles, scripts = _asset_tags()
    values = preset or {"query": _WELCOME_QUERY, "headers": ""}
    page = _PAGE.format(
        title=PLAYGROUND_TITLE,
        styles=styles,
        scripts=scripts,
        nonce=nonce,
        preset=_script_json({"query": values["query"], "headers": values["headers"]}),
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": playground_csp(nonce),
        "X-Frame-Options": "DENY",
    }
    return HTMLResponse(page, headers=headers)


class _AssetFiles(StaticFiles):
    """The vendored files, with a long cache life and explicit script and style types."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = _ASSET_CACHE
        name = Path(full_path).name
        content_type = _CONTENT_TYPES.get(Path(name).suffix)
        if name.startswith("LICENSE"):  # LICENSE, LICENSE.graphiql-explorer: no type to guess
            content_type = "text/plain; charset=utf-8"
        if content_type and isinstance(response, FileResponse):
            response.headers["Content-Type"] = content_type
        return response


def playground_assets() -> StaticFiles:
    """The ASGI app that serves ``static/playground/`` (mounted at ``PLAYGROUND_STATIC``)."""
    return _AssetFiles(directory=_ASSETS)
