"""WebSocket commands: each is one function registered with its type and its pydantic model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from comms.errors import Conflict
from schemas.ws import Ping, ResultOk, Resync, Subscribe
from web.ws_connection import NO_REPLY, WsConnection

M = TypeVar("M", bound=BaseModel)
CommandHandler = Callable[[WsConnection, Any], Awaitable[Any]]


@dataclass(frozen=True)
class CommandSpec:
    model: type[BaseModel]
    handler: CommandHandler


COMMANDS: dict[str, CommandSpec] = {}


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
        return {"last_event_id": await conn.bus.latest_id(), "replayed": 0}
    missed = await conn.bus.since(msg.last_event_id)
    if missed is None:
        latest = await conn.bus.latest_id()
        conn.send_now(
            ResultOk(
                id=msg.id, result={"last_event_id": latest, "replayed": 0, "resync": True}
            ).model_dump_json()
        )
        conn.send_now(Resync(last_event_id=latest).model_dump_json())
        return NO_REPLY
    mine = [e for e in missed if e.audience.admits(sub.viewer) and e.type != "session.ended"]
    last = missed[-1].id if missed else msg.last_event_id
    # The result goes first, then the replay merged with whatever arrived live meanwhile.
    conn.send_now(
        ResultOk(id=msg.id, result={"last_event_id": last, "replayed": len(mine)}).model_dump_json()
    )
    sub.outbox.replace_with_replay(mine)
    return NO_REPLY
