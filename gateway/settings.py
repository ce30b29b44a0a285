"""Settings, read once at start from ``MINPLAN_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError
from core.sources import REQUIRED_SOURCES, SOURCE_NAMES

from .jwks import jwks_path
from .ratelimit import parse_rate_limit

__all__ = ["DEV_PSEUDONYM_KEY", "REQUIRED_SOURCES", "SOURCE_NAMES", "Settings", "explain"]

#: The demo's pseudonym key; refused when real sources are configured.
DEV_PSEUDONYM_KEY = "minplan-dev-pseudonym-key"
#: A timeout or deadline: positive and at most a minute (no inf or nan). Nothing else bounds
#: how long a search may take, and a plan that waits longer helps no one.
Seconds = Annotated[float, Field(gt=0, le=60)]


class Settings(BaseSettings):
    """All settings. Nested ones use ``__``: ``MINPLAN_SOURCE_JOURNAL__TIMEOUT=1.5``.

    The contract's flat names (``MINPLAN_SOURCE_JOURNAL_URL``) are read too.
    """

    model_config = SettingsConfigDict(
        env_prefix="MINPLAN_",
        env_nested_delimiter="__",
        extra="ignore",
        # A value may be a secret (the pseudonym key, a password in a URL): errors name
        # the variable, never echo what it holds.
        hide_input_in_errors=True,
    )

    # Sources: the contract names MINPLAN_SOURCE_<NAME>_URL. Only diagnoses and consent are
    # required (once any source is set): a region may go live before the others.
    source_diagnoses_url: str | None = None
    source_appointments_url: str | None = None
    source_journal_url: str | None = None
    source_careplan_url: str | None = None
    source_pro_url: str | None = None
    source_prevention_url: str | None = None
    source_consent_url: str | None = None
    source_observations_url: str | None = None
    source_medication_url: str | None = None
    source_listing_url: str | None = None
    source_timeout: Seconds = Field(2.0, description="default per-source timeout, seconds")
    source_timeouts: dict[str, Seconds] = Field(
        default_factory=dict, description='per-source overrides, JSON: {"journal": 1.5}'
    )
    source_page_size: int = Field(100, ge=1, le=1000, description="_count on every search")
    source_batch_size: int = Field(
        10, ge=1, le=500, description="patients per search request (concurrent plans share one)"
    )
    batch_size: int = Field(
        50, ge=1, le=500, description="patients per search of a work-list read (contract §4)"
    )
    listing_page_size: int = Field(
        1000, ge=1, le=5000, description="_count on the listing source's searches"
    )
    source_max_pages: int = Field(50, ge=1, description="stop following next links after this")
    request_deadline: Seconds = Field(5.0, description="whole plan request, seconds")

    # Alerts (contract §5, v2)
    plan_deadline_days: int = Field(
        30, ge=0, description="days after a package's diagnosis before NO_PLAN is raised"
    )

    # Auth
    auth_issuer: str | None = None
    auth_jwks_url: str | None = None
    auth_audience: str = "minplan"
    auth_leeway: float = Field(30.0, ge=0, description="clock skew allowed on exp/nbf")
    auth_max_token_lifetime: float = Field(
        86_400.0, gt=0, description="seconds a token's exp may lie ahead (plus the leeway)"
    )

    # Cache, access log
    cache_url: str = "memory://"
    cache_ttl: float = Field(30.0, ge=0)
    cache_ttls: dict[str, float] = Field(
        default_factory=dict, description='per-source overrides, JSON: {"journal": 60}'
    )
    cache_max_entries: int = Field(
        10_000, ge=0, description="memory cache: entries kept at most (8 per patient)"
    )
    consent_cache_ttl: float = Field(
        5.0, ge=0, description="at most this fresh for consent: a new block applies within it"
    )
    stale_ttl: float = Field(600.0, ge=0)
    audit_url: str = "sqlite:///minplan-access-log.sqlite3"
    pseudonym_key: str = Field(
        DEV_PSEUDONYM_KEY,
        description="HMAC key for CPR pseudonyms in logs and the access log; set in production",
    )

    # Resilience
    breaker_threshold: int = Field(5, ge=1, description="failures before a source's circuit opens")
    breaker_cooldown: float = Field(2.0, gt=0, description="seconds a circuit stays open")
    retries: int = Field(1, ge=0, le=5, description="extra attempts for a failed GET")

    # HTTP
    http_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    http_max_connections: int = Field(200, ge=1)

    # GraphQL
    max_query_depth: int = Field(12, ge=2)
    max_aliases: int = Field(30, ge=1)
    max_tokens: int = Field(2000, ge=10)
    playground: bool = True
    trusted_documents: Path | None = Field(
        None,
        description='manifest of the only documents run, JSON {"sha256:<hex>": "<document>"} '
        "(contract §4); unset: any document",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='browser origins allowed to call /graphql, JSON: ["https://app.example"]',
    )

    # The HTTP edge: what one connection or request may cost before it is refused.
    max_body_bytes: int = Field(
        65_536, ge=1024, description="largest POST body, or GET query string, on /graphql (bytes)"
    )
    header_timeout: Seconds = Field(5.0, description="seconds to send a whole request head")
    body_timeout: Seconds = Field(10.0, description="seconds to send a whole request body")
    keep_alive_timeout: int = Field(
        5, ge=1, le=60, description="whole seconds an idle connection stays open"
    )

    # Rate limit (contract §4): per caller, shared through Redis when cache_url is redis://.
    rate_limit: str | None = Field(
        None, description="per caller, e.g. 120/minute or 10/second; 600/hour; unset: none"
    )

    # Shutdown (contract §4): how long requests in flight may run on after SIGTERM.
    # Whole seconds, as uvicorn takes them; keep it below the orchestrator's own grace
    # period, so the server, not a SIGKILL, ends the requests that overrun it.
    shutdown_grace_s: int = Field(
        10, ge=1, le=300, description="whole seconds requests in flight may take after SIGTERM"
    )

    log_level: str = "INFO"

    @field_validator("source_timeouts", "cache_ttls")
    @classmethod
    def _known_sources(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SOURCE_NAMES))
        if unknown:
            raise ValueError(f"unknown source name(s) {unknown}; known: {list(SOURCE_NAMES)}")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            try:
                parse_rate_limit(value)
            except ValueError:
                raise PydanticCustomError(
                    "config", "must be N/period, e.g. 120/minute (or several, split by ;)"
                ) from None
            return value.strip()
        return None

    @field_validator("auth_jwks_url")
    @classmethod
    def _jwks_url_is_readable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                jwks_path(value)
            except ConfigError:
                raise PydanticCustomError(
                    "config", "must be an http(s):// URL or file:///absolute/path"
                ) from None
        return value

    @model_validator(mode="after")
    def _real_sources_are_complete(self) -> Self:
        """With real sources: diagnoses and consent, a secret pseudonym key, an identity provider.

        Each problem is one error located at its setting, so ``minplan serve`` names every
        variable to fix in one go.
        """
        if self.demo:
            return self
        problems = [
            (
                f"source_{name}_url",
                "missing: required whenever any source is configured (set none for the "
                "embedded demo)",
            )
            for name in self.missing_required_sources()
        ]
        if self.pseudonym_key == DEV_PSEUDONYM_KEY or len(self.pseudonym_key) < 32:
            problems.append(
                (
                    "pseudonym_key",
                    "must be a secret of at least 32 characters when real sources are "
                    "configured: with a known key, the pseudonyms in the access log could be "
                    "reversed by trying every CPR",
                )
            )
        problems += [
            (
                name,
                "missing: required when real sources are configured (its default, the "
                "demo's dev issuer, holds for the embedded demo only)",
            )
            for name in ("auth_issuer", "auth_jwks_url")
            if not getattr(self, name)
        ]
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("config", message),
                        loc=(field,),
                        input=None,
                    )
                    for field, message in problems
                ],
                hide_input=True,
            )
        return self

    def source_url(self, name: str) -> str | None:
        url: str | None = getattr(self, f"source_{name}_url")
        return url.rstrip("/") if url else None

    def timeout_for(self, name: str) -> float:
        return self.source_timeouts.get(name, self.source_timeout)

    def ttl_for(self, name: str) -> float:
        """The configured fresh TTL of a source (the consent policy caps consent's)."""
        return self.cache_ttls.get(name, self.cache_ttl)

    @property
    def demo(self) -> bool:
        """True when no source is configured: serve the embedded demo."""
        return all(self.source_url(n) is None for n in SOURCE_NAMES)

    def configured_sources(self) -> list[str]:
        """The sources with a URL, in the contract's order."""
        return [n for n in SOURCE_NAMES if self.source_url(n) is not None]

    def missing_required_sources(self) -> list[str]:
        return [n for n in REQUIRED_SOURCES if self.source_url(n) is None]


def explain(error: ValidationError) -> list[str]:
    """One line per problem, naming the environment variable and never its value.

    >>> try:
    ...     Settings(source_timeout="soon")
    ... except ValidationError as exc:
    ...     explain(exc)[0].split(":")[0]
    'MINPLAN_SOURCE_TIMEOUT'
    """
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        variable = "MINPLAN_" + "__".join(str(part) for part in problem["loc"]).upper()
        lines.append(f"{variable}: {problem['msg']}")
    return lines
