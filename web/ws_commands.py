"""WebSocket commands: each is one function registered with its type and its pydantic model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from comms.errors import Conflict
from routing.audience import Audience
from routing.hub import SESSION_ENDED
from routing.presence import PRESENCE
from schemas.ws import Ping, PresenceReport, PresenceSnapshot, ResultOk, Resync, Subscribe
from web.ws_connection import NO_REPLY, WsConnection

M = TypeVar("M", bound=BaseModel)
CommandHandler = Callable[[WsConnection, Any], Awaitable[Any]]


@dataclass(frozen=True)
class CommandSpec:
    model: type[BaseModel]
    handler: CommandHandler


COMMANDS: dict[str, CommandSpec] = {}
# Control and ephemeral events: stale on arrival, so a resuming client is not sent them again
# (it asks for a fresh presence snapshot when it reconnects).
NOT_REPLAYED = frozenset({SESSION_ENDED, PRESENCE})


def command(
    type_: str, model: type[M]
) -> Callable[[Callable[[WsConnection, M], Awaitable[Any]]], CommandHandler]:
    """Register a handler for a command type; the model validates the message before the handler runs."""

    def register(handler: Callable[[WsConnection, M], Awaitable[Any]]) -> CommandHandler:
        COMMANDS[type_] = CommandSpec(model, handler)
        return handler

    return register


@command("ping", Ping)
async def ping(conn: WsConnection, msg: Ping) -> dict[str, Any]:
    """Application-level liveness, for browsers that cannot see protocol pings."""
    return {"pong": True, "last_event_id": await conn.bus.latest_id()}


@command("subscribe", Subscribe)
async def subscribe(conn: WsConnection, msg: Subscribe) -> object:
    """Go live; with last_event_id, first replay exactly what was missed, or say resync."""
    sub = conn.subscriber
    if sub.live:
        raise Conflict("already subscribed on this socket")
    sub.live = True  # from here on live events queue up; the replay below is merged in before them
    if msg.last_event_id is None:
        latest = await conn.bus.latest_id()
        conn.start_streaming()  # nothing awaits between here and the result being queued
        return {"last_event_id": latest, "replayed": 0}
    missed = await conn.bus.since(msg.last_event_id)
    if missed is None:
        latest = await conn.bus.latest_id()
        conn.send_now(
            ResultOk(
                id=msg.id, result={"last_event_id": latest, "replayed": 0, "resync": True}
            ).model_dump_json()
        )
        conn.send_now(Resync(last_event_id=latest).model_dump_json())
        conn.start_streaming()
        return NO_REPLY
    mine = [e for e in missed if e.audience.admits(sub.viewer) and e.type not in NOT_REPLAYED]
    last = missed[-1].id if missed else msg.last_event_id
    # The result goes first, then the replay merged with whatever arrived live meanwhile.
    conn.send_now(
        ResultOk(id=msg.id, result={"last_event_id": last, "replayed": len(mine)}).model_dump_json()
    )
    sub.outbox.replace_with_replay(mine)
    conn.start_streaming()  # live events now queue behind the replay until it has gone out
    return NO_REPLY


@command("presence", PresenceReport)
async def presence(conn: WsConnection, msg: PresenceReport) -> dict[str, Any]:
    """Report this socket's state; every node's presence table and every staff browser hear it."""
    if msg.conversation_id is not None:
        await conn.require_conversation(msg.conversation_id)
    conn.reported_presence = True
    await conn.bus.publish(
        {
            "type": PRESENCE,
            "user_id": conn.info.actor.user_id,
            "connection": conn.connection_id,
            "state": msg.state,
            "conversation_id": msg.conversation_id,
            "typing": msg.typing,
        },
        Audience.practice(),
    )
    return {"ok": True}


@command("presence_snapshot", PresenceSnapshot)
async def presence_snapshot(conn: WsConnection, msg: PresenceSnapshot) -> list[dict[str, Any]]:
    """Everyone's presence now, for a client that just connected."""
    return conn.presence.snapshot()
