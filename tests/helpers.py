"""Test helpers: a small practice with two locations and staff scoped to them, and a signed-in client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession

from comms.models import Contact, ContactPhone, Conversation
from comms.practice import add_location, add_staff, ensure_practice
from comms.services import Services

ORIGIN = "http://frontdesk.test"
PASSWORD = "correct horse battery"


@dataclass
class Practice:
    practice_id: int
    loc_a: int
    loc_b: int
    admin: str
    staff_a: str
    staff_b: str
    conv_a: int
    conv_b: int


async def seed_practice(services: Services) -> Practice:
    """Two locations, an admin, one staff member per location, and one conversation at each."""
    pid = await ensure_practice(services, "Test Dental")
    loc_a = await add_location(
        services, pid, "North", "America/New_York", ["+12025550143"], ["north@practice.test"]
    )
    loc_b = await add_location(
        services, pid, "South", "America/Chicago", ["+13125550188"], ["south@practice.test"]
    )
    await add_staff(services, pid, "admin@test.example", "Ada Admin", PASSWORD, "admin")
    await add_staff(services, pid, "north@test.example", "Nora North", PASSWORD, "staff", [loc_a])
    await add_staff(services, pid, "south@test.example", "Sam South", PASSWORD, "staff", [loc_b])
    conversations = []
    async with services.unit() as unit:
        for i, loc in enumerate((loc_a, loc_b)):
            contact = Contact(practice_id=pid, first_name="Pat", last_name=f"Patient{i}")
            contact.phones.append(ContactPhone(e164=f"+1202555017{i}"))
            unit.session.add(contact)
            await unit.session.flush()
            conversation = Conversation(contact_id=contact.id, location_id=loc)
            unit.session.add(conversation)
            await unit.session.flush()
            conversations.append(conversation.id)
    return Practice(
        pid,
        loc_a,
        loc_b,
        "admin@test.example",
        "north@test.example",
        "south@test.example",
        conversations[0],
        conversations[1],
    )


async def sign_in(http: ClientSession, base: str, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """Sign in through the REST API; the client's cookie jar keeps the session cookie."""
    async with http.post(
        f"{base}/api/v1/session", json={"email": email, "password": password}, headers={"Origin": ORIGIN}
    ) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return dict(body)


def browser() -> ClientSession:
    """An HTTP client that keeps cookies for 127.0.0.1 as a browser would for the page's host."""
    from aiohttp import CookieJar

    return ClientSession(cookie_jar=CookieJar(unsafe=True))


_pending: dict[int, list[dict[str, Any]]] = {}


async def recv_frame(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next protocol frame from an aiohttp or websockets client; arrays (batched frames) are split."""
    import asyncio
    import json

    import aiohttp

    queue = _pending.setdefault(id(ws), [])
    if not queue:
        if isinstance(ws, aiohttp.ClientWebSocketResponse):
            msg = await asyncio.wait_for(ws.receive(), timeout)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data = json.loads(msg.data)
        else:
            data = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        queue.extend(data if isinstance(data, list) else [data])
    return queue.pop(0)


async def inbound(services: Services, conversation_id: int, body: str, kind: str = "sms") -> int:
    """A patient's message landing in a conversation, as a channel adapter would add it."""
    from comms.models import TimelineItem
    from comms.timeline import add_item

    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, conversation_id)
        assert conversation is not None
        out = await add_item(unit, conversation, TimelineItem(kind=kind, direction="in", body=body, meta={}))
        return out.id


async def new_conversation(
    services: Services, practice_id: int, location_id: int, name: str, phone: str
) -> int:
    """A fresh patient with a conversation at a location."""
    async with services.unit() as unit:
        first, _, last = name.partition(" ")
        contact = Contact(practice_id=practice_id, first_name=first, last_name=last)
        contact.phones.append(ContactPhone(e164=phone))
        unit.session.add(contact)
        await unit.session.flush()
        conversation = Conversation(contact_id=contact.id, location_id=location_id)
        unit.session.add(conversation)
        await unit.session.flush()
        return conversation.id
