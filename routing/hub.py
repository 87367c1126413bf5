"""Per-process hub of WebSocket connections: fan-out without ever awaiting a socket in the loop.

Each connection owns a bounded outbox and one writer task (in `web`); the hub only appends the
already-serialized frame. A connection whose outbox overflows is closed and will resume by event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from routing.audience import Viewer
from routing.bus import BusEvent

log = logging.getLogger(__name__)

SESSION_ENDED = "session.ended"

CLOSE_TOO_SLOW = 4008
CLOSE_SESSION_ENDED = 4001


class Outbox:
    """Frames waiting for one socket, in order; events carry ids so replays can be de-duplicated."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[tuple[int | None, str]] = deque()
        self._ready = asyncio.Event()
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event_id: int | None, frame: str) -> bool:
        """Queue a frame; False when the outbox is over its limit (the caller closes the socket)."""
        if self.closed:
            return True
        if len(self._items) >= self.limit:
            return False
        self._items.append((event_id, frame))
        self._ready.set()
        return True

    def replace_with_replay(self, replay: Iterable[BusEvent]) -> None:
        """Put missed events first, then what arrived live meanwhile, ordered by id, each once."""
        live = list(self._items)
        events: dict[int, str] = {e.id: e.frame for e in replay}
        others = [(i, f) for i, f in live if i is None]
        events.update({i: f for i, f in live if i is not None})
        self._items = deque(others + sorted(events.items()))
        if self._items:
            self._ready.set()

    async def get(self) -> tuple[int | None, str]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    async def get_batch(self, most: int) -> list[tuple[int | None, str]]:
        """Wait for at least one frame, then take all that queued meanwhile (one socket write for all)."""
        first = await self.get()
        batch = [first]
        while self._items and len(batch) < most:
            batch.append(self._items.popleft())
        return batch

    def close(self) -> None:
        self.closed = True
        self._items.clear()
        self._ready.set()


class Subscriber:
    """One staff socket as the hub sees it: who it is, its outbox, and how to close it."""

    def __init__(
        self, viewer: Viewer, limit: int, close: Callable[[int, str], Coroutine[Any, Any, None]]
    ) -> None:
        self.viewer = viewer
        self.outbox = Outbox(limit)
        self.live = False
        # Set once the socket is streaming: writes an event straight to an idle socket (True), or
        # declines (False) and the event queues in the outbox, which keeps order behind what waits.
        self.deliver_now: Callable[[BusEvent], bool] | None = None
        self._close = close
        self._closing = False

    def request_close(self, code: int, reason: str) -> None:
        """Close from synchronous code; the socket's own task does the awaiting."""
        if self._closing:
            return
        self._closing = True
        self.outbox.close()
        asyncio.get_running_loop().create_task(self._close(code, reason))


class Hub:
    """All staff sockets of this process; the bus calls `dispatch` once per event."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        # Location events are the common case: index sockets by location so fan-out touches only those.
        self._by_location: dict[int, set[Subscriber]] = {}
        self._every_location: set[Subscriber] = set()
        self.delivered = 0
        self.dropped_slow = 0

    def __len__(self) -> int:
        return len(self._subscribers)

    def add(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)
        locations = subscriber.viewer.locations
        if locations is None:
            self._every_location.add(subscriber)
        else:
            for location in locations:
                self._by_location.setdefault(location, set()).add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        self._every_location.discard(subscriber)
        for location in subscriber.viewer.locations or ():
            members = self._by_location.get(location)
            if members is not None:
                members.discard(subscriber)
                if not members:
                    del self._by_location[location]

    def _candidates(self, event: BusEvent) -> tuple[list[Subscriber], bool]:
        """Who may get the event, and whether the location index already applied its audience (a
        location event reaches admins and that location's staff: exactly whom the index lists)."""
        audience = event.audience
        if audience.kind != "locations":
            return list(self._subscribers), False
        found = set(self._every_location)
        for location in audience.ids:
            found |= self._by_location.get(location, set())  # type: ignore[arg-type]
        return list(found), True

    def sessions(self) -> set[str]:
        """The sessions this process's sockets were opened with."""
        return {sub.viewer.session_id for sub in self._subscribers}

    def close_sessions(self, alive: set[str], code: int, reason: str) -> int:
        """Close every socket whose session is not among `alive`; how many were closed."""
        ended = [sub for sub in self._subscribers if sub.viewer.session_id not in alive]
        for sub in ended:
            sub.request_close(code, reason)
        return len(ended)

    def close_all(self, code: int, reason: str) -> None:
        for sub in list(self._subscribers):
            sub.request_close(code, reason)

    def dispatch(self, event: BusEvent) -> None:
        """Queue the event's one serialized frame to every live subscriber its audience admits."""
        if event.type == SESSION_ENDED:
            for sub in list(self._subscribers):
                if event.audience.admits(sub.viewer):
                    sub.request_close(CLOSE_SESSION_ENDED, "session ended")
            return
        candidates, screened = self._candidates(event)
        for sub in candidates:
            if not sub.live or not (screened or event.audience.admits(sub.viewer)):
                continue
            if sub.deliver_now is not None and sub.deliver_now(event):
                self.delivered += 1
            elif sub.outbox.put(event.id, event.frame):
                self.delivered += 1
            else:
                self.dropped_slow += 1
                log.info("closing a slow WebSocket (user %s): outbox over its limit", sub.viewer.user_id)
                sub.request_close(CLOSE_TOO_SLOW, "too slow: resume with your last event id")
