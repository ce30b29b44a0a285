"""The HTTP edge in ASGI: size limits, JSON errors, security headers and request ids.

- :class:`BodyLimit` wraps ``/graphql``: a body (or GET query string) past the limit is
  refused with HTTP 413 before it is parsed: from ``Content-Length`` before a byte is read,
  or while it streams in when there is none.
- :class:`SecurityHeaders` wraps the whole app: ``nosniff`` and ``Cache-Control: no-store``
  on every answer, a strict CSP and ``X-Frame-Options: DENY`` on HTML answers.
- :func:`error_response` is the one shape of an HTTP-level error: a GraphQL-style JSON body
  with ``extensions.code``.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "HTML_CSP",
    "BodyLimit",
    "SecurityHeaders",
    "error_body",
    "error_response",
    "request_id",
]

#: The code of each HTTP-level error status, in the names GraphQL servers commonly use.
_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}

#: For HTML answers that do not set their own: nothing may load, run or frame it.
HTML_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def error_response(
    status: int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    media_type: str = "application/json",
) -> Response:
    """``{"errors": [{"message": …, "extensions": {"code": …}}]}`` with the HTTP status.

    ``code`` defaults to the status's; ``media_type`` is the one the client asked for
    (``application/graphql-response+json`` or ``application/json``).
    """
    body = error_body(status, message, code=code)
    return JSONResponse(body, status_code=status, headers=headers, media_type=media_type)


def error_body(status: int, message: str, *, code: str | None = None) -> dict[str, object]:
    """The JSON of an HTTP-level error; ``code`` defaults to the status's."""
    if code is None:
        code = _CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_SERVER_ERROR")
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def request_id(header: str | None) -> str:
    """The client's ``X-Request-ID`` when it is a short id of safe characters, else a new one.

    It is stored in the access log and written to logs, so nothing long or odd gets in.
    """
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class _TooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes the limit."""


class BodyLimit:
    """Refuses a request body or GET query string larger than ``max_bytes`` (HTTP 413).

    The answer closes the connection, so the server does not read the rest of a body
    nobody wants.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_bytes:
            await self._refuse("query string")(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await error_response(400, "Content-Length is not a number.")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await self._refuse("request body")(scope, receive, send)
                return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if started:  # pragma: no cover - the body is read before any answer starts
                raise
            await self._refuse("request body")(scope, receive, send)

    def _refuse(self, what: str) -> Response:
        message = (
            f"The {what} is larger than {self.max_bytes} bytes, the limit (MINPLAN_MAX_BODY_BYTES)."
        )
        return error_response(413, message, headers={"Connection": "close"})


class SecurityHeaders:
    """Headers every answer carries; HTML answers get a CSP and may not be framed.

    ``no-store``: answers hold patient data, and neither a browser nor a proxy should keep
    them. An answer that sets its own ``Cache-Control`` or CSP keeps it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers.setdefault("Cache-Control", "no-store")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", HTML_CSP)
                    headers["X-Frame-Options"] = "DENY"
                    headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, send_with_headers)
