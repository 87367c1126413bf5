"""The list of a staff member who works at several (not all) locations: newest first across them,
paged without gaps or repeats, filters applied, nothing from a location they may not see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select

from comms import inbox
from comms.access import Actor
from comms.models import Contact, ContactPhone, Conversation, StaffUser
from comms.practice import add_location
from comms.services import Services
from tests.helpers import seed_practice


async def test_several_locations_list_newest_first_across_them_page_by_page(services: Services) -> None:
    p = await seed_practice(services)
    loc_c = await add_location(services, p.practice_id, "West", "America/Denver", ["+17205550100"])
    start = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    # Interleaved in time across three locations; some closed, some assigned to the staff member.
    plan = [(p.loc_a, p.loc_b, loc_c)[i % 3] for i in range(15)]
    async with services.read() as s:
        north = await s.scalar(select(StaffUser.id).where(StaffUser.email == p.staff_a))
    assert north is not None
    ids: dict[int, tuple[int, str, int | None]] = {}
    async with services.unit() as unit:
        for i, location in enumerate(plan):
            contact = Contact(practice_id=p.practice_id, first_name="Pat", last_name=f"Scope{i}")
            contact.phones.append(ContactPhone(e164=f"+1303555{i:04d}"))
            unit.session.add(contact)
            await unit.session.flush()
            status = "closed" if i % 4 == 0 else "open"
            assignee = north if i % 5 == 0 else None
            conversation = Conversation(
                contact_id=contact.id,
                location_id=location,
                status=status,
                assignee_id=assignee,
                last_item_at=start + dt.timedelta(minutes=i),
            )
            unit.session.add(conversation)
            await unit.session.flush()
            ids[conversation.id] = (location, status, assignee)
    desk = Actor(north, p.practice_id, "staff", frozenset({p.loc_a, p.loc_b}), "s-desk")
    # seed_practice's two threads (now, North then South) are newer than all of these.
    ids[p.conv_a], ids[p.conv_b] = (p.loc_a, "open", None), (p.loc_b, "open", None)
    newest_first = [p.conv_b, p.conv_a, *reversed(list(ids)[:-2])]

    async def pages(flt: inbox.ListFilter) -> list[int]:
        seen: list[int] = []
        cursor = None
        while True:
            page = await inbox.list_conversations(services, desk, flt, cursor, limit=2)
            seen += [item.id for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                return seen

    def expected(keep: Callable[[tuple[int, str, int | None]], bool]) -> list[int]:
        return [c for c in newest_first if ids[c][0] != loc_c and keep(ids[c])]

    assert await pages(inbox.ListFilter(status=None)) == expected(lambda row: True)
    assert await pages(inbox.ListFilter()) == expected(lambda row: row[1] == "open")
    assert await pages(inbox.ListFilter(status="closed")) == expected(lambda row: row[1] == "closed")
    assert await pages(inbox.ListFilter(status=None, assignee="me")) == expected(lambda row: row[2] == north)
    assert await pages(inbox.ListFilter(status=None, location_id=p.loc_b)) == expected(
        lambda row: row[0] == p.loc_b
    )
