"""Presence: who is online and who views or types in which thread, live and as a snapshot."""

from __future__ import annotations

from typing import Any

from routing.audience import Audience
from routing.bus import BusEvent
from routing.presence import PresenceTable
from tests.helpers import ORIGIN, browser, recv_frame, sign_in


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


def test_table_merges_sockets_and_expires() -> None:
    now = [0.0]
    table = PresenceTable(clock=lambda: now[0])

    def report(connection: str, state: str, conv: int | None = None, typing: bool = False) -> None:
        body = {
            "type": "presence.changed",
            "user_id": 7,
            "connection": connection,
            "state": state,
            "conversation_id": conv,
            "typing": typing,
        }
        table.apply(BusEvent.build(1, Audience.practice(), body))

    report("a", "away")
    report("b", "online", conv=3, typing=True)
    assert table.snapshot() == [{"user_id": 7, "state": "online", "viewing": [3], "typing": [3]}]
    now[0] = 10.0  # typing goes stale before presence does
    assert table.snapshot()[0]["typing"] == []
    report("b", "offline")
    assert table.snapshot() == [{"user_id": 7, "state": "away", "viewing": [], "typing": []}]
    now[0] = 200.0
    assert table.snapshot() == []


async def test_viewing_and_typing_reach_colleagues_and_leaving_clears_it(served: Any) -> None:
    p = served.practice
    async with browser() as admin, browser() as north:
        await sign_in(admin, base(served), p.admin)
        north_s = await sign_in(north, base(served), p.staff_a)
        ws_admin = await admin.ws_connect(f"{base(served)}/ws", headers={"Origin": ORIGIN})
        await ws_admin.send_json({"id": 1, "type": "subscribe"})
        await recv_frame(ws_admin)
        ws_north = await north.ws_connect(f"{base(served)}/ws", headers={"Origin": ORIGIN})
        await ws_north.send_json({"id": 1, "type": "presence", "conversation_id": p.conv_b})
        assert (await recv_frame(ws_north))["error"]["code"] == "not_found"
        await ws_north.send_json({"id": 2, "type": "presence", "conversation_id": p.conv_a, "typing": True})
        assert (await recv_frame(ws_north))["success"]
        event = (await recv_frame(ws_admin))["event"]
        assert event["type"] == "presence.changed" and event["user_id"] == north_s["user_id"]
        assert event["conversation_id"] == p.conv_a and event["typing"] is True
        await ws_admin.send_json({"id": 2, "type": "presence_snapshot"})
        snapshot = (await recv_frame(ws_admin))["result"]
        assert snapshot == [
            {"user_id": north_s["user_id"], "state": "online", "viewing": [p.conv_a], "typing": [p.conv_a]}
        ]
        await ws_north.close()
        gone = (await recv_frame(ws_admin))["event"]
        assert gone["state"] == "offline" and gone["user_id"] == north_s["user_id"]
        await ws_admin.send_json({"id": 3, "type": "presence_snapshot"})
        assert (await recv_frame(ws_admin))["result"] == []
