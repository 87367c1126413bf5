"""Who is online, away or on a call, and who is viewing or typing in which thread, across every node.

Each socket reports its state; the report travels on the bus like any event, so every node keeps the
same table. Entries expire unless refreshed, so a node that dies takes its sockets' presence with it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from routing.bus import BusEvent

PRESENCE = "presence.changed"
TTL_SECONDS = 90.0  # clients refresh every 30 s; three missed refreshes and the entry is gone
TYPING_SECONDS = 8.0  # a "typing" flag older than this reads as not typing


@dataclass
class Entry:
    user_id: int
    connection: str
    state: str
    conversation_id: int | None
    typing: bool
    seen: float


class PresenceTable:
    """This node's copy of everyone's presence, fed by presence events from the bus."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._entries: dict[str, Entry] = {}
        self._clock = clock

    def apply(self, event: BusEvent) -> None:
        """Record one socket's report; state "offline" removes the socket."""
        if event.type != PRESENCE:
            return
        body = json.loads(event.frame)["event"]
        connection = str(body["connection"])
        if body["state"] == "offline":
            self._entries.pop(connection, None)
            return
        self._entries[connection] = Entry(
            int(body["user_id"]),
            connection,
            str(body["state"]),
            body.get("conversation_id"),
            bool(body.get("typing")),
            self._clock(),
        )

    def snapshot(self) -> list[dict[str, Any]]:
        """One row per staff member: the liveliest of their sockets' states, and where they are."""
        now = self._clock()
        rank = {"on_call": 3, "online": 2, "away": 1}
        best: dict[int, dict[str, Any]] = {}
        for key, entry in list(self._entries.items()):
            if now - entry.seen > TTL_SECONDS:
                del self._entries[key]
                continue
            row = best.get(entry.user_id)
            viewing = [entry.conversation_id] if entry.conversation_id else []
            typing = (
                [entry.conversation_id]
                if entry.typing and entry.conversation_id and (now - entry.seen < TYPING_SECONDS)
                else []
            )
            if row is None:
                best[entry.user_id] = {
                    "user_id": entry.user_id,
                    "state": entry.state,
                    "viewing": viewing,
                    "typing": typing,
                }
                continue
            if rank.get(entry.state, 0) > rank.get(row["state"], 0):
                row["state"] = entry.state
            row["viewing"] = sorted(set(row["viewing"]) | set(viewing))
            row["typing"] = sorted(set(row["typing"]) | set(typing))
        return sorted(best.values(), key=lambda r: r["user_id"])
