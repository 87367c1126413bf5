"""Free TCP ports for test servers that must know their port before they start."""

from __future__ import annotations

import random
import socket

# Below the kernel's ephemeral range (32768-60999 here), so an outgoing connection
# (asyncpg, Redis, Chromium) cannot take the port between this check and the bind.
_LOW, _HIGH = 20000, 32000


def free_port() -> int:
    """A port nothing listens on now, outside the range the kernel hands to outgoing sockets."""
    for _ in range(200):
        port = random.randint(_LOW, _HIGH)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {_LOW} and {_HIGH}")
