"""Facts about the caller of a request: its address (proxy-aware) and whether its Origin is ours."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from config.settings import Settings


def client_addr(request: web.Request, settings: Settings) -> str | None:
    """The peer address, or the last X-Forwarded-For hop when the peer is a configured proxy."""
    peer = request.remote
    if peer and settings.server.trusted_proxies and _is_trusted(peer, settings.server.trusted_proxies):
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return peer


def _is_trusted(peer: str, proxies: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(p, strict=False) for p in proxies)


def origin_allowed(request: web.Request, settings: Settings) -> bool:
    """True when the browser says the request comes from one of our own pages."""
    origin = request.headers.get("Origin")
    return origin is not None and origin.rstrip("/") in settings.server.origins()
