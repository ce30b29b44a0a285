"""The gateway's exceptions, one tree, converted once at the boundary.

    MinPlanError
    ├── ConfigError                 a setting is missing or malformed
    ├── AuthError                   no token, or a token we cannot trust  -> HTTP 401
    ├── GraphQLFacingError          carries an ``extensions.code`` for the client
    │   ├── Forbidden               FORBIDDEN
    │   ├── BadUserInput            BAD_USER_INPUT (e.g. a malformed CPR)
    │   ├── ConsentUnavailable      CONSENT_UNAVAILABLE
    │   ├── SourceUnavailable       SOURCE_UNAVAILABLE (one per failed source)
    │   └── AccessLogUnavailable    ACCESS_LOG_UNAVAILABLE (no unlogged access)
    ├── UpstreamError               a source failed; ``source`` names it
    │   ├── UpstreamTimeout         it did not answer within its timeout
    │   ├── UpstreamHTTPError       it answered with a non-2xx status
    │   ├── UpstreamBadResponse     it answered with something that is not a FHIR Bundle
    │   └── UpstreamCircuitOpen     its circuit breaker is open: not called at all
    └── AuditWriteError             the access log could not be written (the read fails)

Messages are short and safe to show: they never carry a CPR number or upstream bodies.
"""

from __future__ import annotations

__all__ = [
    "AccessLogUnavailable",
    "AuditWriteError",
    "AuthError",
    "BadUserInput",
    "ConfigError",
    "ConsentUnavailable",
    "Forbidden",
    "GraphQLFacingError",
    "MinPlanError",
    "SourceUnavailable",
    "UpstreamBadResponse",
    "UpstreamCircuitOpen",
    "UpstreamError",
    "UpstreamHTTPError",
    "UpstreamTimeout",
]


class MinPlanError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(MinPlanError):
    """A setting is missing or malformed; the message names the setting."""


class AuthError(MinPlanError):
    """The caller could not be authenticated. The message names the failed check."""


class GraphQLFacingError(MinPlanError):
    """An error the client sees with a stable ``extensions.code``."""

    code: str = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.extensions: dict[str, object] = {"code": self.code, **extensions}


class Forbidden(GraphQLFacingError):
    code = "FORBIDDEN"


class BadUserInput(GraphQLFacingError):
    code = "BAD_USER_INPUT"


class ConsentUnavailable(GraphQLFacingError):
    code = "CONSENT_UNAVAILABLE"


class SourceUnavailable(GraphQLFacingError):
    code = "SOURCE_UNAVAILABLE"


class AccessLogUnavailable(GraphQLFacingError):
    code = "ACCESS_LOG_UNAVAILABLE"


class UpstreamError(MinPlanError):
    """A source failed. ``reason`` is short and safe for ``SourceStatus.error``."""

    reason = "source failed"

    def __init__(self, source: str, reason: str | None = None) -> None:
        self.source = source
        if reason is not None:
            self.reason = reason
        super().__init__(f"{source}: {self.reason}")


class UpstreamTimeout(UpstreamError):
    reason = "timed out"


class UpstreamHTTPError(UpstreamError):
    def __init__(self, source: str, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(source, f"HTTP {status_code}")


class UpstreamBadResponse(UpstreamError):
    reason = "unreadable response"


class UpstreamProtocolError(UpstreamError):
    """The source's answer broke HTTP (a malformed status line or chunk): not retried."""

    reason = "malformed HTTP answer"


class UpstreamCircuitOpen(UpstreamError):
    reason = "circuit open: source recently failing"


class AuditWriteError(MinPlanError):
    """The access log could not be written; the read it records must not be answered."""
