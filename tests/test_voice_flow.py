"""Inbound calls through the real server, webhook by webhook, signed as Twilio signs them: routing,
call pop, who answered, queue, voicemail with transcription, and idempotent, any-order callbacks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from comms.models import TimelineItem
from comms.voice_models import Call
from tests.carrier import Carrier, start_pair
from tests.test_call_routing import assert_twiml
from tests.voice import ALWAYS_OPEN, API_KEY_SECRET, API_KEY_SID, TWIML_APP_SID, Desk, hook, open_desk, sid
from web.keys import SERVICES

PATIENT = "+12025550170"  # Pat Patient0, seeded at North
NORTH = "+12025550143"


@pytest.fixture
async def carrier(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Carrier]:
    twilio = {"api_key_sid": API_KEY_SID, "api_key_secret": API_KEY_SECRET, "twiml_app_sid": TWIML_APP_SID}
    yield await start_pair(db_settings, aiohttp_server, tmp_path, twilio=twilio)


async def _configure(carrier: Carrier, desk: Desk, **config: Any) -> None:
    body = {"hours": ALWAYS_OPEN, "queue_max_wait_seconds": 60, **config}
    await desk.api("PUT", f"{carrier.base}/api/v1/locations/{carrier.practice.loc_a}/voice", body)


async def _call(carrier: Carrier, call_sid: str) -> Call:
    async with carrier.app[SERVICES].read() as s:
        call = await s.scalar(select(Call).where(Call.call_sid == call_sid))
        assert call is not None
        return call


async def _incoming(carrier: Carrier, call_sid: str, caller: str = PATIENT) -> ET.Element:
    status, body = await hook(
        carrier.base,
        "/twilio/voice",
        {"CallSid": call_sid, "From": caller, "To": NORTH, "CallStatus": "ringing", "Direction": "inbound"},
    )
    assert status == 200, body
    return assert_twiml(body)


def _next_url(carrier: Carrier, url: str) -> str:
    assert url.startswith(carrier.base), url
    return url[len(carrier.base) :]


async def test_call_pops_on_both_softphones_and_the_first_answer_wins(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    south = await open_desk(carrier.base, p.staff_b)
    try:
        await _configure(carrier, admin)
        call_sid = sid("CA")
        twiml = await _incoming(carrier, call_sid)
        identities = sorted(c.findtext("Identity") or "" for c in twiml.findall("./Dial/Client"))
        params = {x.attrib["name"]: x.attrib["value"] for x in twiml.findall("./Dial/Client[1]/Parameter")}
        assert set(params) == {"call_id", "conversation_id", "patient_id"} and params[
            "conversation_id"
        ] == str(carrier.practice.conv_a)
        assert identities == sorted([f"staff_{admin.user_id}", f"staff_{north.user_id}"])  # South: not theirs
        for desk in (admin, north):
            pop = await desk.event(lambda e: e["type"] == "call.ringing")
            assert pop["caller"]["name"] == "Pat Patient0" and pop["call"]["stage"] == "ringing"
            assert sorted(pop["call"]["ringing_user_ids"]) == sorted([admin.user_id, north.user_id])
        dial = twiml.find("Dial")
        assert dial is not None
        leg_url = _next_url(carrier, dial.find("Client").attrib["statusCallback"])  # type: ignore[union-attr]
        north_leg, admin_leg = sid("CA"), sid("CA")
        for leg, desk in ((north_leg, north), (admin_leg, admin)):
            status, _ = await hook(
                carrier.base,
                leg_url,
                {
                    "CallSid": leg,
                    "ParentCallSid": call_sid,
                    "To": f"client:staff_{desk.user_id}",
                    "CallStatus": "ringing",
                },
            )
            assert status == 204
        # North answers; the admin's "canceled" arrives before North's "in-progress" (any order).
        await hook(
            carrier.base,
            leg_url,
            {
                "CallSid": admin_leg,
                "ParentCallSid": call_sid,
                "To": f"client:staff_{admin.user_id}",
                "CallStatus": "canceled",
            },
        )
        await hook(
            carrier.base,
            leg_url,
            {
                "CallSid": north_leg,
                "ParentCallSid": call_sid,
                "To": f"client:staff_{north.user_id}",
                "CallStatus": "in-progress",
            },
        )
        answered = await admin.event(lambda e: e["type"] == "call.updated" and e["call"]["answered_by_id"])
        assert (
            answered["call"]["answered_by_id"] == north.user_id and answered["call"]["ringing_user_ids"] == []
        )
        # Twilio retries the answered callback: nothing changes.
        await hook(
            carrier.base,
            leg_url,
            {
                "CallSid": north_leg,
                "ParentCallSid": call_sid,
                "To": f"client:staff_{north.user_id}",
                "CallStatus": "in-progress",
            },
        )
        status, body = await hook(
            carrier.base,
            _next_url(carrier, dial.attrib["action"]),
            {
                "CallSid": call_sid,
                "DialCallStatus": "completed",
                "DialCallDuration": "42",
                "CallStatus": "in-progress",
            },
        )
        assert assert_twiml(body).find("Hangup") is not None
        await hook(
            carrier.base,
            "/twilio/voice/status",
            {"CallSid": call_sid, "CallStatus": "completed", "CallDuration": "50"},
        )
        call = await _call(carrier, call_sid)
        assert (call.outcome, call.answered_by_id, call.stage, call.text_back) == (
            "answered",
            north.user_id,
            "ended",
            None,
        )
        async with carrier.app[SERVICES].read() as s:
            item = await s.get(TimelineItem, call.item_id)
        assert item is not None and item.kind == "call" and item.status == "answered"
        assert item.meta["answered_by_id"] == north.user_id and item.meta["duration"] == 50
        assert not [e for e in south.events if e["type"].startswith("call.")]  # another location's call
    finally:
        for desk in (admin, north, south):
            await desk.close()


async def test_a_retried_webhook_is_one_call_and_a_forged_one_is_refused(carrier: Carrier) -> None:
    admin = await open_desk(carrier.base, carrier.practice.admin)
    try:
        await _configure(carrier, admin)
        call_sid = sid("CA")
        first = await _incoming(carrier, call_sid)
        again = await _incoming(carrier, call_sid)
        assert ET.tostring(first) == ET.tostring(again)
        forged, _ = await hook(
            carrier.base,
            "/twilio/voice",
            {"CallSid": sid("CA"), "From": PATIENT, "To": NORTH, "CallStatus": "ringing"},
            token="not-the-token",
        )
        assert forged == 403
        async with carrier.app[SERVICES].read() as s:
            assert await s.scalar(select(func.count()).select_from(Call)) == 1
            assert (
                await s.scalar(
                    select(func.count()).select_from(TimelineItem).where(TimelineItem.kind == "call")
                )
                == 1
            )
    finally:
        await admin.close()


async def test_phone_tree_retries_then_rings_the_chosen_group(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        group = await admin.api(
            "POST",
            f"{carrier.base}/api/v1/locations/{p.loc_a}/ring-groups",
            {"name": "Billing", "member_ids": [north.user_id]},
        )
        await _configure(
            carrier,
            admin,
            menu_enabled=True,
            menu_retries=1,
            menu_options=[
                {"digit": "1", "label": "Appointments", "words": ["appointment"]},
                {"digit": "2", "label": "Billing", "words": ["billing", "bill"], "group_id": group["id"]},
            ],
        )
        call_sid = sid("CA")
        twiml = await _incoming(carrier, call_sid)
        gather = twiml.find("Gather")
        assert gather is not None and gather.attrib["input"] == "dtmf speech"
        redirect = twiml.find("Redirect")
        assert redirect is not None
        # Silence: Twilio follows the Redirect with no Digits; we ask again ("sorry").
        _, body = await hook(carrier.base, _next_url(carrier, redirect.text or ""), {"CallSid": call_sid})
        retry = assert_twiml(body)
        assert "didn't catch" in " ".join(s.text or "" for s in retry.iter("Say"))
        action = _next_url(carrier, retry.find("Gather").attrib["action"])  # type: ignore[union-attr]
        _, body = await hook(
            carrier.base, action, {"CallSid": call_sid, "SpeechResult": "I have a question about my bill"}
        )
        ringing = assert_twiml(body)
        assert [c.findtext("Identity") for c in ringing.findall("./Dial/Client")] == [
            f"staff_{north.user_id}"
        ]
        call = await _call(carrier, call_sid)
        assert [s["step"] for s in call.route] == ["menu", "menu", "menu", "ring"]
        assert call.route[2]["label"] == "Billing" and call.group_id == group["id"]
        pop = await north.event(lambda e: e["type"] == "call.ringing")
        assert pop["call"]["id"] == call.id
        assert not [e for e in admin.events if e["type"] == "call.ringing"]  # not in the billing group
    finally:
        await admin.close()
        await north.close()


async def test_nobody_answers_queue_then_voicemail_with_transcription_then_one_text_back(
    carrier: Carrier,
) -> None:
    admin = await open_desk(carrier.base, carrier.practice.admin)
    try:
        await _configure(carrier, admin, queue_max_wait_seconds=30)
        call_sid = sid("CA")
        twiml = await _incoming(carrier, call_sid)
        dial = twiml.find("Dial")
        assert dial is not None
        _, body = await hook(
            carrier.base,
            _next_url(carrier, dial.attrib["action"]),
            {"CallSid": call_sid, "DialCallStatus": "no-answer", "CallStatus": "in-progress"},
        )
        enqueue = assert_twiml(body).find("Enqueue")
        assert enqueue is not None and enqueue.text == f"location-{carrier.practice.loc_a}"
        wait_url = _next_url(carrier, enqueue.attrib["waitUrl"])
        _, body = await hook(
            carrier.base, wait_url, {"CallSid": call_sid, "QueuePosition": "2", "QueueTime": "5"}
        )
        assert "caller number 2" in (assert_twiml(body).findtext("Say") or "")
        _, body = await hook(
            carrier.base, wait_url, {"CallSid": call_sid, "QueuePosition": "1", "QueueTime": "31"}
        )
        assert assert_twiml(body).find("Leave") is not None
        _, body = await hook(
            carrier.base,
            _next_url(carrier, enqueue.attrib["action"]),
            {"CallSid": call_sid, "QueueResult": "leave", "QueueTime": "31"},
        )
        record = assert_twiml(body).find("Record")
        assert record is not None and record.attrib["transcribe"] == "true"
        recording_sid = sid("RE")
        # The transcription arrives before the recording: both land on one voicemail item.
        await hook(
            carrier.base,
            _next_url(carrier, record.attrib["transcribeCallback"]),
            {
                "CallSid": call_sid,
                "RecordingSid": recording_sid,
                "TranscriptionStatus": "completed",
                "TranscriptionText": "Hi, this is Pat, please call me back about my crown.",
                "TranscriptionSid": sid("TR"),
            },
        )
        for _ in range(2):  # and the recording callback twice
            status, _ = await hook(
                carrier.base,
                _next_url(carrier, record.attrib["recordingStatusCallback"]),
                {
                    "CallSid": call_sid,
                    "RecordingSid": recording_sid,
                    "RecordingUrl": f"{carrier.sandbox}/2010-04-01/Accounts/AC/Recordings/{recording_sid}",
                    "RecordingStatus": "completed",
                    "RecordingDuration": "9",
                },
            )
            assert status == 204
        _, body = await hook(
            carrier.base,
            _next_url(carrier, record.attrib["action"]),
            {"CallSid": call_sid, "RecordingSid": recording_sid, "RecordingDuration": "9"},
        )
        assert assert_twiml(body).find("Hangup") is not None
        await hook(
            carrier.base,
            "/twilio/voice/status",
            {"CallSid": call_sid, "CallStatus": "completed", "CallDuration": "70"},
        )
        call = await _call(carrier, call_sid)
        assert call.outcome == "voicemail" and [s["step"] for s in call.route][-3:] == [
            "queue result",
            "voicemail",
            "voicemail left",
        ]
        async with carrier.app[SERVICES].read() as s:
            voicemails = list(await s.scalars(select(TimelineItem).where(TimelineItem.kind == "voicemail")))
        assert len(voicemails) == 1
        assert voicemails[0].body == "Hi, this is Pat, please call me back about my crown."
        assert voicemails[0].meta["transcription"] == "completed" and len(voicemails[0].meta["media"]) == 1
        assert call.text_back is not None  # decided by the text-back worker (sandbox lookups: later test)
    finally:
        await admin.close()


async def test_after_hours_goes_straight_to_voicemail_with_the_closed_message(carrier: Carrier) -> None:
    admin = await open_desk(carrier.base, carrier.practice.admin)
    try:
        await _configure(carrier, admin, hours={}, after_hours_message="We are closed for the day.")
        twiml = await _incoming(carrier, sid("CA"))
        said = " ".join(s.text or "" for s in twiml.iter("Say"))
        assert "We are closed for the day." in said and twiml.find("Record") is not None
        assert twiml.find("Dial") is None
    finally:
        await admin.close()


async def test_an_unknown_caller_gets_a_record_and_a_number_we_do_not_own_is_rejected(
    carrier: Carrier,
) -> None:
    admin = await open_desk(carrier.base, carrier.practice.admin)
    try:
        await _configure(carrier, admin)
        call_sid = sid("CA")
        await _incoming(carrier, call_sid, caller="+14155550123")
        pop = await admin.event(lambda e: e["type"] == "call.ringing")
        assert pop["caller"]["unknown"] is True
        status, body = await hook(
            carrier.base,
            "/twilio/voice",
            {"CallSid": sid("CA"), "From": PATIENT, "To": "+19995550000", "CallStatus": "ringing"},
        )
        assert status == 200 and assert_twiml(body).find("Reject") is not None
        status, _ = await hook(carrier.base, "/twilio/voice", {"From": PATIENT, "To": NORTH})
        assert status == 422  # malformed: no CallSid
    finally:
        await admin.close()
