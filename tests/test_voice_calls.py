"""Whole calls through the carrier sandbox and the real server: patients dial from virtual phones, staff
answer on sandbox softphones with tokens from our API, and the sandbox follows our TwiML (Gather, Dial,
Enqueue, Record, Conference) and validates every document it fetches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from comms.models import OptOut, TimelineItem
from comms.voice_models import Call
from telephony.sandbox import SANDBOX_VOICE
from tests.carrier import Carrier, start_pair
from tests.voice import ALWAYS_OPEN, API_KEY_SECRET, API_KEY_SID, TWIML_APP_SID, Desk, open_desk, until
from web.keys import SERVICES

PATIENT = "+12025550170"  # Pat Patient0 at North
NORTH = "+12025550143"
SCALE = 0.02  # the sandbox's simulated seconds: a 20 s ring lasts 0.4 s


@pytest.fixture
async def carrier(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Carrier]:
    twilio = {"api_key_sid": API_KEY_SID, "api_key_secret": API_KEY_SECRET, "twiml_app_sid": TWIML_APP_SID}
    pair = await start_pair(
        db_settings,
        aiohttp_server,
        tmp_path,
        twilio=twilio,
        api_keys={API_KEY_SID: API_KEY_SECRET},
        twiml_app_sid=TWIML_APP_SID,
        voice_time_scale=SCALE,
    )
    yield pair
    assert pair.sandbox_app[SANDBOX_VOICE].twiml_errors == [], "the server answered with invalid TwiML"


class Phone:
    """A staff softphone on the sandbox, registered with a token our server issued."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.unread: list[dict[str, Any]] = []

    async def next(self, kind: str, seconds: float = 8.0) -> dict[str, Any]:
        for message in self.unread:
            if message["type"] == kind:
                self.unread.remove(message)
                return message
        while True:
            message = await self.ws.receive_json(timeout=seconds)
            if message["type"] == kind:
                return message
            self.unread.append(message)

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send_json({"type": kind, **fields})


async def _softphone(carrier: Carrier, desk: Desk) -> Phone:
    token = await desk.api("POST", f"{carrier.base}/api/v1/phone/token")
    assert token["mode"] == "sandbox" and token["sandbox_url"].endswith("/sandbox/client")
    ws = await desk.http.ws_connect(token["sandbox_url"])
    phone = Phone(ws)
    await phone.send("register", token=token["token"])
    assert (await phone.next("registered"))["identity"] == f"staff_{desk.user_id}"
    return phone


async def _sandbox(carrier: Carrier, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, carrier.sandbox + path, json=body) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _configure(carrier: Carrier, desk: Desk, **config: Any) -> None:
    body = {"hours": ALWAYS_OPEN, **config}
    await desk.api("PUT", f"{carrier.base}/api/v1/locations/{carrier.practice.loc_a}/voice", body)


async def _call_row(carrier: Carrier, **where: Any) -> Call | None:
    async with carrier.app[SERVICES].read() as s:
        query = select(Call)
        for key, value in where.items():
            query = query.where(getattr(Call, key) == value)
        return await s.scalar(query.order_by(Call.id.desc()))


async def _ended(carrier: Carrier) -> Call:
    async def done() -> Call | None:
        call = await _call_row(carrier)
        return call if call is not None and call.stage == "ended" else None

    return await until(done, 10)  # type: ignore[no-any-return]


async def test_two_softphones_ring_with_call_pop_one_answers_the_other_stops(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        await _configure(carrier, admin)
        admin_phone, north_phone = await _softphone(carrier, admin), await _softphone(carrier, north)
        patient_call = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))[
            "call_sid"
        ]
        ring_admin, ring_north = await admin_phone.next("incoming"), await north_phone.next("incoming")
        assert ring_admin["params"]["call_id"] == ring_north["params"]["call_id"]
        for desk in (admin, north):
            pop = await desk.event(lambda e: e["type"] == "call.ringing")
            assert pop["caller"]["name"] == "Pat Patient0"
        await north_phone.send("accept", call_sid=ring_north["call_sid"])
        await north_phone.next("connected")
        assert (await admin_phone.next("canceled"))["call_sid"] == ring_admin["call_sid"]
        answered = await admin.event(
            lambda e: e["type"] == "call.updated" and e["call"]["answered_by_id"] is not None
        )
        assert (
            answered["call"]["answered_by_id"] == north.user_id and answered["call"]["stage"] == "connected"
        )
        heard = (await _sandbox(carrier, "GET", f"/sandbox/calls/{patient_call}"))["heard"]
        assert any("Thank you for calling North" in (h.get("text") or "") for h in heard)
        await _sandbox(carrier, "POST", f"/sandbox/calls/{patient_call}/hangup", {})
        call = await _ended(carrier)
        assert (call.outcome, call.answered_by_id, call.text_back) == ("answered", north.user_id, None)
        item = await admin.event(
            lambda e: (
                e["type"] == "timeline.item_updated"
                and e["item"]["kind"] == "call"
                and e["item"]["status"] == "answered"
            )
        )
        assert item["item"]["meta"]["answered_by_id"] == north.user_id
    finally:
        await admin.close()
        await north.close()


