"""Households on both stores: a text from a shared number can be handed to the family member who wrote it,
patient records read and edit through the API, and staff of another location see none of it."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

import web.app
from comms import messaging
from comms.access import Actor
from comms.contacts import create_contact, find_or_create_unknown
from comms.contacts_read import get_contact
from comms.errors import InvalidRequest, NotFound
from comms.households import move_item_to_contact
from comms.inbox import get_conversation
from comms.models import AuditEntry, Contact, Conversation, StaffUser, TimelineItem
from comms.services import Services
from comms.timeline import list_items
from config.settings import Settings
from routing.bus import BusEvent
from schemas.contacts import ContactUpdate, PhoneIn
from schemas.twilio import InboundSms
from tests.helpers import ORIGIN, Practice, browser, seed_practice, sign_in
from web import handlers_contacts
from web.keys import SERVICES

NORTH = "+12025550143"  # the North location's number in seed_practice
FAMILY = "+16175550100"  # Maria's and Luis's shared mobile


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


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def actor_for(services: Services, p: Practice, email: str) -> Actor:
    """The Actor a signed-in staff member would be, built from the seeded accounts."""
    async with services.read() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
    assert user is not None
    if user.role == "admin":
        return Actor(user.id, p.practice_id, "admin", None, "s-admin")
    locations = frozenset({p.loc_a} if email == p.staff_a else {p.loc_b})
    return Actor(user.id, p.practice_id, "staff", locations, f"s-{user.id}")


async def text_in(services: Services, from_number: str, to_number: str, body: str) -> int:
    """An inbound text as the Twilio webhook would deliver it."""
    received = await messaging.receive_sms(
        services,
        InboundSms(
            message_sid="SM" + secrets.token_hex(16),
            account_sid="AC" + secrets.token_hex(16),
            from_number=from_number,
            to_number=to_number,
            body=body,
        ),
    )
    assert received.item_id is not None
    return received.item_id


def capture(services: Services) -> list[dict[str, Any]]:
    """Every event published from now on, as the clients would receive it."""
    events: list[dict[str, Any]] = []

    def keep(event: BusEvent) -> None:
        events.append(json.loads(event.frame)["event"])

    services.bus.listen(keep)
    return events


@pytest.fixture
async def family(services: Services) -> tuple[Practice, int, int]:
    """The seeded practice, and Maria and Luis Garcia sharing a mobile number."""
    p = await seed_practice(services)
    maria = await create_contact(services, p.practice_id, "Maria", "Garcia", ["(617) 555-0100"])
    luis = await create_contact(services, p.practice_id, "Luis", "Garcia", ["617-555-0100"])
    return p, maria, luis


async def test_a_shared_number_text_moves_to_the_chosen_member(
    services: Services, family: tuple[Practice, int, int]
) -> None:
    p, maria, luis = family
    admin = await actor_for(services, p, p.admin)
    first = await text_in(services, FAMILY, NORTH, "Is my appointment tomorrow?")
    second = await text_in(services, FAMILY, NORTH, "It's Luis by the way")
    async with services.read() as session:
        item = await session.get(TimelineItem, first)
        assert item is not None
        assert item.meta["household"] == [maria, luis]
        source = await session.get(Conversation, item.conversation_id)
        assert source is not None and source.contact_id == maria

    events = capture(services)
    result = await move_item_to_contact(services, admin, first, luis, include_later=True)
    assert result.item_ids == [first, second]
    assert result.from_conversation_id == source.id != result.to_conversation_id

    async with services.read() as session:
        target = await session.get(Conversation, result.to_conversation_id)
        emptied = await session.get(Conversation, source.id)
        assert target is not None and emptied is not None
        assert (target.contact_id, target.location_id) == (luis, p.loc_a)
        assert target.last_item_id == second and target.last_inbound_id == second
        assert target.channels == ",sms,"
        assert (emptied.last_item_id, emptied.last_inbound_id, emptied.channels) == (None, 0, "")
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "move"))
        assert audit is not None and audit.detail["items"] == 2
        assert "Luis" not in json.dumps(audit.detail)

    # Luis owns the texts now: his thread lists them oldest-last, Maria's no longer does.
    assert [i.id for i in await list_items(services, admin, target.id)] == [second, first]
    assert await list_items(services, admin, source.id) == []
    assert (await get_conversation(services, admin, target.id)).unread == 2

    moved = [e for e in events if e["type"] == "timeline.item_moved"]
    assert moved == [
        {
            "type": "timeline.item_moved",
            "location_id": p.loc_a,
            "item_id": item_id,
            "from_conversation_id": source.id,
            "to_conversation_id": target.id,
        }
        for item_id in (first, second)
    ]
    updated = {e["conversation"]["id"] for e in events if e["type"] == "conversation.updated"}
    assert updated == {source.id, target.id}

    # Staff can change their mind: Maria is listed on the item, so it may go back.
    back = await move_item_to_contact(services, admin, first, maria)
    assert back.to_conversation_id == source.id and back.item_ids == [first]


async def test_a_move_into_an_existing_thread_keeps_time_order(
    services: Services, family: tuple[Practice, int, int]
) -> None:
    p, maria, luis = family
    admin = await actor_for(services, p, p.admin)
    older = await text_in(services, FAMILY, NORTH, "first, from Maria")
    newer = await text_in(services, FAMILY, NORTH, "second, from Luis")
    latest = await text_in(services, FAMILY, NORTH, "third, from Maria again")
    await move_item_to_contact(services, admin, older, luis)
    result = await move_item_to_contact(services, admin, newer, luis)
    async with services.read() as session:
        target = await session.get(Conversation, result.to_conversation_id)
        source = await session.get(Conversation, result.from_conversation_id)
        assert target is not None and source is not None
        assert target.last_item_id == newer and target.last_inbound_id == newer
        assert source.last_item_id == latest
    assert [i.id for i in await list_items(services, admin, target.id)] == [newer, older]
    # Without include_later only the chosen text moves; Maria's later text stays hers.
    assert [i.id for i in await list_items(services, admin, source.id)] == [latest]
    assert source.contact_id == maria


async def test_only_the_listed_household_members_may_be_chosen(
    services: Services, family: tuple[Practice, int, int]
) -> None:
    p, maria, _luis = family
    admin = await actor_for(services, p, p.admin)
    stranger = await create_contact(services, p.practice_id, "Sam", "Lee", ["617-555-0199"])
    shared = await text_in(services, FAMILY, NORTH, "hello")
    lonely = await text_in(services, "+16175550199", NORTH, "just me")
    with pytest.raises(InvalidRequest, match="choose one of the patients"):
        await move_item_to_contact(services, admin, shared, stranger)
    with pytest.raises(InvalidRequest, match="already in this patient"):
        await move_item_to_contact(services, admin, shared, maria)
    with pytest.raises(InvalidRequest, match="not from a number several patients share"):
        await move_item_to_contact(services, admin, lonely, maria)
    south = await actor_for(services, p, p.staff_b)
    with pytest.raises(NotFound):
        await move_item_to_contact(services, south, shared, maria)
    with pytest.raises(NotFound):
        await move_item_to_contact(services, admin, shared + 1000, maria)


async def test_naming_an_unknown_sender_identifies_them_into_the_household(
    services: Services, family: tuple[Practice, int, int]
) -> None:
    from comms.contacts import update_contact

    p, maria, luis = family
    admin = await actor_for(services, p, p.admin)
    unknown, created = await find_or_create_unknown(services, p.practice_id, "+16175550155")
    assert created
    await text_in(services, "+16175550155", NORTH, "hi, new patient here")
    events = capture(services)
    out = await update_contact(
        services,
        admin,
        unknown,
        ContactUpdate(
            first_name="Ana",
            last_name="Garcia",
            phones=[PhoneIn(number="617-555-0155"), PhoneIn(number="(617) 555-0100", label="home")],
        ),
    )
    assert not out.is_unknown and out.display_name == "Ana Garcia"
    assert [(ph.e164, ph.label) for ph in out.phones] == [("+16175550155", "mobile"), (FAMILY, "home")]
    assert out.household is not None
    assert [m.id for m in out.household.members] == [maria, luis, unknown]
    names = [e["conversation"]["contact"]["name"] for e in events if e["type"] == "conversation.updated"]
    assert "Ana Garcia" in names

    # Dropping the shared number takes her out again; the family stays a household.
    out = await update_contact(services, admin, unknown, ContactUpdate(phones=[PhoneIn(number="6175550155")]))
    assert out.household is None
    assert (await get_contact(services, admin, maria)).household is not None
    # Luis leaving too dissolves the household: one person is not a family.
    out = await update_contact(services, admin, luis, ContactUpdate(phones=[PhoneIn(number="6175550177")]))
    assert out.household is None
    assert (await get_contact(services, admin, maria)).household is None


async def test_update_refuses_to_empty_a_name_and_keeps_dob_unless_given(
    services: Services, family: tuple[Practice, int, int]
) -> None:
    import datetime as dt

    from comms.contacts import update_contact

    p, maria, _luis = family
    admin = await actor_for(services, p, p.admin)
    born = dt.date(1980, 5, 17)
    out = await update_contact(services, admin, maria, ContactUpdate(date_of_birth=born))
    assert out.date_of_birth == born
    out = await update_contact(services, admin, maria, ContactUpdate(emails=["Maria@Example.com"]))
    assert out.date_of_birth == born and out.emails == ["maria@example.com"]
    with pytest.raises(InvalidRequest, match="needs a first or a last name"):
        await update_contact(services, admin, maria, ContactUpdate(first_name=" ", last_name=""))
    with pytest.raises(InvalidRequest):
        await update_contact(services, admin, maria, ContactUpdate(phones=[PhoneIn(number="555-01")]))
    async with services.read() as session:
        row = await session.get(Contact, maria)
        assert row is not None and row.first_name == "Maria"


async def test_patient_record_routes_and_location_scope(contacts_served: Any) -> None:
    p, services = contacts_served.practice, contacts_served.app[SERVICES]
    url = base(contacts_served)
    maria = await create_contact(services, p.practice_id, "Maria", "Garcia", [FAMILY])
    luis = await create_contact(services, p.practice_id, "Luis", "Garcia", [FAMILY])
    item_id = await text_in(services, FAMILY, NORTH, "who am I?")
    async with browser() as north, browser() as south:
        north_s = await sign_in(north, url, p.staff_a)
        south_s = await sign_in(south, url, p.staff_b)
        async with north.get(f"{url}/api/v1/contacts/{maria}") as resp:
            assert resp.status == 200, await resp.text()
            record = await resp.json()
        assert record["household"]["members"] == [
            {"id": maria, "name": "Maria Garcia"},
            {"id": luis, "name": "Luis Garcia"},
        ]
        assert [c["location_id"] for c in record["conversations"]] == [p.loc_a]

        # A record without conversations (an imported patient) belongs to the whole practice.
        imported = await create_contact(services, p.practice_id, "Ivy", "Import", ["617-555-0177"])
        async with south.get(f"{url}/api/v1/contacts/{imported}") as resp:
            assert resp.status == 200 and (await resp.json())["conversations"] == []

        # South sees none of North's family: every route answers 404, never a hint.
        headers = {"X-CSRF-Token": south_s["csrf_token"], "Origin": ORIGIN}
        async with south.get(f"{url}/api/v1/contacts/{maria}") as resp:
            assert resp.status == 404
        async with south.patch(
            f"{url}/api/v1/contacts/{maria}", json={"first_name": "X"}, headers=headers
        ) as resp:
            assert resp.status == 404
        async with south.post(
            f"{url}/api/v1/contacts/{luis}/merge", json={"merge_id": maria}, headers=headers
        ) as resp:
            assert resp.status == 404
        async with south.post(
            f"{url}/api/v1/items/{item_id}/move", json={"contact_id": luis}, headers=headers
        ) as resp:
            assert resp.status == 404
        async with south.post(
            f"{url}/api/v1/contacts/import",
            data="first_name,phone\nA,2025550100\n",
            headers={**headers, "Content-Type": "text/csv"},
        ) as resp:
            assert resp.status == 403  # imports are for administrators, at any location

        headers = {"X-CSRF-Token": north_s["csrf_token"], "Origin": ORIGIN}
        async with north.post(
            f"{url}/api/v1/items/{item_id}/move", json={"contact_id": luis}, headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            moved = await resp.json()
        async with north.get(f"{url}/api/v1/contacts/{luis}") as resp:
            assert [c["id"] for c in (await resp.json())["conversations"]] == [moved["to_conversation_id"]]
        async with north.patch(
            f"{url}/api/v1/contacts/{luis}", json={"last_name": "Garcia-Lopez"}, headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["display_name"] == "Luis Garcia-Lopez"
        async with north.patch(
            f"{url}/api/v1/contacts/{luis}", json={"nickname": "Lu"}, headers=headers
        ) as resp:
            assert resp.status == 422
        async with north.get(f"{url}/api/v1/contacts/abc") as resp:
            assert resp.status == 404
        async with north.get(f"{url}/api/v1/openapi.json") as resp:
            paths = (await resp.json())["paths"]
        assert "/api/v1/contacts/import" in paths and "/api/v1/items/{item_id}/move" in paths
