"""The service, the top layer: HTTP app and routes, auth, settings, CLI, dev tokens, logs.

Import what you need from its modules (``gateway.app.create_app``,
``gateway.settings.Settings``); the package itself imports nothing, so a command such as
``minplan token`` loads only what it uses.
"""

__all__: list[str] = []
