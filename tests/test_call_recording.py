"""Call recording with its consent announcement: the TwiML (announcement before anyone is connected,
only on recorded calls), whole recorded calls through the carrier sandbox onto the call's timeline
item, callbacks repeated, late or forged, and who may listen."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import func, select

from comms.models import AuditEntry, Media, TimelineItem
from comms.voice_models import Call, Recording
from config.settings import RecordingSettings
from schemas.voice import VoiceConfig
from telephony import voice_twiml as twiml
from telephony.sandbox import SANDBOX_VOICE
from telephony.voice_steps import effective
from tests.carrier import Carrier
from tests.helpers import ORIGIN
from tests.test_call_routing import assert_twiml
from tests.test_voice_calls import (  # the same whole-call rig (sandbox, softphones, patient phones)
    NORTH,
    PATIENT,
    _configure,
    _ended,
    _sandbox,
    _softphone,
    carrier,
)
from tests.voice import Desk, hook, open_desk, until
from web.keys import SERVICES

__all__ = ["carrier"]  # the fixture, imported for this module's tests

CONSENT = "This call is recorded so we can get your care right."
URLS = twiml.Urls("https://fd.example/twilio/voice", 7)
PRACTICE_ON = RecordingSettings(enabled=True, announcement="Practice-wide: this call may be recorded.")
PRACTICE_OFF = RecordingSettings()


def _recorded(**values: Any) -> VoiceConfig:
    return effective(VoiceConfig.model_validate(values), PRACTICE_OFF)


def _says(root: ET.Element) -> list[str]:
    return [say.text or "" for say in root.findall("Say")]


def test_the_announcement_comes_before_the_dial_only_when_the_call_is_recorded() -> None:
    off = _recorded()
    plain = assert_twiml(twiml.ring(off, URLS, [1], {}, greet="Hello"))
    assert _says(plain) == ["Hello"]
    assert "record" not in plain.find("Dial").attrib  # type: ignore[union-attr]
    assert "recordingStatusCallback" not in plain.find("Dial").attrib  # type: ignore[union-attr]

    on = _recorded(record_calls=True, recording_announcement=CONSENT)
    ring = assert_twiml(twiml.ring(on, URLS, [1, 2], {}, greet="Hello"))
    assert [child.tag for child in ring] == ["Say", "Say", "Dial"]  # the greeting, the consent, then ringing
    assert _says(ring) == ["Hello", CONSENT]
    dial = ring.find("Dial").attrib  # type: ignore[union-attr]
    assert dial["record"] == "record-from-answer-dual"
    assert dial["recordingStatusCallback"] == "https://fd.example/twilio/voice/recording?call=7&kind=call"
    assert dial["recordingStatusCallbackEvent"] == "completed"

    # Outbound from the softphone: a <Say> would reach the staff member; the patient hears it on answer.
    out = assert_twiml(twiml.dial_patient(on, URLS, "+12025550100", "+12025550143"))
    assert _says(out) == []
    number = out.find("Dial/Number").attrib  # type: ignore[union-attr]
    assert number["url"] == "https://fd.example/twilio/voice/consent?call=7"
    assert out.find("Dial").attrib["record"] == "record-from-answer-dual"  # type: ignore[union-attr]
    assert _says(assert_twiml(twiml.consent(on))) == [CONSENT]
    unrecorded = assert_twiml(twiml.dial_patient(off, URLS, "+12025550100", "+12025550143"))
    assert "url" not in unrecorded.find("Dial/Number").attrib  # type: ignore[union-attr]
    assert _says(assert_twiml(twiml.consent(off))) == []

    # A queued caller hears it before the bridge; the taking softphone's Dial records.
    assert _says(assert_twiml(twiml.say_only("Connecting you now.", on))) == ["Connecting you now.", CONSENT]
    assert _says(assert_twiml(twiml.say_only("Connecting you now.", off))) == ["Connecting you now."]
    dequeue = assert_twiml(twiml.dequeue(on, 3, URLS, by=5)).find("Dial").attrib  # type: ignore[union-attr]
    assert dequeue["record"] == "record-from-answer-dual"

    # Held or transferred calls go on in the conference, which records from its start.
    room = assert_twiml(twiml.conference(on, URLS, "call-7", staff=False)).find("Dial/Conference")
    assert room is not None and room.attrib["record"] == "record-from-start"
    assert room.attrib["recordingStatusCallback"].endswith("/recording?call=7&kind=call")
    quiet = assert_twiml(twiml.conference(off, URLS, "call-7", staff=False)).find("Dial/Conference")
    assert quiet is not None and "record" not in quiet.attrib


def test_a_location_follows_the_practice_unless_it_says_otherwise() -> None:
    unset = VoiceConfig()
    assert VoiceConfig().record_calls is None  # off by default: the practice's default is off
    assert effective(unset, PRACTICE_OFF).record_calls is False
    following = effective(unset, PRACTICE_ON)
    assert following.record_calls is True and following.recording_announcement == PRACTICE_ON.announcement
    own = effective(VoiceConfig(record_calls=False), PRACTICE_ON)
    assert own.record_calls is False
    worded = effective(VoiceConfig(record_calls=True, recording_announcement=CONSENT), PRACTICE_OFF)
    assert (worded.record_calls, worded.recording_announcement) == (True, CONSENT)
    with pytest.raises(ValueError):
        RecordingSettings(announcement="")  # a recorded call always has something to say


async def _recorded_item(carrier: Carrier, call_id: int, count: int = 1) -> TimelineItem:
    """The call's item once `count` recordings are attached and stored."""

    async def stored() -> TimelineItem | None:
        async with carrier.app[SERVICES].read() as s:
            call = await s.get(Call, call_id)
            item = await s.get(TimelineItem, call.item_id) if call and call.item_id else None
        media = (item.meta or {}).get("media", []) if item else []
        return item if len(media) >= count and all(m["state"] == "stored" for m in media) else None

    return await until(stored, 15)  # type: ignore[no-any-return]


