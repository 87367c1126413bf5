"""Two `frontdesk serve` processes on one PostgreSQL: concurrent bookings of one slot through both
nodes, exactly one succeeds, and the booking reaches the staff connected to the other node."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.helpers import ORIGIN, Practice, browser, sign_in
from tests.schedule_helpers import api, at, next_weekday
from tests.test_cluster import _connect, _recv, cluster_config, two_nodes

__all__ = ["cluster_config", "two_nodes"]  # the fixtures this module uses


async def test_racing_bookings_through_two_server_processes_book_once(
    two_nodes: tuple[str, str, Practice],
) -> None:
    node_a, node_b, p = two_nodes
    monday = next_weekday(0)
    async with browser() as http:
        admin = (await sign_in(http, node_a, p.admin))["csrf_token"]
        provider = await api(
            http,
            "POST",
            f"{node_a}/api/v1/providers",
            admin,
            {"name": "Dr Rivera", "location_ids": [p.loc_a]},
            201,
        )
        week = [
            {"location_id": p.loc_a, "weekday": d, "starts": "09:00", "ends": "17:00"} for d in ("mon", "tue")
        ]
        await api(http, "PUT", f"{node_b}/api/v1/providers/{provider['id']}/hours", admin, {"hours": week})
        kind = await api(
            http,
            "POST",
            f"{node_a}/api/v1/appointment-types",
            admin,
            {"name": "Cleaning", "duration_minutes": 30, "buffer_minutes": 10},
            201,
        )
    async with browser() as http:
        session = await sign_in(http, node_a, p.staff_a)
        csrf = session["csrf_token"]
        cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
        ws_b = await _connect(node_b, cookie)
        await ws_b.send(json.dumps({"id": 1, "type": "subscribe"}))
        assert (await _recv(ws_b))["success"] is True

        async def attempt(node: str, minute: int) -> tuple[int, Any]:
            body = {"provider_id": provider["id"], "type_id": kind["id"], "starts_at": at(monday, 10, minute)}
            async with http.post(
                f"{node}/api/v1/conversations/{p.conv_a}/appointments",
                json=body,
                headers={"X-CSRF-Token": csrf, "Origin": ORIGIN},
            ) as resp:
                return resp.status, await resp.json()

        results = await asyncio.gather(*(attempt((node_a, node_b)[i % 2], 5 * (i % 3)) for i in range(8)))
        statuses = sorted(status for status, _ in results)
        assert statuses == [201] + [409] * 7, results
        won = next(body for status, body in results if status == 201)
        assert all(
            body["error"]["message"] == "that time is already booked for this provider"
            for status, body in results
            if status == 409
        )
        while True:  # the winner's item reaches the other node's staff, whichever node booked it
            frame = await _recv(ws_b)
            item = frame.get("event", {}).get("item", {})
            if item.get("kind") == "appointment":
                assert item["meta"]["appointment_id"] == won["id"]
                break
        await ws_b.close()
        upcoming = await api(http, "GET", f"{node_b}/api/v1/contacts/{won['contact_id']}/appointments", csrf)
        assert [a["id"] for a in upcoming] == [won["id"]]
