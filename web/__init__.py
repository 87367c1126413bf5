"""The aiohttp application: app factory, handlers, sessions, UI and CLI."""