def _heard(call: dict[str, Any]) -> list[str]:
    return [h.get("text") or "" for h in call["heard"] if h.get("verb") == "Say"]


async def _count(carrier: Carrier, model: Any, **where: Any) -> int:
    async with carrier.app[SERVICES].read() as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await s.scalar(query) or 0)


async def test_a_recorded_call_is_announced_recorded_and_played_only_to_its_location(
    carrier: Carrier,
) -> None:
    p = carrier.practice
    admin, north, south = (
        await open_desk(carrier.base, p.admin),
        await open_desk(carrier.base, p.staff_a),
        await open_desk(carrier.base, p.staff_b),
    )
    try:
        await _configure(carrier, admin, record_calls=True, recording_announcement=CONSENT)
        await admin.api("PUT", f"{carrier.base}/api/v1/phone/duty", {"on_duty": False})
        phone = await _softphone(carrier, north)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await phone.next("incoming")
        said = _heard(await _sandbox(carrier, "GET", f"/sandbox/calls/{sid}"))
        assert said[-1] == CONSENT and any("Thank you for calling North" in s for s in said[:-1])
        await phone.send("accept", call_sid=ring["call_sid"])
        await phone.next("connected")
        call_id = int(ring["params"]["call_id"])
        await north.event(lambda e: e["type"] == "call.updated" and e["call"]["stage"] == "connected")
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        call = await _ended(carrier)
        item = await _recorded_item(carrier, call_id)
        call = await _ended(carrier)  # again: the recording arrives after the call has ended
        assert call.recorded and item.meta["recorded"] is True
        assert item.meta["duration"] == call.duration_seconds  # the call's own length, not the file's
        [entry] = item.meta["media"]
        live = await north.event(
            lambda e: (
                e["type"] == "timeline.item_updated"
                and e["item"]["id"] == item.id
                and any(m["state"] == "stored" for m in e["item"]["meta"].get("media", []))
            ),
            timeout=10,
        )
        assert live["item"]["kind"] == "call"
        [kept] = carrier.sandbox_app[SANDBOX_VOICE].recordings.values()
        assert (kept.source, kept.channels, kept.call_sid) == ("DialVerb", 2, sid)

        url = f"{carrier.base}/api/v1/media/{entry['id']}"
        async with north.http.get(url) as resp:
            assert resp.status == 200 and resp.content_type in ("audio/wav", "audio/x-wav")
            assert (await resp.read())[:4] == b"RIFF"
        assert (
            await _count(carrier, AuditEntry, action="view", record_type="media", record_id=str(entry["id"]))
            == 1
        )
        async with south.http.get(url) as resp:  # staff of the other location
            assert resp.status in (403, 404)
        async with admin.http.get(url) as resp:
            assert resp.status == 200
        views = await _count(
            carrier, AuditEntry, action="view", record_type="media", record_id=str(entry["id"])
        )
        assert views == 2  # each playback is audited; the refused one is not a view
    finally:
        for desk in (admin, north, south):
            await desk.close()


