"""The Min Plan gateway: app, settings, auth, consent, cache, access log."""
