"""Two-way texting end to end through the real twilio library and the carrier sandbox."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from comms import messaging
from comms.models import OptOut, TimelineItem
from tests.carrier import ACCOUNT_SID, AUTH_TOKEN, Carrier, start_pair
from tests.helpers import ORIGIN, browser, recv_frame, sign_in
from web.keys import SERVICES

PATIENT_A = "+12025550170"  # seeded patient at the North location (see tests.helpers.seed_practice)
NORTH_NUMBER = "+12025550143"


@pytest.fixture
async def carrier(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Carrier]:
    yield await start_pair(db_settings, aiohttp_server, tmp_path)


async def _wait(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _items(carrier: Carrier, **where: Any) -> list[TimelineItem]:
    async with carrier.app[SERVICES].read() as s:
        query = select(TimelineItem)
        for key, value in where.items():
            query = query.where(getattr(TimelineItem, key) == value)
        return list(await s.scalars(query.order_by(TimelineItem.id)))


async def _sandbox_messages(carrier: Carrier, **query: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{carrier.sandbox}/sandbox/messages", params=query) as r,
    ):
        return list((await r.json())["messages"])


async def _text_in(carrier: Carrier, body: str, media: list[dict[str, str]] | None = None) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        payload = {"from": PATIENT_A, "to": NORTH_NUMBER, "body": body, "media": media or []}
        async with http.post(f"{carrier.sandbox}/sandbox/inbound", json=payload) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())


async def test_inbound_text_lands_in_the_patients_thread_live(carrier: Carrier) -> None:
    p = carrier.practice
    async with browser() as north:
        await sign_in(north, carrier.base, p.staff_a)
        ws = await north.ws_connect(f"{carrier.base}/ws", headers={"Origin": ORIGIN})
        await ws.send_json({"id": 1, "type": "subscribe"})
        await recv_frame(ws)
        result = await _text_in(carrier, "Can I move my cleaning to Friday?")
        assert result["status"] == 200
        event = (await recv_frame(ws))["event"]
        assert event["type"] == "timeline.item_added" and event["conversation_id"] == p.conv_a
        assert event["item"]["body"] == "Can I move my cleaning to Friday?"
        assert event["item"]["direction"] == "in"
        assert event["conversation"]["last_inbound_id"] == event["item"]["id"]
    [item] = await _items(carrier, carrier_sid=result["sid"])
    assert item.kind == "sms" and item.meta["from"] == PATIENT_A


def _signed(url: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, params)}


async def test_same_webhook_fifty_times_concurrently_is_one_item(carrier: Carrier) -> None:
    url = f"{carrier.base}/twilio/sms"
    params = {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": PATIENT_A,
        "To": NORTH_NUMBER,
        "Body": "duplicate delivery",
        "NumMedia": "0",
    }
    async with aiohttp.ClientSession() as http:

        async def once() -> int:
            async with http.post(url, data=params, headers=_signed(url, params)) as resp:
                return resp.status

        statuses = await asyncio.gather(*(once() for _ in range(50)))
    assert set(statuses) == {200}
    assert len(await _items(carrier, carrier_sid=params["MessageSid"])) == 1


async def test_forged_or_missing_signature_is_403_and_stores_nothing(carrier: Carrier) -> None:
    url = f"{carrier.base}/twilio/sms"
    params = {
        "MessageSid": "SM" + "b" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": PATIENT_A,
        "To": NORTH_NUMBER,
        "Body": "forged",
        "NumMedia": "0",
    }
    forged = {"X-Twilio-Signature": RequestValidator("wrong-token").compute_signature(url, params)}
    async with aiohttp.ClientSession() as http:
        for headers in (forged, {}):
            async with http.post(url, data=params, headers=headers) as resp:
                assert resp.status == 403
                assert (await resp.json())["error"]["code"] == "signature_invalid"
        bad = {**params, "NumMedia": "many"}
        async with http.post(url, data=bad, headers=_signed(url, bad)) as resp:
            assert resp.status == 422
    assert await _items(carrier, carrier_sid=params["MessageSid"]) == []


async def test_reply_from_thread_is_sent_once_and_reaches_delivered(carrier: Carrier) -> None:
    p = carrier.practice
    async with browser() as north:
        session = await sign_in(north, carrier.base, p.staff_a)
        async with north.post(
            f"{carrier.base}/api/v1/conversations/{p.conv_a}/messages",
            json={"body": "Friday at 9 works — see you then! 😀"},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            assert resp.status == 201
            item = await resp.json()
        assert item["status"] == "pending" and item["meta"]["encoding"] == "UCS-2"

        async def delivered() -> bool:
            [row] = await _items(carrier, id=item["id"])
            return row.status == "delivered"

        await _wait(delivered)
    sent = await _sandbox_messages(carrier, to=PATIENT_A)
    assert [m["body"] for m in sent] == ["Friday at 9 works — see you then! 😀"]
    assert sent[0]["from"] == NORTH_NUMBER


async def test_stop_blocks_every_later_send_and_start_lifts_it(carrier: Carrier) -> None:
    p, services = carrier.practice, carrier.app[SERVICES]
    await _text_in(carrier, "  stop ")
    async with services.read() as s:
        assert await s.scalar(select(func.count()).select_from(OptOut)) == 1
    async with browser() as north:
        session = await sign_in(north, carrier.base, p.staff_a)
        async with north.post(
            f"{carrier.base}/api/v1/conversations/{p.conv_a}/messages",
            json={"body": "Are you there?"},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            assert resp.status == 409
            assert (await resp.json())["error"]["code"] == "opted_out"
    # Automations use the same path and are refused too.
    from comms.errors import OptedOut
    from comms.models import Conversation

    with pytest.raises(OptedOut):
        async with services.unit() as unit:
            conversation = await unit.session.get(Conversation, p.conv_a)
            assert conversation is not None
            await messaging.queue_sms(unit, conversation, "Reminder: cleaning tomorrow", author_id=None)
    await asyncio.sleep(0.3)
    assert all(
        m["body"] not in ("Are you there?", "Reminder: cleaning tomorrow")
        for m in await _sandbox_messages(carrier, to=PATIENT_A)
    )
    await _text_in(carrier, "START")
    async with services.read() as s:
        assert await s.scalar(select(func.count()).select_from(OptOut)) == 0
    activity = [i.body for i in await _items(carrier, kind="activity")]
    assert any("Opted out" in b for b in activity) and any("Opted back in" in b for b in activity)


async def test_carrier_failure_is_shown_in_words(carrier: Carrier) -> None:
    services, p = carrier.app[SERVICES], carrier.practice
    from comms.models import ContactPhone, Conversation

    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, p.conv_a)
        assert conversation is not None
        phone = await unit.session.scalar(
            select(ContactPhone).where(ContactPhone.contact_id == conversation.contact_id)
        )
        assert phone is not None
        phone.e164 = "+12025550007"  # the sandbox filters texts to numbers ending 0007 (error 30007)
    async with browser() as north:
        session = await sign_in(north, carrier.base, p.staff_a)
        async with north.post(
            f"{carrier.base}/api/v1/conversations/{p.conv_a}/messages",
            json={"body": "Hello"},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            item = await resp.json()

    async def settled() -> TimelineItem | None:
        [row] = await _items(carrier, id=item["id"])
        return row if row.status == "undelivered" else None

    row = await _wait(settled)
    assert row.error_code == "30007" and "spam" in row.meta["error"]


async def test_send_later_waits_and_can_be_canceled(carrier: Carrier) -> None:
    import datetime as dt

    p = carrier.practice
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    async with browser() as north:
        session = await sign_in(north, carrier.base, p.staff_a)
        headers = {"X-CSRF-Token": session["csrf_token"]}
        async with north.post(
            f"{carrier.base}/api/v1/conversations/{p.conv_a}/messages",
            json={"body": "Your ride is booked", "send_at": later},
            headers=headers,
        ) as resp:
            item = await resp.json()
        assert item["status"] == "scheduled"
        await asyncio.sleep(0.5)
        assert await _sandbox_messages(carrier, to=PATIENT_A) == []
        async with north.post(f"{carrier.base}/api/v1/items/{item['id']}/cancel", headers=headers) as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "canceled"
        async with north.post(f"{carrier.base}/api/v1/items/{item['id']}/cancel", headers=headers) as resp:
            assert resp.status == 422


async def test_mms_picture_is_fetched_once_and_served_only_to_staff_who_may_see_it(carrier: Carrier) -> None:
    p = carrier.practice
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    result = await _text_in(
        carrier,
        "my insurance card",
        media=[{"content_type": "image/png", "data_base64": base64.b64encode(png).decode()}],
    )

    async def stored() -> TimelineItem | None:
        [row] = await _items(carrier, carrier_sid=result["sid"])
        media = row.meta.get("media", [])
        return row if media and media[0]["state"] == "stored" else None

    row = await _wait(stored)
    assert row.kind == "mms"
    media_id = row.meta["media"][0]["id"]
    async with browser() as north, browser() as south:
        await sign_in(north, carrier.base, p.staff_a)
        await sign_in(south, carrier.base, p.staff_b)
        async with north.get(f"{carrier.base}/api/v1/media/{media_id}") as resp:
            assert resp.status == 200 and await resp.read() == png
            assert resp.headers["Content-Type"] == "image/png"
        async with south.get(f"{carrier.base}/api/v1/media/{media_id}") as resp:
            assert resp.status == 404
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{carrier.base}/api/v1/media/{media_id}") as resp,
    ):
        assert resp.status == 401


async def test_help_gets_our_reply_when_twilio_does_not_answer_keywords(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    pair = await start_pair(
        db_settings,
        aiohttp_server,
        tmp_path,
        twilio={"advanced_opt_out": False, "help_reply": "Maple Dental: call 202-555-0143."},
    )
    url = f"{pair.base}/twilio/sms"
    params = {
        "MessageSid": "SM" + "d" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": PATIENT_A,
        "To": NORTH_NUMBER,
        "Body": "help",
        "NumMedia": "0",
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=params, headers=_signed(url, params)) as resp:
            twiml = await resp.text()
        assert resp.content_type == "text/xml" and "Maple Dental: call 202-555-0143." in twiml
        # Twilio retries the same webhook: the reply is not sent twice.
        async with http.post(url, data=params, headers=_signed(url, params)) as resp:
            assert "<Message>" not in await resp.text()
