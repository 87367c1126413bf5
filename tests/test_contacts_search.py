"""Finding patient records (the merge dialog's search), with or without a conversation, within scope;
and a first text from a number nobody has yet makes an unknown patient to find and merge."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from comms import messaging
from comms.contacts import create_contact
from comms.models import AuditEntry, Contact, Conversation
from schemas.twilio import InboundSms
from tests.helpers import ORIGIN, browser, new_conversation, sign_in
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _find(http: Any, server: Any, csrf: str, q: str) -> list[dict[str, Any]]:
    async with http.post(
        f"{base(server)}/api/v1/contacts/search",
        json={"q": q},
        headers={"X-CSRF-Token": csrf, "Origin": ORIGIN},
    ) as resp:
        assert resp.status == 200, await resp.text()
        return list(await resp.json())


async def test_first_text_from_a_new_number_makes_an_unknown_patient(served: Any) -> None:
    p, services = served.practice, served.app[SERVICES]
    received = await messaging.receive_sms(
        services,
        InboundSms(
            message_sid="SM" + secrets.token_hex(16),
            account_sid="AC" + secrets.token_hex(16),
            from_number="+12025550190",
            to_number="+12025550143",
            body="hello, new phone",
        ),
    )
    assert received.item_id is not None and not received.duplicate
    async with services.read() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.last_item_id == received.item_id)
        )
        assert conversation is not None and conversation.location_id == p.loc_a
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None and contact.is_unknown and contact.household_id is None


async def test_contact_search_finds_records_with_and_without_threads_in_scope(served: Any) -> None:
    p, services = served.practice, served.app[SERVICES]
    north = await new_conversation(services, p.practice_id, p.loc_a, "Rosa Diaz", "+12025550191")
    await new_conversation(services, p.practice_id, p.loc_b, "Rosario South", "+13125550177")
    never_wrote = await create_contact(
        services, p.practice_id, "Rosalind", "Park", ["(312) 555-0111"], ["rp@example.com"]
    )
    async with services.read() as session:
        row = await session.get(Conversation, north)
        assert row is not None
        rosa = row.contact_id
    async with browser() as http:
        staff_a = await sign_in(http, base(served), p.staff_a)
        found = await _find(http, served, staff_a["csrf_token"], "ros")
        # North's staff see the North patient and the practice-wide record, not South's patient.
        assert {c["id"] for c in found} == {rosa, never_wrote}
        park = next(c for c in found if c["id"] == never_wrote)
        assert park == {
            "id": never_wrote,
            "name": "Rosalind Park",
            "is_unknown": False,
            "date_of_birth": None,
            "phones": ["+13125550111"],
            "emails": ["rp@example.com"],
        }
        for q in ("555-0111", "rp@example", "rosalind park"):
            assert [c["id"] for c in await _find(http, served, staff_a["csrf_token"], q)] == [never_wrote], q
        # A search is a POST: what staff type never sits in a URL.
        async with http.get(f"{base(served)}/api/v1/contacts/search?q=ros") as resp:
            assert resp.status in (404, 405, 422)
    async with browser() as http:
        admin = await sign_in(http, base(served), p.admin)
        assert len(await _find(http, served, admin["csrf_token"], "ros")) == 3
    async with services.read() as session:
        audits = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "search", AuditEntry.record_type == "contact")
            )
        ).all()
    assert len(audits) == 5 and all("ros" not in str(a.detail).lower() for a in audits)
