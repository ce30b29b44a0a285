"""Which media type a GraphQL answer is sent as (GraphQL over HTTP, the draft specification)."""

from __future__ import annotations

__all__ = ["GRAPHQL_RESPONSE_JSON", "response_media_type"]

#: The GraphQL-over-HTTP media type, in the answers that carry it.
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json; charset=utf-8"
_APPLICATION_JSON = "application/json"


def response_media_type(accept: str | None) -> str:
    """The media type of the answer: the client's preferred one of the two we speak.

    ``application/graphql-response+json`` when the client accepts it at least as much as
    ``application/json`` (a tie goes to it, the specification's type); ``application/json``
    otherwise, for ``*/*``, for no ``Accept`` at all, and for types we do not speak (the
    specification lets a server answer those with its default rather than 406).

    >>> response_media_type("application/graphql-response+json, application/json;q=0.9")
    'application/graphql-response+json; charset=utf-8'
    >>> response_media_type("*/*")
    'application/json'
    """
    best = {GRAPHQL_RESPONSE_JSON: 0.0, _APPLICATION_JSON: 0.0}
    for part in (accept or "").split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.strip().lower()
        if media == "application/graphql-response+json":
            best[GRAPHQL_RESPONSE_JSON] = max(best[GRAPHQL_RESPONSE_JSON], quality)
        elif media in ("application/json", "application/*", "*/*"):
            best[_APPLICATION_JSON] = max(best[_APPLICATION_JSON], quality)
    wants_spec = best[GRAPHQL_RESPONSE_JSON] > 0 and (
        best[GRAPHQL_RESPONSE_JSON] >= best[_APPLICATION_JSON]
    )
    return GRAPHQL_RESPONSE_JSON if wants_spec else _APPLICATION_JSON
