"""The Min Plan gateway: app, settings, auth, consent, plans, cache, access log.

Import what you need from its modules (``gateway.app.create_app``,
``gateway.settings.Settings``); the package itself imports nothing, so that
``core.errors`` or ``core.cpr`` stay cheap to import from the layers below.
"""

__all__: list[str] = []
