"""What the texting tests share: waiting on the store, the stand-in's record, signed webhooks."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from comms.models import ContactPhone, Conversation, OutboxEntry, TimelineItem
from tests.carrier import ACCOUNT_SID, AUTH_TOKEN, Carrier
from tests.helpers import browser, sign_in
from web.keys import SERVICES

PATIENT_A = "+12025550170"  # seeded patient at the North location (see tests.helpers.seed_practice)
NORTH_NUMBER = "+12025550143"
_sids = itertools.count(1)


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-shaped id unique within the test run."""
    return f"{prefix}{next(_sids):032x}"


async def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll an async predicate until it returns something truthy; that value is returned."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not met in time")
        await asyncio.sleep(0.05)


async def items(carrier: Carrier, **where: Any) -> list[TimelineItem]:
    """Timeline items matching column == value, oldest first."""
    async with carrier.app[SERVICES].read() as s:
        query = select(TimelineItem)
        for key, value in where.items():
            query = query.where(getattr(TimelineItem, key) == value)
        return list(await s.scalars(query.order_by(TimelineItem.id)))


async def item(carrier: Carrier, item_id: int) -> TimelineItem:
    [row] = await items(carrier, id=item_id)
    return row


async def outbox_row(carrier: Carrier, item_id: int) -> OutboxEntry:
    async with carrier.app[SERVICES].read() as s:
        row = await s.get(OutboxEntry, item_id)
        assert row is not None
        return row


async def sandbox_messages(carrier: Carrier, **query: str) -> list[dict[str, Any]]:
    """Every message the stand-in carried, oldest first (to=..., from=... narrow it)."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{carrier.sandbox}/sandbox/messages", params=query) as r,
    ):
        return list((await r.json())["messages"])


async def sent_to(carrier: Carrier, number: str) -> list[str]:
    """Bodies of the texts the practice sent this number through the REST API."""
    return [m["body"] for m in await sandbox_messages(carrier, to=number) if m["direction"] == "outbound-api"]


async def text_in(
    carrier: Carrier,
    body: str,
    media: list[dict[str, str]] | None = None,
    frm: str = PATIENT_A,
    to: str = NORTH_NUMBER,
) -> dict[str, Any]:
    """A patient's phone texts the practice through the stand-in (signed webhook, Advanced Opt-Out)."""
    async with aiohttp.ClientSession() as http:
        payload = {"from": frm, "to": to, "body": body, "media": media or []}
        async with http.post(f"{carrier.sandbox}/sandbox/inbound", json=payload) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())


def signed(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def inbound_params(body: str, sid: str | None = None, frm: str = PATIENT_A) -> dict[str, str]:
    """The fields of Twilio's inbound-message webhook that the server reads."""
    return {
        "MessageSid": sid or new_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": frm,
        "To": NORTH_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }


async def post_signed(
    http: aiohttp.ClientSession, url: str, params: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """POST a form webhook signed as Twilio signs it; (status, body)."""
    async with http.post(url, data=params, headers=headers or signed(url, params)) as resp:
        return resp.status, await resp.text()


async def set_phone(carrier: Carrier, conversation_id: int, e164: str) -> None:
    """Give the conversation's patient another number (the stand-in's magic endings fail on purpose)."""
    async with carrier.app[SERVICES].unit() as unit:
        conversation = await unit.session.get(Conversation, conversation_id)
        assert conversation is not None
        phone = await unit.session.scalar(
            select(ContactPhone).where(ContactPhone.contact_id == conversation.contact_id)
        )
        assert phone is not None
        phone.e164 = e164


async def send_from_thread(
    carrier: Carrier, body: str, conversation_id: int | None = None, **extra: Any
) -> tuple[int, dict[str, Any]]:
    """North's staff member texts from the thread, as the composer does; (status, JSON answer)."""
    p = carrier.practice
    async with browser() as north:
        session = await sign_in(north, carrier.base, p.staff_a)
        async with north.post(
            f"{carrier.base}/api/v1/conversations/{conversation_id or p.conv_a}/messages",
            json={"body": body, **extra},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            return resp.status, dict(await resp.json())
