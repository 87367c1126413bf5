"""The client a rate limit counts (staff sign-in, patient forms, waitlist links): one function, so every
limit agrees on who one client is."""

from __future__ import annotations

import ipaddress


def client_key(addr: str | None) -> str:
    """The address a limit counts: an IPv6 client by its /64 (one phone or home line holds all of it and
    may use a new address per request), an IPv4 peer seen through IPv6 as itself."""
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return (addr or "-")[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))  # (a scope id is dropped)
    return str(ip)