async def test_after_hours_voicemail_is_transcribed_stored_and_texted_back_once(carrier: Carrier) -> None:
    admin = await open_desk(carrier.base, carrier.practice.admin)
    try:
        await _configure(carrier, admin, hours={})
        words = "Hi it's Pat, my crown came loose, please call me back."
        for attempt in range(2):
            sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))[
                "call_sid"
            ]
            await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/speech", {"text": words, "wait": 5})
            await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/digits", {"digits": "#", "wait": 5})
            call = await _ended(carrier)
            assert call.outcome == "voicemail"

            async def stored() -> TimelineItem | None:
                async with carrier.app[SERVICES].read() as s:
                    item = await s.scalar(
                        select(TimelineItem)
                        .where(TimelineItem.kind == "voicemail")
                        .order_by(TimelineItem.id.desc())
                    )
                ready = (
                    item and item.body and item.meta["media"] and item.meta["media"][0]["state"] == "stored"
                )
                return item if ready else None

            voicemail = await until(stored, 10)
            assert voicemail.body == words
            media_id = voicemail.meta["media"][0]["id"]
            async with admin.http.get(f"{carrier.base}/api/v1/media/{media_id}") as resp:
                assert resp.status == 200 and resp.content_type in ("audio/wav", "audio/x-wav")
                assert (await resp.read())[:4] == b"RIFF"
            decided = await until(lambda c=call: _text_back(carrier, c.id), 10)
            assert decided == ("sent" if attempt == 0 else "skipped:already_today")
        texts = await until(lambda: _texts_to(carrier, PATIENT), 10)
        assert len(texts) == 1 and "Sorry we missed your call at North" in texts[0]["body"]
    finally:
        await admin.close()


async def _text_back(carrier: Carrier, call_id: int) -> str | None:
    async with carrier.app[SERVICES].read() as s:
        call = await s.get(Call, call_id)
        value = call.text_back if call else None
        return value if value and value not in ("due",) and not value.startswith("working") else None


async def _texts_to(carrier: Carrier, number: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{carrier.sandbox}/sandbox/messages", params={"to": number}) as r,
    ):
        return [m for m in (await r.json())["messages"] if m.get("direction", "").startswith("outbound")]


async def test_no_text_back_to_a_landline_or_an_opted_out_caller(carrier: Carrier) -> None:
    admin = await open_desk(carrier.base, carrier.practice.admin)
    try:
        await _configure(carrier, admin, hours={}, transcribe_voicemail=False)
        landline = "+12025550006"  # the sandbox's Lookup calls numbers ending 0006 landlines
        async with carrier.app[SERVICES].unit() as unit:
            unit.session.add(OptOut(practice_id=carrier.practice.practice_id, e164=PATIENT, source="sms"))
        outcomes = []
        for caller in (landline, PATIENT):
            sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{caller}/calls", {"to": NORTH}))[
                "call_sid"
            ]
            await until(lambda number=caller: _call_row(carrier, patient_e164=number), 10)
            await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
            call = await _ended(carrier)
            assert call.patient_e164 == caller and call.outcome == "missed"
            outcomes.append(await until(lambda c=call: _text_back(carrier, c.id), 10))
        assert outcomes == ["skipped:landline", "skipped:opted_out"]
        assert await _texts_to(carrier, landline) == [] and await _texts_to(carrier, PATIENT) == []
    finally:
        await admin.close()


