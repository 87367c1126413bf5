"""Search by name, phone, e-mail and message text, on SQLite FTS5 and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from comms.models import AuditEntry, ContactEmail
from tests.helpers import browser, inbound, new_conversation, sign_in
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _search(http: Any, server: Any, csrf: str, q: str) -> Any:
    async with http.post(
        f"{base(server)}/api/v1/search", json={"q": q}, headers={"X-CSRF-Token": csrf}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_search_finds_by_name_phone_email_and_text_within_scope(served: Any) -> None:
    p, services = served.practice, served.app[SERVICES]
    conv = await new_conversation(services, p.practice_id, p.loc_a, "Zoë Marchetti", "+12025550199")
    async with services.unit() as unit:
        from comms.models import Conversation

        row = await unit.session.get(Conversation, conv)
        assert row is not None
        unit.session.add(ContactEmail(contact_id=row.contact_id, address="zoe.m@example.org"))
    await inbound(services, conv, "My crown feels loose after the appointment")
    await inbound(services, p.conv_b, "crown question from the south office")
    async with browser() as http:
        s = await sign_in(http, base(served), p.staff_a)
        for q in ("marchetti", "zoë", "555-0199", "zoe.m@example"):
            found = await _search(http, served, s["csrf_token"], q)
            assert [c["id"] for c in found["conversations"]] == [conv], q
        text = await _search(http, served, s["csrf_token"], "crown loose")
        assert [m["conversation_id"] for m in text["messages"]] == [conv]
        prefix = await _search(http, served, s["csrf_token"], "appoint")
        assert len(prefix["messages"]) == 1
        # Syntax characters are just text, never an error.
        for q in ('"', "crown AND OR NOT", "*", "NEAR(", "'; DROP TABLE x; --", "a:b & c | !d"):
            await _search(http, served, s["csrf_token"], q)
        # South's message is not in North's results.
        only_north = await _search(http, served, s["csrf_token"], "crown")
        assert {m["conversation_id"] for m in only_north["messages"]} == {conv}
    async with services.read() as session:
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "search"))).all()
    assert audits and all("marchetti" not in str(a.detail).lower() for a in audits)
