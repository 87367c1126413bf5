"""Automatic logoff reaches open sockets: one check per process for all of them, not one per socket.

Sign-out and "sign out everywhere" close sockets at once over the bus; an idle timeout or the absolute
lifetime passes without an event, so every `session_check_seconds` the sessions this process's sockets
were opened with are read in a few statements and the sockets of any that ended are closed. (A task and
a query per socket cost 3,000 statements a period and a task's memory per socket at 3,000 sockets.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from comms import auth
from comms.services import Services
from routing.hub import CLOSE_SESSION_ENDED, Hub
from web.keys import HUB, SERVICES, SETTINGS

log = logging.getLogger(__name__)


async def close_ended(hub: Hub, services: Services) -> int:
    """One pass: close the sockets whose sessions ended; how many were closed."""
    held = hub.sessions()
    if not held:
        return 0
    alive = await auth.sessions_alive(services, held)
    return hub.close_sessions(alive, CLOSE_SESSION_ENDED, "session ended")


async def watch_forever(hub: Hub, services: Services, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await close_ended(hub, services)
        except Exception:  # a database hiccup must not end the watch; the next pass retries
            log.exception("checking the sockets' sessions failed")


async def session_watch_ctx(app: web.Application) -> AsyncIterator[None]:
    """Runs after the hub and the services exist."""
    every = app[SETTINGS].websocket.session_check_seconds
    task = asyncio.create_task(watch_forever(app[HUB], app[SERVICES], every), name="ws-session-watch")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