async def test_nobody_on_duty_queues_the_caller_then_overflows_to_voicemail(carrier: Carrier) -> None:
    admin = await open_desk(carrier.base, carrier.practice.admin, on_duty=False)
    try:
        await _configure(carrier, admin, queue_max_wait_seconds=20, missed_call_text=None)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        # Ring, no one on duty, then the queue: three webhook round trips, slow on a busy CI machine.
        queued = await admin.event(
            lambda e: e["type"] == "call.updated" and e["call"]["stage"] == "queued", timeout=15
        )
        assert queued["call"]["contact_name"] == "Pat Patient0"
        await until(lambda: _stage(carrier, "voicemail"), 15)
        heard = " ".join(
            h.get("text") or "" for h in (await _sandbox(carrier, "GET", f"/sandbox/calls/{sid}"))["heard"]
        )
        assert "caller number 1" in heard and "Sorry to keep you waiting" in heard
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        call = await _ended(carrier)
        assert [s["step"] for s in call.route][:3] == ["ring", "queue", "queue result"]
        assert await until(lambda: _text_back(carrier, call.id), 10) == "skipped:off"
    finally:
        await admin.close()


async def _stage(carrier: Carrier, stage: str) -> bool:
    call = await _call_row(carrier)
    return call is not None and call.stage == stage


async def test_hold_resume_and_cold_transfer_through_the_conference(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        await _configure(carrier, admin, default_group_id=None)
        await admin.api("PUT", f"{carrier.base}/api/v1/phone/duty", {"on_duty": False})
        north_phone, admin_phone = await _softphone(carrier, north), await _softphone(carrier, admin)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await north_phone.next("incoming")
        await north_phone.send("accept", call_sid=ring["call_sid"])
        await north_phone.next("connected")
        call_id = int(ring["params"]["call_id"])
        await north.event(
            lambda e: e["type"] == "call.updated" and e["call"]["answered_by_id"] == north.user_id
        )
        held = await north.api("POST", f"{carrier.base}/api/v1/calls/{call_id}/hold")
        assert held == {"result": "held"}
        await north_phone.next("disconnected")  # our leg leaves; the patient waits in the conference
        await north.event(lambda e: e["type"] == "call.updated" and e["call"]["on_hold"] is True)
        resumed = await north.api("POST", f"{carrier.base}/api/v1/calls/{call_id}/resume")
        assert resumed == {"result": "join"}
        await north_phone.send("connect", ref="1", params={"action": "join", "call_id": str(call_id)})
        await north_phone.next("outgoing")
        await north.event(
            lambda e: (
                e["type"] == "call.updated" and e["call"]["stage"] == "connected" and not e["call"]["on_hold"]
            )
        )
        # Cold transfer to the admin: their softphone rings with the call pop, they answer.
        transfer = await north.api(
            "POST",
            f"{carrier.base}/api/v1/calls/{call_id}/transfer",
            {"to_user_id": admin.user_id, "mode": "cold"},
        )
        assert transfer == {"result": "ringing"}
        pop = await admin.event(lambda e: e["type"] == "call.ringing")
        assert pop["call"]["id"] == call_id
        ring = await admin_phone.next("incoming")
        await admin_phone.send("accept", call_sid=ring["call_sid"])
        await admin.event(
            lambda e: e["type"] == "call.updated" and e["call"]["answered_by_id"] == admin.user_id
        )
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        call = await _ended(carrier)
        assert call.answered_by_id == admin.user_id and call.outcome == "answered"
        assert [s["step"] for s in call.route if s["step"] in ("hold", "resumed", "transfer")] == [
            "hold",
            "resumed",
            "transfer",
        ]
    finally:
        await admin.close()
        await north.close()


async def test_calling_a_patient_from_the_thread_shows_the_practice_number(carrier: Carrier) -> None:
    p = carrier.practice
    north = await open_desk(carrier.base, p.staff_a)
    try:
        phone = await _softphone(carrier, north)
        await phone.send(
            "connect", ref="7", params={"action": "dial", "conversation_id": str(p.conv_a), "To": PATIENT}
        )
        await phone.next("outgoing")

        async def ringing() -> dict[str, Any] | None:
            calls = (await _sandbox(carrier, "GET", f"/sandbox/phones/{PATIENT}/calls?after=0&wait=0"))[
                "calls"
            ]
            return next(
                (c for c in calls if c["status"] == "ringing" and c["direction"] == "outbound-dial"), None
            )

        incoming = await until(ringing, 10)
        assert incoming["from"] == NORTH  # caller ID: the location's number, never a staff identity
        await _sandbox(carrier, "POST", f"/sandbox/calls/{incoming['call_sid']}/answer", {})
        await north.event(lambda e: e["type"] == "call.updated" and e["call"]["stage"] == "connected")
        await _sandbox(carrier, "POST", f"/sandbox/calls/{incoming['call_sid']}/hangup", {})
        call = await _ended(carrier)
        assert (call.direction, call.outcome, call.placed_by_id) == ("out", "answered", north.user_id)
        # Another location's patient cannot be dialled from this softphone.
        await phone.send(
            "connect",
            ref="8",
            params={"action": "dial", "conversation_id": str(p.conv_b), "To": "+12025550171"},
        )
        await phone.next("outgoing")
        async with carrier.app[SERVICES].read() as s:
            assert await s.scalar(select(Call).where(Call.conversation_id == p.conv_b)) is None
    finally:
        await north.close()


async def _conference_participants(carrier: Carrier, name: str) -> list[dict[str, Any]]:
    from tests.carrier import ACCOUNT_SID, AUTH_TOKEN

    headers = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN)}
    root = f"{carrier.sandbox}/2010-04-01/Accounts/{ACCOUNT_SID}"
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{root}/Conferences.json", params={"FriendlyName": name}) as r:
            conferences = (await r.json())["conferences"]
        if not conferences:
            return []
        async with http.get(f"{root}/Conferences/{conferences[0]['sid']}/Participants.json") as r:
            return list((await r.json())["participants"])


