"""Two `frontdesk serve` processes on one PostgreSQL: a cancelled time offered to the waitlist, and
two patients tapping their links at once through different nodes: exactly one is booked."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from comms.db import make_engine, make_sessionmaker
from comms.models import TimelineItem
from comms.schedule_models import Appointment
from comms.services import Services
from routing.bus import InProcessBus
from tests.conftest import PG_URL, make_settings
from tests.helpers import ORIGIN, Practice, browser, new_conversation, sign_in
from tests.schedule_helpers import api, at, next_weekday
from tests.test_cluster import cluster_config, two_nodes

__all__ = ["cluster_config", "two_nodes"]  # the fixtures this module uses
LINK = re.compile(r"/w/([A-Za-z0-9_-]+)")


@pytest.fixture
async def store(cluster_config: tuple[Path, Practice]) -> AsyncIterator[Services]:
    """Direct access to the nodes' schema (to add patients and read the texts they were sent)."""
    schema = re.search(r'schema = "([^"]+)"', cluster_config[0].read_text())
    assert schema is not None
    settings = make_settings({"url": PG_URL, "schema": schema.group(1)})
    engine = make_engine(settings.database)
    try:
        yield Services(settings, make_sessionmaker(engine), InProcessBus())
    finally:
        await engine.dispose()


async def test_two_patients_tapping_through_two_nodes_book_once(
    two_nodes: tuple[str, str, Practice], store: Services
) -> None:
    node_a, node_b, p = two_nodes
    monday = next_weekday(0)
    waiting = [
        await new_conversation(store, p.practice_id, p.loc_a, f"Tap{i} Racer", f"+1202555017{i}")
        for i in range(2)
    ]
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
        csrf = (await sign_in(http, node_a, p.staff_a))["csrf_token"]
        for conv in waiting:
            body = {"type_id": kind["id"], "earliest": str(monday), "latest": str(monday)}
            await api(http, "POST", f"{node_b}/api/v1/conversations/{conv}/waitlist", csrf, body, 201)
        body = {"provider_id": provider["id"], "type_id": kind["id"], "starts_at": at(monday, 10)}
        booked = await api(
            http, "POST", f"{node_a}/api/v1/conversations/{p.conv_a}/appointments", csrf, body, 201
        )
        await api(
            http, "POST", f"{node_b}/api/v1/appointments/{booked['id']}/status", csrf, {"status": "cancelled"}
        )

    tokens = []
    async with store.read() as s:
        for conv in waiting:
            bodies = await s.scalars(
                select(TimelineItem.body).where(
                    TimelineItem.conversation_id == conv, TimelineItem.kind == "sms"
                )
            )
            found = [m.group(1) for b in bodies if (m := LINK.search(b))]
            assert len(found) == 1
            tokens.append(found[0])

    async with browser() as patient:

        async def tap(node: str, token: str) -> int:
            async with patient.post(f"{node}/w/{token}", headers={"Origin": ORIGIN}) as resp:
                return resp.status

        results = await asyncio.gather(tap(node_a, tokens[0]), tap(node_b, tokens[1]))
    assert sorted(results) == [200, 410], results
    async with store.read() as s:
        rows = list(
            await s.scalars(
                select(Appointment.conversation_id).where(
                    Appointment.provider_id == provider["id"], Appointment.status == "scheduled"
                )
            )
        )
    assert rows == [waiting[results.index(200)]]