async def _recording_hook(carrier: Carrier, call: Call, recording_sid: str, **extra: str) -> tuple[int, str]:
    params = {
        "CallSid": call.call_sid,
        "RecordingSid": recording_sid,
        "RecordingUrl": f"{carrier.sandbox}/2010-04-01/Accounts/AC{'1' * 32}/Recordings/{recording_sid}",
        "RecordingStatus": "completed",
        "RecordingDuration": "4",
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
        **extra,
    }
    return await hook(carrier.base, f"/twilio/voice/recording?call={call.id}&kind=call", params)


async def test_repeated_late_and_forged_recording_callbacks(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        await _configure(carrier, admin, record_calls=True)
        await admin.api("PUT", f"{carrier.base}/api/v1/phone/duty", {"on_duty": False})
        phone = await _softphone(carrier, north)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await phone.next("incoming")
        said = _heard(await _sandbox(carrier, "GET", f"/sandbox/calls/{sid}"))
        assert said[-1] == "This call may be recorded for quality and training."  # the default words
        await phone.send("accept", call_sid=ring["call_sid"])
        await phone.next("connected")
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        call = await _ended(carrier)
        item = await _recorded_item(carrier, call.id)
        [real] = carrier.sandbox_app[SANDBOX_VOICE].recordings.values()
        media_before = await _count(carrier, Media, item_id=item.id)
        audits_before = await _count(carrier, AuditEntry, action="receive", record_type="recording")

        # Twilio retries, twice; an "in-progress" overtaken by its "completed" arrives last.
        for extra in ({}, {}, {"RecordingStatus": "in-progress", "RecordingDuration": "0"}):
            status, _ = await _recording_hook(carrier, call, real.sid, **extra)
            assert status == 204
        assert await _count(carrier, Recording, recording_sid=real.sid) == 1
        assert await _count(carrier, Media, item_id=item.id) == media_before == 1
        assert await _count(carrier, AuditEntry, action="receive", record_type="recording") == audits_before
        again = await _recorded_item(carrier, call.id)
        assert [m["id"] for m in again.meta["media"]] == [m["id"] for m in item.meta["media"]]
        assert again.meta["media"][0]["state"] == "stored"

        # A forged callback (signed with another token) is refused and stores nothing.
        forged_sid = "RE" + "f" * 32
        params = {
            "CallSid": call.call_sid,
            "RecordingSid": forged_sid,
            "RecordingStatus": "completed",
            "RecordingUrl": "https://evil.example/rec",
            "RecordingDuration": "3",
        }
        status, _ = await hook(
            carrier.base, f"/twilio/voice/recording?call={call.id}&kind=call", params, token="not-the-token"
        )
        assert status == 403
        assert await _count(carrier, Recording, recording_sid=forged_sid) == 0
        assert await _count(carrier, Media, item_id=item.id) == 1

        # A second recording of the same call (a conference part) that arrives after the call ended,
        # before anything else about it: it joins the same item.
        late_sid = "RE" + "a" * 32
        status, _ = await _recording_hook(carrier, call, late_sid, RecordingSource="Conference")
        assert status == 204
        assert await _count(carrier, Media, item_id=item.id) == 2
        async with carrier.app[SERVICES].read() as s:
            rec = await s.scalar(select(Recording).where(Recording.recording_sid == late_sid))
        assert rec is not None and (rec.kind, rec.item_id) == ("call", item.id)
    finally:
        await admin.close()
        await north.close()


async def test_a_recorded_outbound_call_announces_to_the_patient(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        await _configure(carrier, admin, record_calls=True, recording_announcement=CONSENT)
        phone = await _softphone(carrier, north)
        await phone.send(
            "connect", ref="7", params={"action": "dial", "conversation_id": str(p.conv_a), "To": PATIENT}
        )
        outgoing = await phone.next("outgoing")

        async def ringing() -> dict[str, Any] | None:
            calls = (await _sandbox(carrier, "GET", f"/sandbox/phones/{PATIENT}/calls?after=0&wait=0"))[
                "calls"
            ]
            return next(
                (c for c in calls if c["status"] == "ringing" and c["direction"] == "outbound-dial"), None
            )

        patient = await until(ringing, 10)
        await _sandbox(carrier, "POST", f"/sandbox/calls/{patient['call_sid']}/answer", {})
        await north.event(lambda e: e["type"] == "call.updated" and e["call"]["stage"] == "connected")

        async def bridged() -> dict[str, Any] | None:
            leg = await _sandbox(carrier, "GET", f"/sandbox/calls/{patient['call_sid']}")
            return leg if any(e["type"] == "bridged" for e in leg["events"]) else None

        leg = await until(bridged, 10)  # the announcement first, then the two are connected
        assert _heard(leg) == [CONSENT]
        staff_leg = await _sandbox(carrier, "GET", f"/sandbox/calls/{outgoing['call_sid']}")
        assert CONSENT not in _heard(staff_leg)  # the staff member is not told, the patient is
        await _sandbox(carrier, "POST", f"/sandbox/calls/{patient['call_sid']}/hangup", {})
        call = await _ended(carrier)
        assert call.direction == "out"
        item = await _recorded_item(carrier, call.id)
        assert item.meta["recorded"] is True and len(item.meta["media"]) == 1
    finally:
        await admin.close()
        await north.close()


async def test_a_held_call_goes_on_recorded_in_its_conference(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        await _configure(carrier, admin, default_group_id=None, record_calls=True)
        await admin.api("PUT", f"{carrier.base}/api/v1/phone/duty", {"on_duty": False})
        phone, _admin_phone = await _softphone(carrier, north), await _softphone(carrier, admin)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await phone.next("incoming")
        await phone.send("accept", call_sid=ring["call_sid"])
        await phone.next("connected")
        call_id = int(ring["params"]["call_id"])
        await north.event(
            lambda e: e["type"] == "call.updated" and e["call"]["answered_by_id"] == north.user_id
        )
        voice = carrier.sandbox_app[SANDBOX_VOICE]

        async def dial_recording() -> Any:
            return voice.recording_now.get(sid)

        await until(dial_recording, 10)
        control = f"{carrier.base}/api/v1/calls/{call_id}/recording"
        assert await north.api("POST", control, {"action": "pause"}) == {"recording": "paused"}  # the Dial's
        [live] = await north.api("GET", f"{carrier.base}/api/v1/calls/active")
        assert live["recording_paused"] is True
        assert await north.api("POST", f"{carrier.base}/api/v1/calls/{call_id}/hold") == {"result": "held"}
        await phone.next("disconnected")  # our leg leaves; the patient waits in the conference
        await north.event(lambda e: e["type"] == "call.updated" and e["call"]["on_hold"] is True)
        assert await north.api("POST", f"{carrier.base}/api/v1/calls/{call_id}/resume") == {"result": "join"}
        await phone.send("connect", ref="1", params={"action": "join", "call_id": str(call_id)})
        rejoined = await phone.next("outgoing")

        async def together() -> bool:  # the staff member is back with the patient in the conference
            voice = carrier.sandbox_app[SANDBOX_VOICE]
            rooms = [c for c in voice.conferences.values() if c.status == "in-progress"]
            return any(len(c.participants) == 2 and c.recording is not None for c in rooms)

        await until(together, 10)
        rooms = [c for c in carrier.sandbox_app[SANDBOX_VOICE].conferences.values() if c.recording]
        assert rooms[-1].recording.status == "in-progress"  # the conference records afresh, unpaused
        [live] = await north.api("GET", f"{carrier.base}/api/v1/calls/active")
        assert (live["recording"], live["recording_paused"]) == (True, False)  # and the softphone says so
        assert await north.api("POST", control, {"action": "pause"}) == {"recording": "paused"}
        assert rooms[-1].recording.status == "paused"  # the conference's recording, not the old Dial's
        [live] = await north.api("GET", f"{carrier.base}/api/v1/calls/active")
        assert live["recording_paused"] is True
        assert await north.api("POST", control, {"action": "resume"}) == {"recording": "in-progress"}
        assert rooms[-1].recording.status == "in-progress"
        await phone.send("hangup", call_sid=rejoined["call_sid"])  # staff end it: the conference ends
        await _ended(carrier)
        item = await _recorded_item(carrier, call_id, count=2)  # before the hold, then the conference
        sources = sorted(r.source for r in carrier.sandbox_app[SANDBOX_VOICE].recordings.values())
        assert sources == ["Conference", "DialVerb"]
        assert len(item.meta["media"]) == 2
    finally:
        await admin.close()
        await north.close()


async def _post(desk: Desk, url: str, body: Any) -> int:
    headers = {"Origin": ORIGIN, "X-CSRF-Token": desk.csrf}
    async with desk.http.post(url, json=body, headers=headers) as resp:
        return resp.status


async def test_staff_pause_and_resume_the_recording_mid_call(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north, south = (
        await open_desk(carrier.base, p.admin),
        await open_desk(carrier.base, p.staff_a),
        await open_desk(carrier.base, p.staff_b),
    )
    try:
        await _configure(carrier, admin, record_calls=True)
        await admin.api("PUT", f"{carrier.base}/api/v1/phone/duty", {"on_duty": False})
        phone = await _softphone(carrier, north)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await phone.next("incoming")
        await phone.send("accept", call_sid=ring["call_sid"])
        await phone.next("connected")
        call_id = int(ring["params"]["call_id"])
        await north.event(
            lambda e: e["type"] == "call.updated" and e["call"]["answered_by_id"] == north.user_id
        )
        voice = carrier.sandbox_app[SANDBOX_VOICE]

        async def recording_now() -> Any:
            return voice.recording_now.get(sid)

        take = await until(recording_now, 10)  # the <Dial> records from the answer
        control = f"{carrier.base}/api/v1/calls/{call_id}/recording"
        assert await _post(south, control, {"action": "pause"}) == 404  # not their location's call
        assert await _post(north, control, {"action": "stop"}) == 422
        assert take.status == "in-progress"
        [live] = await north.api("GET", f"{carrier.base}/api/v1/calls/active")
        assert (live["recording"], live["recording_paused"]) == (True, False)  # recorded from the answer
        assert await north.api("POST", control, {"action": "pause"}) == {"recording": "paused"}
        assert take.status == "paused" and take.skip_pause

        def update(e: dict[str, Any]) -> bool:
            return e["type"] == "call.updated" and e["call"]["id"] == call_id

        paused = await north.event(lambda e: update(e) and e["call"]["recording_paused"])
        assert paused["call"]["recording"] is True and paused["call"]["stage"] == "connected"
        [live] = await north.api("GET", f"{carrier.base}/api/v1/calls/active")
        assert live["recording_paused"] is True  # a reloaded softphone sees it paused too
        north.events.clear()  # only what follows the resume
        assert await north.api("POST", control, {"action": "resume"}) == {"recording": "in-progress"}
        assert take.status == "in-progress" and take.skipped > 0
        resumed = await north.event(lambda e: update(e) and not e["call"]["recording_paused"])
        assert resumed["call"]["recording"] is True
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        await _recorded_item(carrier, call_id)
        call = await _ended(carrier)
        steps = [(s["step"], s.get("status"), s.get("by")) for s in call.route if s["step"] == "recording"]
        assert steps == [
            ("recording", "in-progress", None),  # started on the answer
            ("recording", "paused", north.user_id),
            ("recording", "in-progress", north.user_id),
        ]
        async with carrier.app[SERVICES].read() as s:
            changes = list(
                await s.scalars(
                    select(AuditEntry).where(AuditEntry.record_type == "call", AuditEntry.action == "change")
                )
            )
        assert [(a.actor_id, a.detail) for a in changes] == [
            (north.user_id, {"recording": "paused"}),
            (north.user_id, {"recording": "in-progress"}),
        ]
    finally:
        for desk in (admin, north, south):
            await desk.close()


async def test_an_unrecorded_call_cannot_be_paused(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        await _configure(carrier, admin)
        await admin.api("PUT", f"{carrier.base}/api/v1/phone/duty", {"on_duty": False})
        phone = await _softphone(carrier, north)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await phone.next("incoming")
        await phone.send("accept", call_sid=ring["call_sid"])
        await phone.next("connected")
        await north.event(lambda e: e["type"] == "call.updated" and e["call"]["stage"] == "connected")
        control = f"{carrier.base}/api/v1/calls/{ring['params']['call_id']}/recording"
        [live] = await north.api("GET", f"{carrier.base}/api/v1/calls/active")
        assert (live["recording"], live["recording_paused"]) == (False, False)  # no indicator, no button
        assert await _post(north, control, {"action": "pause"}) == 409
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        await _ended(carrier)
    finally:
        await admin.close()
        await north.close()


async def test_an_unrecorded_call_says_nothing_of_recording_and_keeps_nothing(carrier: Carrier) -> None:
    p = carrier.practice
    admin, north = await open_desk(carrier.base, p.admin), await open_desk(carrier.base, p.staff_a)
    try:
        await _configure(carrier, admin)
        await admin.api("PUT", f"{carrier.base}/api/v1/phone/duty", {"on_duty": False})
        phone = await _softphone(carrier, north)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await phone.next("incoming")
        assert not any(
            "record" in s.lower() for s in _heard(await _sandbox(carrier, "GET", f"/sandbox/calls/{sid}"))
        )
        await phone.send("accept", call_sid=ring["call_sid"])
        await phone.next("connected")
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        call = await _ended(carrier)
        assert not call.recorded and carrier.sandbox_app[SANDBOX_VOICE].recordings == {}
        assert await _count(carrier, Recording, call_id=call.id) == 0
    finally:
        await admin.close()
        await north.close()


def test_a_conference_recording_callback_without_a_call_sid_is_read() -> None:
    from comms.errors import InvalidRequest
    from telephony.voice_normalize import voice_webhook

    conference, recording = "CF" + "c" * 32, "RE" + "d" * 32
    form = {
        "AccountSid": "AC" + "1" * 32,
        "ConferenceSid": conference,
        "RecordingSid": recording,
        "RecordingStatus": "completed",
        "RecordingDuration": "12",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/" + recording,
    }
    hook_ = voice_webhook(form)
    assert (hook_.call_sid, hook_.recording_sid, hook_.recording_duration) == (conference, recording, 12)
    with pytest.raises(InvalidRequest, match="CallSid"):
        voice_webhook({k: v for k, v in form.items() if k != "RecordingSid"})  # only a recording may


def test_the_recording_state_is_read_from_the_route() -> None:
    from comms.recording_state import note_started, recording_state

    def step(**detail: Any) -> dict[str, Any]:
        return {"step": "recording", "at": "2026-01-01T00:00:00", **detail}

    call = Call(route=[{"step": "ring", "staff": [1]}])
    assert recording_state(call) == (False, False)  # not recorded: nothing to pause
    note_started(call, "conference")
    assert recording_state(call) == (False, False)  # an unrecorded call's conference records nothing
    call.route = [step(status="in-progress", started="answer")]
    assert recording_state(call) == (True, False)
    call.route = [*call.route, step(status="paused", by=3)]
    assert recording_state(call) == (True, True)
    call.route = [*call.route, step(status="in-progress")]  # a recording callback, not a resume
    assert recording_state(call) == (True, True)
    note_started(call, "conference")  # held: the conference's recording starts afresh
    assert recording_state(call) == (True, False)
    call.route = [*call.route, step(status="paused", by=3)]
    call.ended_at = dt.datetime(2026, 1, 1)
    assert recording_state(call) == (True, False)  # nothing is paused once the call is over