async def test_warm_transfer_keeps_the_patient_on_hold_until_it_is_handed_over(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        await _configure(carrier, admin)
        await admin.api("PUT", f"{carrier.base}/api/v1/phone/duty", {"on_duty": False})
        north_phone, admin_phone = await _softphone(carrier, north), await _softphone(carrier, admin)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await north_phone.next("incoming")
        call_id = int(ring["params"]["call_id"])
        await north_phone.send("accept", call_sid=ring["call_sid"])
        await north.event(
            lambda e: e["type"] == "call.updated" and e["call"]["answered_by_id"] == north.user_id
        )
        started = await north.api(
            "POST",
            f"{carrier.base}/api/v1/calls/{call_id}/transfer",
            {"to_user_id": admin.user_id, "mode": "warm"},
        )
        assert started == {"result": "ringing"}
        await north_phone.next("disconnected")
        await north_phone.send("connect", ref="1", params={"action": "join", "call_id": str(call_id)})
        await north_phone.next("outgoing")
        admin_ring = await admin_phone.next("incoming")
        await admin_phone.send("accept", call_sid=admin_ring["call_sid"])
        await admin_phone.next("connected")

        async def patient_held() -> bool:
            rows = await _conference_participants(carrier, f"call-{call_id}")
            return any(r["call_sid"] == sid and r["hold"] for r in rows) and len(rows) == 3

        await until(patient_held, 10)
        done = await north.api(
            "POST", f"{carrier.base}/api/v1/calls/{call_id}/transfer/complete", {"to_user_id": admin.user_id}
        )
        assert done == {"result": "transferred"}

        async def released() -> bool:
            rows = await _conference_participants(carrier, f"call-{call_id}")
            return any(r["call_sid"] == sid and not r["hold"] for r in rows)

        await until(released, 10)
        await admin.event(
            lambda e: e["type"] == "call.updated" and e["call"]["answered_by_id"] == admin.user_id
        )
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        call = await _ended(carrier)
        assert (call.outcome, call.answered_by_id) == ("answered", admin.user_id)
        assert "transferred" in [s["step"] for s in call.route]
    finally:
        await admin.close()
        await north.close()


async def test_a_phone_tree_choice_by_key_rings_that_group(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        billing = await admin.api(
            "POST",
            f"{carrier.base}/api/v1/locations/{p.loc_a}/ring-groups",
            {"name": "Billing", "member_ids": [north.user_id]},
        )
        options = [
            {"digit": "1", "label": "Front desk", "words": ["appointment"]},
            {"digit": "2", "label": "Billing", "words": ["bill"], "group_id": billing["id"]},
        ]
        await _configure(
            carrier, admin, menu_enabled=True, menu_options=options, menu_prompt="Press 2 for billing."
        )
        north_phone = await _softphone(carrier, north)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/digits", {"digits": "2", "wait": 5})
        ring = await north_phone.next("incoming")
        assert ring["params"]["patient_id"] and ring["params"]["call_id"]
        heard = " ".join(
            h.get("text") or "" for h in (await _sandbox(carrier, "GET", f"/sandbox/calls/{sid}"))["heard"]
        )
        assert "Thank you for calling North" in heard  # the key barged in on the menu prompt
        call = await _call_row(carrier)
        assert call is not None and call.group_id == billing["id"]
        assert not [e for e in admin.events if e["type"] == "call.ringing"]
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        assert (await _ended(carrier)).outcome == "missed"
    finally:
        await admin.close()
        await north.close()
