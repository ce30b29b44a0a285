"""An app factory for servers that import the app by name (``minplan serve --workers N``).

``uvicorn gateway.asgi:app --factory``; settings come from the environment, and
``MINPLAN_SELF_URL`` tells the embedded demo where this server answers.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from .app import create_app
from .logs import configure_logging
from .runtime import tune_gc
from .settings import Settings

__all__ = ["app"]


def app() -> Starlette:
    settings = Settings()
    # Set by `minplan serve --workers N`: each worker makes its own app and logging.
    configure_logging(
        settings.log_level, request_log=os.environ.get("MINPLAN_SERVE_REQUEST_LOG") != "0"
    )
    app = create_app(settings, self_url=os.environ.get("MINPLAN_SELF_URL"))
    tune_gc()
    return app
