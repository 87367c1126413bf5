"""One staff WebSocket: its subscriber in the hub and the single task that writes to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct

from aiohttp import web
from sqlalchemy import select

from comms import auth
from comms.errors import NotFound
from comms.models import Conversation
from comms.services import Services
from routing.audience import Audience
from routing.bus import Bus, BusEvent
from routing.hub import Subscriber
from routing.presence import PRESENCE, PresenceTable

log = logging.getLogger(__name__)

# Returned by a command that queued its own result (to order it before frames it also queues).
NO_REPLY = object()
# Frames sent in one message at most; bounds a message's size while a long replay drains.
BATCH_MOST = 256
# Bytes the socket may hold unsent before events stop going straight to it and queue (the writer
# task then waits for the client to read); a stalled client fills its outbox and is closed.
DIRECT_BUFFER_MOST = 64 * 1024
# The last event's WebSocket frame, shared by every socket it goes to; keyed by the event itself
# (two apps in one process, as in tests, may each have an event with the same id).
_wire: tuple[BusEvent | None, bytes] = (None, b"")


def event_frame(event: BusEvent) -> bytes:
    """An event as one unmasked WebSocket text frame (RFC 6455 5.2), built once for all recipients."""
    global _wire
    if _wire[0] is not event:
        payload = event.frame.encode()
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x81, 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 127, size)
        _wire = (event, header + payload)
    return _wire[1]


class WsConnection:
    """Ties the hub's view of a socket to the socket; only the writer task ever sends on it."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        info: auth.SessionInfo,
        services: Services,
        presence: PresenceTable,
        queue_limit: int,
        transport: asyncio.Transport | None = None,
    ):
        self.ws = ws
        self.info = info
        self.services = services
        self.presence = presence
        self.bus: Bus = services.bus
        self.subscriber = Subscriber(info.actor.viewer(), queue_limit, self.close)
        self.last_command_id = 0
        self.connection_id = secrets.token_hex(8)
        self.reported_presence = False
        self.transport = transport
        self.last_sent = 0  # the last event id on the wire: a replay never sends one twice
        self._writer_idle = False  # the writer task waits on an empty outbox, nothing half-sent

    async def require_conversation(self, conversation_id: int) -> None:
        """Presence may only name threads this staff member may open."""
        async with self.services.read() as session:
            location = await session.scalar(
                select(Conversation.location_id).where(Conversation.id == conversation_id)
            )
        if location is None or not self.info.actor.may_see(location):
            raise NotFound("no such conversation")

    async def leave(self) -> None:
        """Tell every node this socket is gone, so its presence disappears at once, not at expiry."""
        if not self.reported_presence:
            return
        with contextlib.suppress(Exception):
            await self.bus.publish(
                {
                    "type": PRESENCE,
                    "user_id": self.info.actor.user_id,
                    "connection": self.connection_id,
                    "state": "offline",
                    "conversation_id": None,
                    "typing": False,
                },
                Audience.practice(),
            )

    def send_now(self, frame: str) -> None:
        """Queue a non-event frame (a result, a resync notice) behind what is already queued."""
        if not self.subscriber.outbox.put(None, frame):
            self.subscriber.request_close(4008, "too slow")

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode())

    def start_streaming(self) -> None:
        """From now on live events may skip the outbox (the subscribe result and replay are queued)."""
        if self.transport is not None:
            self.subscriber.deliver_now = self.deliver_now

    def deliver_now(self, event: BusEvent) -> bool:
        """Write a live event to the socket at once, as the hub dispatches it (no task wake-up, no
        per-socket encoding); False when something still waits in the outbox or the client is
        behind, and the event queues after it instead."""
        transport = self.transport
        if (
            transport is None
            or not self._writer_idle
            or len(self.subscriber.outbox)
            or self.ws.closed
            or transport.is_closing()
            or transport.get_write_buffer_size() > DIRECT_BUFFER_MOST
        ):
            return False
        if event.id > self.last_sent:
            self.last_sent = event.id
            transport.write(event_frame(event))
        return True

    async def write_forever(self) -> None:
        """Drain the outbox in order, skipping event ids already sent; frames that queued up together
        go out as one JSON array in one WebSocket message (one write instead of many)."""
        outbox = self.subscriber.outbox
        while not self.ws.closed:
            self._writer_idle = not len(outbox)
            try:
                batch = await outbox.get_batch(BATCH_MOST)
            finally:
                self._writer_idle = False
            if outbox.closed:
                return
            frames = []
            for event_id, frame in batch:
                if event_id is not None:
                    if event_id <= self.last_sent:
                        continue
                    self.last_sent = event_id
                frames.append(frame)
            if not frames:
                continue
            try:
                await self.ws.send_str(frames[0] if len(frames) == 1 else "[" + ",".join(frames) + "]")
            except (ConnectionResetError, RuntimeError):
                return
