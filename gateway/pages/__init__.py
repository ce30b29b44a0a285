"""The shared view: server-rendered Danish pages over the GraphQL schema.

``/`` (the demo's sign-in, or where to sign in), ``/plan`` and ``/plan/{cpr}`` (with break
the glass), ``/access-log``, ``/worklist``. Every page runs a document of ``queries/`` through
the same schema, auth and consent path as ``POST /graphql``; front ends may reuse those
documents verbatim.
"""

from __future__ import annotations

from .csrf import CsrfTokens
from .execute import DOCUMENTS
from .routes import Pages
from .signin import DemoSignIn

__all__ = ["DOCUMENTS", "CsrfTokens", "DemoSignIn", "Pages"]
