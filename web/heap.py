"""The start-up heap is set aside from the garbage collector once the server is ready.

What starting makes (modules, table metadata, pydantic schemas, routes) lives as long as the process.
Left to the collector, every full collection walks all of it again: 60 to 80 ms in which no request, webhook
or socket write moves, once every few hundred requests. Frozen, a full collection walks only what was
made since.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

from aiohttp import web


def settle() -> None:
    """Collect what starting left as garbage, then freeze the rest out of later collections."""
    gc.collect()
    gc.freeze()


async def heap_ctx(app: web.Application) -> AsyncIterator[None]:
    """The server's last cleanup context (`app.run`), so what the others opened is set aside too; tests
    that build many apps in one process leave it out."""
    settle()
    yield
    gc.unfreeze()
