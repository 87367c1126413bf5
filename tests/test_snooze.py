"""Snoozes that run out wake the conversation, live, exactly once, even if no node was up at the time."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sqlalchemy import Select, select, update

from comms import inbox, snooze
from comms.access import Actor
from comms.models import Conversation, StaffUser, TimelineItem, utcnow
from comms.services import Services
from routing.bus import BusEvent
from tests.helpers import ORIGIN, browser, inbound, new_conversation, recv_frame, seed_practice, sign_in
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _get(http: Any, url: str) -> Any:
    async with http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_a_snooze_that_runs_out_reopens_the_thread_live_and_moves_it_up(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    other = await new_conversation(services, p.practice_id, p.loc_a, "Lee Later", "+12025550111")
    async with browser() as http:
        session = await sign_in(http, url, p.staff_a)
        ws = await http.ws_connect(f"{url}/ws", headers={"Origin": ORIGIN})
        await ws.send_json({"id": 1, "type": "subscribe", "last_event_id": None})
        assert (await recv_frame(ws))["success"]
        until = utcnow() + dt.timedelta(seconds=1.5)
        async with http.post(
            f"{url}/api/v1/conversations/{p.conv_a}/status",
            json={"status": "snoozed", "snoozed_until": until.isoformat()},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            assert resp.status == 200
        await inbound(services, other, "Is my appointment still on?")  # newer activity than conv_a's
        listing = await _get(http, f"{url}/api/v1/conversations?status=open")
        assert [c["id"] for c in listing["items"]] == [other]

        woken = None
        while woken is None:  # the waker sleeps until the snooze ends, told of it by the bus
            frame = await recv_frame(ws, timeout=10)
            event = frame.get("event", {})
            if event.get("type") == "conversation.updated" and event["conversation"]["id"] == p.conv_a:
                if event["conversation"]["status"] != "snoozed":  # not the snooze's own announcement
                    woken = event["conversation"]
        assert woken["status"] == "open" and woken["snoozed_until"] is None
        assert utcnow() >= until
        assert dt.datetime.fromisoformat(woken["last_item_at"]) == until
        await ws.close()

        listing = await _get(http, f"{url}/api/v1/conversations?status=open")
        assert [c["id"] for c in listing["items"]] == [p.conv_a, other]
        assert (await _get(http, f"{url}/api/v1/conversations?status=snoozed"))["items"] == []
        items = await _get(http, f"{url}/api/v1/conversations/{p.conv_a}/items")
        assert next(i["body"] for i in items if i["kind"] == "activity") == "Snooze ended"  # newest first
    async with services.read() as s:
        row = await s.get(Conversation, p.conv_a)
        assert row is not None and row.status == "open" and row.snoozed_until is None


async def _snooze_in_the_past(services: Services, ids: list[int], ago: dt.timedelta) -> None:
    """As if the snoozes had come due while no node was running."""
    async with services.unit() as unit:
        await unit.session.execute(
            update(Conversation)
            .where(Conversation.id.in_(ids))
            .values(status="snoozed", snoozed_until=utcnow() - ago)
        )


async def test_two_nodes_wake_every_due_snooze_exactly_once(services: Services) -> None:
    p = await seed_practice(services)
    ids = [p.conv_a, p.conv_b]
    ids += [
        await new_conversation(services, p.practice_id, p.loc_a, f"Pat Many{i}", f"+120255502{i:02d}")
        for i in range(8)
    ]
    later = await new_conversation(services, p.practice_id, p.loc_b, "Not Yet", "+12025550299")
    await _snooze_in_the_past(services, ids, dt.timedelta(hours=3))
    async with services.unit() as unit:
        await unit.session.execute(
            update(Conversation)
            .where(Conversation.id == later)
            .values(status="snoozed", snoozed_until=utcnow() + dt.timedelta(hours=1))
        )
    events: list[BusEvent] = []
    services.bus.listen(events.append)

    first, second = await asyncio.gather(snooze.wake_due(services), snooze.wake_due(services))
    assert sorted(first + second) == sorted(ids)  # every one woken, none by both
    updated = [json.loads(e.frame)["event"] for e in events if e.type == "conversation.updated"]
    assert sorted(e["conversation"]["id"] for e in updated) == sorted(ids)
    assert {e["conversation"]["status"] for e in updated} == {"open"}
    async with services.read() as s:
        ended = (
            await s.scalars(select(TimelineItem.conversation_id).where(TimelineItem.body == "Snooze ended"))
        ).all()
        assert sorted(ended) == sorted(ids)
        statuses = {cid: st for cid, st in await s.execute(select(Conversation.id, Conversation.status))}
    assert statuses[later] == "snoozed"
    assert await snooze.next_due(services) is not None
    assert await snooze.wake_due(services) == []


async def test_the_waker_wakes_what_came_due_while_it_was_down(services: Services) -> None:
    p = await seed_practice(services)
    await _snooze_in_the_past(services, [p.conv_a], dt.timedelta(days=2))
    waker = snooze.SnoozeWaker(services, poll_seconds=30)
    services.bus.listen(waker.notice)
    task = asyncio.create_task(waker.run_forever())
    try:
        for _ in range(100):
            async with services.read() as s:
                row = await s.get(Conversation, p.conv_a)
            if row is not None and row.status == "open":
                break
            await asyncio.sleep(0.05)
        assert row is not None and row.status == "open"
        # A snooze set after the waker went to sleep for its 30 s poll is still woken on time: the
        # snooze's own event on the bus tells the waker to look again.
        async with services.read() as s:
            admin_id = await s.scalar(select(StaffUser.id).where(StaffUser.email == p.admin))
        assert admin_id is not None
        admin = Actor(admin_id, p.practice_id, "admin", None, "test-session")
        await inbox.set_status(services, admin, p.conv_b, "snoozed", utcnow() + dt.timedelta(seconds=0.5))
        for _ in range(100):
            async with services.read() as s:
                row = await s.get(Conversation, p.conv_b)
            if row is not None and row.status == "open":
                break
            await asyncio.sleep(0.05)
        assert row is not None and row.status == "open"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _plan(services: Services, query: Select[Any]) -> str:
    """The database's own plan for a query, as text; PostgreSQL is told to avoid a scan if it can."""
    async with services.read() as s, s.begin():
        conn = await s.connection()
        compiled = query.compile(dialect=conn.dialect)
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
        if conn.dialect.name == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
            return "\n".join(str(row[-1]) for row in rows)
        # An empty table is cheaper to scan than to look up: only an index that serves the query
        # is taken over a scan once scans are priced out.
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        await conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")  # (a bitmap then sorts)
        rows = await conn.exec_driver_sql(f"EXPLAIN {compiled}", params)
        return "\n".join(str(row[0]) for row in rows)


async def test_the_waker_reads_due_snoozes_by_index_not_by_scanning_conversations(
    services: Services,
) -> None:
    due = await _plan(services, snooze.due_query(utcnow()))
    earliest = await _plan(services, snooze.earliest_query())
    for plan in (due, earliest):
        assert "ix_conversations_snoozed_until" in plan, plan
        assert "SCAN conversations" not in plan and "Seq Scan" not in plan, plan
    # In snooze order straight from the index: no sort of the due rows first.
    assert "TEMP B-TREE" not in due and "Sort" not in due, due
