"""Merging duplicate patients on both stores: items interleave in time, unread survives, the duplicate
becomes a tombstone that no lookup returns, and only staff who see every thread may merge."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

import web.app
from comms import search
from comms.access import Actor
from comms.contacts import contacts_by_phone, create_contact
from comms.contacts_merge import merge_contacts
from comms.errors import Conflict, Forbidden, InvalidRequest, NotFound
from comms.inbox import get_conversation, mark_read
from comms.models import (
    AuditEntry,
    Contact,
    Conversation,
    ConversationRead,
    Notification,
    StaffUser,
    TimelineItem,
    utcnow,
)
from comms.notifications import notify
from comms.services import Services
from comms.timeline import add_item, list_items
from config.settings import Settings
from routing.bus import BusEvent
from tests.helpers import ORIGIN, Practice, browser, seed_practice, sign_in
from web import handlers_contacts
from web.keys import SERVICES


@pytest.fixture
async def contacts_served(
    app_settings: Settings, aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """The `served` app, with the contacts routes added when web/app.py does not register them yet."""
    if not any(r is handlers_contacts.router for r in web.app.ROUTERS):
        monkeypatch.setattr(web.app, "ROUTERS", (*web.app.ROUTERS, handlers_contacts.router))
    from comms import migrate
    from comms.db import make_engine

    engine = make_engine(app_settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = web.app.create_app(app_settings)
    server = await aiohttp_server(app)
    server.practice = await seed_practice(app[SERVICES])
    yield server


async def actors(services: Services, p: Practice) -> tuple[Actor, Actor, Actor]:
    """Admin, North staff and South staff, as their sessions would present them."""
    async with services.read() as session:
        ids = {u.email: u.id for u in await session.scalars(select(StaffUser))}
    return (
        Actor(ids[p.admin], p.practice_id, "admin", None, "s-admin"),
        Actor(ids[p.staff_a], p.practice_id, "staff", frozenset({p.loc_a}), "s-north"),
        Actor(ids[p.staff_b], p.practice_id, "staff", frozenset({p.loc_b}), "s-south"),
    )


async def thread(services: Services, contact_id: int, location_id: int) -> int:
    async with services.unit() as unit:
        conversation = Conversation(contact_id=contact_id, location_id=location_id)
        unit.session.add(conversation)
        await unit.session.flush()
        return conversation.id


async def item(
    services: Services, conversation_id: int, body: str, at: dt.datetime, direction: str = "in"
) -> int:
    """An item with a chosen time, as a channel adapter would add it."""
    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, conversation_id)
        assert conversation is not None
        kind = "email" if body.startswith("mail") else "sms"
        out = await add_item(
            unit,
            conversation,
            TimelineItem(kind=kind, direction=direction, body=body, meta={}, created_at=at),
        )
        return out.id


@pytest.fixture
async def practice(services: Services) -> Practice:
    return await seed_practice(services)


async def test_merge_interleaves_items_by_time_and_keeps_unread(
    services: Services, practice: Practice
) -> None:
    p = practice
    admin, north, _south = await actors(services, p)
    kept = await create_contact(
        services, p.practice_id, "Maria", "Garcia", ["617-555-0100"], ["m@example.com"]
    )
    dupe = await create_contact(
        services,
        p.practice_id,
        "Mary",
        "Garcia",
        ["617-555-0100", "617-555-0111"],
        ["M@example.com", "g@x.org"],
    )
    kept_conv, dupe_conv = await thread(services, kept, p.loc_a), await thread(services, dupe, p.loc_a)
    elsewhere = await thread(services, dupe, p.loc_b)
    t0 = utcnow() - dt.timedelta(hours=5)
    k1 = await item(services, kept_conv, "kept one", t0)
    m1 = await item(services, dupe_conv, "mail dupe one", t0 + dt.timedelta(hours=1))
    k2 = await item(services, kept_conv, "kept two", t0 + dt.timedelta(hours=2))
    reply = await item(services, dupe_conv, "our answer", t0 + dt.timedelta(hours=3), direction="out")
    m2 = await item(services, dupe_conv, "dupe two", t0 + dt.timedelta(hours=4))
    # North read Maria's thread to the end but never opened the duplicate; the admin read both.
    await mark_read(services, north, kept_conv, k2)
    await mark_read(services, admin, kept_conv, k2)
    await mark_read(services, admin, dupe_conv, m2)
    async with services.unit() as unit:
        await notify(unit, north.user_id, "mention", admin.user_id, conversation_id=dupe_conv, item_id=m1)

    events: list[dict[str, Any]] = []

    def keep(event: BusEvent) -> None:
        events.append(json.loads(event.frame)["event"])

    services.bus.listen(keep)
    result = await merge_contacts(services, admin, kept, dupe)
    assert (result.conversations_folded, result.conversations_moved, result.items_moved) == (1, 1, 3)
    assert [ph.e164 for ph in result.contact.phones] == ["+16175550100", "+16175550111"]
    assert result.contact.emails == ["m@example.com", "g@x.org"]
    assert result.contact.display_name == "Maria Garcia"
    assert sorted(c.id for c in result.contact.conversations) == sorted([kept_conv, elsewhere])

    # One timeline, in time order, with the summary columns of the newest items.
    assert [i.id for i in await list_items(services, admin, kept_conv)] == [m2, reply, k2, m1, k1]
    async with services.read() as session:
        conv = await session.get(Conversation, kept_conv)
        assert conv is not None
        assert (conv.last_item_id, conv.last_inbound_id) == (m2, m2)
        assert conv.channels == ",sms,email,"
        assert await session.get(Conversation, dupe_conv) is None
        moved = await session.get(Conversation, elsewhere)
        assert moved is not None and moved.contact_id == kept
        tombstone = await session.get(Contact, dupe)
        assert tombstone is not None and tombstone.merged_into_id == kept
        note = await session.scalar(select(Notification).where(Notification.item_id == m1))
        assert note is not None and note.conversation_id == kept_conv
        reads = await session.scalar(select(func.count()).select_from(ConversationRead))
        assert reads == 2  # admin and north on the kept thread; the folded thread's rows are gone
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "merge"))
        assert audit is not None and audit.detail["merged_id"] == dupe
        assert "Mary" not in json.dumps(audit.detail) and "617" not in json.dumps(audit.detail)

    # North had not seen the duplicate's texts: merging must not mark them read (so "kept two", read
    # before, shows as unread again: one marker cannot hold both timelines' read state exactly).
    assert await read_marker(services, kept_conv, north.user_id) == m1 - 1
    assert (await get_conversation(services, north, kept_conv)).unread == 3
    # The admin had read everything on both sides: nothing turns unread.
    assert (await get_conversation(services, admin, kept_conv)).unread == 0

    kinds = [e["type"] for e in events]
    assert {"conversation.merged", "conversation.updated"} <= set(kinds)
    merged_event = next(e for e in events if e["type"] == "conversation.merged")
    assert merged_event == {
        "type": "conversation.merged",
        "location_id": p.loc_a,
        "conversation_id": dupe_conv,
        "into_conversation_id": kept_conv,
    }
    updated = {e["conversation"]["id"] for e in events if e["type"] == "conversation.updated"}
    assert updated == {kept_conv, elsewhere}


async def read_marker(services: Services, conversation_id: int, user_id: int) -> int:
    async with services.read() as session:
        marker = await session.scalar(
            select(ConversationRead.last_read_item_id).where(
                ConversationRead.conversation_id == conversation_id, ConversationRead.user_id == user_id
            )
        )
    return int(marker or 0)


async def test_the_merged_contact_disappears_from_search_and_lookups(
    services: Services, practice: Practice
) -> None:
    p = practice
    admin, _north, _south = await actors(services, p)
    kept = await create_contact(services, p.practice_id, "Maria", "Garcia", ["617-555-0100"])
    dupe = await create_contact(services, p.practice_id, "Marisol", "Gracia", ["617-555-0122"])
    await thread(services, kept, p.loc_a)
    await thread(services, dupe, p.loc_b)
    assert [c.contact.id for c in (await search.search(services, admin, "Marisol")).conversations] == [dupe]
    await merge_contacts(services, admin, kept, dupe)
    assert (await search.search(services, admin, "Marisol")).conversations == []
    found = (await search.search(services, admin, "6175550122")).conversations
    assert [c.contact.id for c in found] == [kept, kept]  # its own thread and the one it took over
    assert [c.id for c in await contacts_by_phone(services, p.practice_id, "+16175550122")] == [kept]
    from comms.contacts_read import get_contact

    with pytest.raises(NotFound):
        await get_contact(services, admin, dupe)


async def test_merge_refusals(services: Services, practice: Practice) -> None:
    p = practice
    admin, north, south = await actors(services, p)
    a = await create_contact(services, p.practice_id, "Ann", "Able", ["617-555-0130"])
    b = await create_contact(services, p.practice_id, "Ann", "Able", ["617-555-0131"])
    c = await create_contact(services, p.practice_id, "Ann", "Able", ["617-555-0132"])
    await thread(services, a, p.loc_a)
    await thread(services, b, p.loc_a)
    await thread(services, c, p.loc_a)
    await thread(services, c, p.loc_b)
    with pytest.raises(InvalidRequest, match="itself"):
        await merge_contacts(services, admin, a, a)
    with pytest.raises(NotFound):
        await merge_contacts(services, south, a, b)  # nothing of theirs at South
    with pytest.raises(Forbidden):
        await merge_contacts(services, north, a, c)  # c also has a South thread North cannot see
    await merge_contacts(services, north, a, b)
    with pytest.raises(Conflict, match="already merged"):
        await merge_contacts(services, admin, b, c)
    with pytest.raises(Conflict, match="already merged"):
        await merge_contacts(services, admin, c, b)
    with pytest.raises(NotFound):
        await merge_contacts(services, admin, a, 999_999)


async def test_kept_contact_adopts_the_duplicates_household(services: Services, practice: Practice) -> None:
    p = practice
    admin, _north, _south = await actors(services, p)
    maria = await create_contact(services, p.practice_id, "Maria", "Garcia", ["617-555-0100"])
    luis = await create_contact(services, p.practice_id, "Luis", "Garcia", ["617-555-0100"])
    again = await create_contact(services, p.practice_id, "Luis", "Garcia", ["617-555-0140"])
    result = await merge_contacts(services, admin, again, luis)
    assert result.contact.household is not None
    assert [m.id for m in result.contact.household.members] == [maria, again]
    async with services.read() as session:
        tombstone = await session.get(Contact, luis)
        assert tombstone is not None and tombstone.household_id is None

    # Merging Maria into the same record leaves a household of one: it dissolves.
    result = await merge_contacts(services, admin, again, maria)
    assert result.contact.household is None


async def test_merge_route(contacts_served: Any) -> None:
    p, services = contacts_served.practice, contacts_served.app[SERVICES]
    url = str(contacts_served.make_url("")).rstrip("/")
    kept = await create_contact(services, p.practice_id, "Maria", "Garcia", ["617-555-0100"])
    dupe = await create_contact(services, p.practice_id, "Maria", "Garcia", ["617-555-0101"])
    await thread(services, kept, p.loc_a)
    await thread(services, dupe, p.loc_a)
    async with browser() as north, browser() as south:
        north_s = await sign_in(north, url, p.staff_a)
        south_s = await sign_in(south, url, p.staff_b)
        headers = {"X-CSRF-Token": south_s["csrf_token"], "Origin": ORIGIN}
        async with south.post(
            f"{url}/api/v1/contacts/{kept}/merge", json={"merge_id": dupe}, headers=headers
        ) as r:
            assert r.status == 404
        headers = {"X-CSRF-Token": north_s["csrf_token"], "Origin": ORIGIN}
        async with north.post(
            f"{url}/api/v1/contacts/{kept}/merge", json={"merge_id": dupe}, headers=headers
        ) as r:
            assert r.status == 200, await r.text()
            body = await r.json()
        assert body["contact"]["id"] == kept and body["conversations_folded"] == 1
        async with north.post(
            f"{url}/api/v1/contacts/{kept}/merge", json={"merge_id": dupe}, headers=headers
        ) as r:
            assert r.status == 409
        async with north.get(f"{url}/api/v1/contacts/{dupe}") as r:
            assert r.status == 404
