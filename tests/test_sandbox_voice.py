"""The sandbox as Twilio Voice: a fake practice server answers TwiML; phones and softphones act the people."""

from __future__ import annotations

import io
import re
import wave
from typing import Any

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException

from tests.voice_rig import (
    ACCOUNT,
    APP_SID,
    OTHER_PATIENT,
    PATIENT,
    PRACTICE,
    TOKEN,
    Make,
    Practice,
    access_token,
    make_voice,
)

__all__ = ["make_voice"]  # the fixture, used by name

SID = re.compile(r"CA[0-9a-f]{32}")


def said(view: dict[str, Any]) -> list[str]:
    return [str(h.get("text")) for h in view["heard"] if h["verb"] == "Say"]


async def test_menu_with_digits_speech_and_a_retry_after_no_input(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Gather input="dtmf speech" numDigits="1" timeout="3" '
            'action="menu"><Say>Press 1 for hours.</Say></Gather>'
            "<Redirect>/twilio/voice</Redirect></Response>",
            "/twilio/menu": '<?xml version="1.0"?><Response><Gather input="speech" action="/twilio/name">'
            "<Say>Say who you want.</Say></Gather></Response>",
            "/twilio/name": "<Response><Say>Goodbye.</Say><Hangup/></Response>",
        }
    )
    rig = await make_voice(practice)
    sid = await rig.call_in()
    assert SID.fullmatch(sid)
    # Nobody presses anything the first time: the Gather falls through to the Redirect.
    await rig.until(lambda: len(practice.on("/twilio/voice")) >= 2)
    await rig.press(sid, "1")
    await rig.until(lambda: practice.on("/twilio/menu"))
    await rig.speak(sid, "reception please")
    view = await rig.status(sid, "completed")

    first, retry = practice.on("/twilio/voice")[:2]
    assert (first["CallSid"], first["CallStatus"], first["Direction"]) == (sid, "ringing", "inbound")
    assert (first["From"], first["To"], first["Caller"], first["Called"]) == (
        PATIENT,
        PRACTICE,
        PATIENT,
        PRACTICE,
    )
    assert (first["AccountSid"], first["ApiVersion"]) == (ACCOUNT, "2010-04-01")
    assert retry["CallStatus"] == "in-progress"
    [menu] = practice.on("/twilio/menu")
    assert menu["Digits"] == "1" and menu.url == rig.url("/twilio/menu")
    [name] = practice.on("/twilio/name")
    assert (name["SpeechResult"], name["Confidence"]) == ("reception please", "0.9")
    assert "Digits" not in name.params
    assert said(view) == ["Press 1 for hours.", "Press 1 for hours.", "Say who you want.", "Goodbye."]
    [done] = practice.on("/twilio/voice/status")
    assert (done["CallStatus"], done["CallSid"]) == ("completed", sid) and int(done["CallDuration"]) >= 1
    assert all(h.signed() for h in practice.hits)
    assert rig.voice.twiml_errors == []


async def test_ring_group_second_softphone_answers_and_the_first_is_canceled(make_voice: Make) -> None:
    leg = 'statusCallback="/twilio/leg" statusCallbackEvent="initiated ringing answered completed"'
    practice = Practice(
        twiml={
            "/twilio/voice": f'<Response><Dial action="/twilio/dialed" timeout="60"><Client {leg}>'
            '<Identity>alice</Identity><Parameter name="patient" value="Ann Lee"/></Client>'
            f"<Client {leg}>bob</Client></Dial></Response>",
            "/twilio/dialed": "<Response><Say>Thanks for calling.</Say></Response>",
        }
    )
    rig = await make_voice(practice)
    alice, bob = await rig.softphone("alice"), await rig.softphone("bob")
    assert (await alice.next("registered"))["identity"] == "alice"
    await bob.next("registered")
    sid = await rig.call_in()
    ring_a, ring_b = await alice.next("incoming"), await bob.next("incoming")
    assert ring_a["parent_call_sid"] == ring_b["parent_call_sid"] == sid
    assert (ring_a["from"], ring_a["to"], ring_a["params"]) == (
        PATIENT,
        "client:alice",
        {"patient": "Ann Lee"},
    )
    await bob.send("accept", call_sid=ring_b["call_sid"])
    assert (await bob.next("connected"))["call_sid"] == ring_b["call_sid"]
    assert (await alice.next("canceled"))["call_sid"] == ring_a["call_sid"]
    parent = await rig.until(lambda: _connected(rig, sid))
    assert parent["connected_to"] == ring_b["call_sid"] and parent["status"] == "in-progress"

    await bob.send("hangup", call_sid=ring_b["call_sid"])
    assert (await bob.next("disconnected"))["call_sid"] == ring_b["call_sid"]
    await rig.status(sid, "completed")
    [dialed] = practice.on("/twilio/dialed")
    assert (dialed["DialCallStatus"], dialed["DialCallSid"]) == ("completed", ring_b["call_sid"])
    assert int(dialed["DialCallDuration"]) >= 0
    legs = practice.on("/twilio/leg")
    a_events = [(h["CallStatus"], h["SequenceNumber"]) for h in legs if h["CallSid"] == ring_a["call_sid"]]
    b_events = [(h["CallStatus"], h["SequenceNumber"]) for h in legs if h["CallSid"] == ring_b["call_sid"]]
    assert a_events == [("initiated", "0"), ("ringing", "1"), ("canceled", "2")]
    assert b_events == [("initiated", "0"), ("ringing", "1"), ("in-progress", "2"), ("completed", "3")]
    for hit in legs:
        assert (hit["ParentCallSid"], hit["Direction"], hit["CallbackSource"]) == (
            sid,
            "outbound-dial",
            "call-progress-events",
        )
        assert hit["To"] == hit["Called"] and hit["To"].startswith("client:") and hit["Timestamp"]
    assert "CallDuration" in next(h for h in legs if h["CallStatus"] == "completed").params
    assert all(h.signed() for h in practice.hits)


async def _connected(rig: Any, sid: str) -> dict[str, Any] | None:
    view = await rig.call(sid)
    return view if view["connected_to"] else None


async def test_invalid_twiml_or_a_failing_server_ends_the_call_and_is_logged(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Say>Hello</Say><Gather numDigits="x"><Dial>+12025550111</Dial>'
            '</Gather><Bogus/><Play loud="yes">https://x.test/a.mp3</Play></Response>',
        }
    )
    rig = await make_voice(practice)
    sid = await rig.call_in()
    view = await rig.status(sid, "completed")
    assert said(view) == ["We are sorry, an application error has occurred. Goodbye."]
    [error] = rig.voice.twiml_errors
    assert error["call_sid"] == sid and error["url"] == rig.url("/twilio/voice")
    text = " ".join(error["violations"])
    for expected in ("numDigits", "<Dial> is not allowed inside <Gather>", "<Bogus>", "'loud'"):
        assert expected in text
    log = await rig.get("/sandbox/twiml-log")
    assert log["errors"][0]["violations"] == error["violations"]

    practice.fail["/twilio/voice"] = 500
    second = await rig.call_in(OTHER_PATIENT)
    await rig.status(second, "completed")
    assert rig.voice.twiml_errors[-1]["error"].startswith("11200")
    assert len(practice.on("/twilio/voice")) == 2  # Twilio does not retry the voice URL
    practice.fail.clear()
    practice.twiml["/twilio/voice"] = "<Speak>hi</Speak>"
    third = await rig.call_in()
    await rig.status(third, "completed")
    assert "not <Response>" in rig.voice.twiml_errors[-1]["error"]
    assert len((await rig.get("/sandbox/twiml-log"))["documents"]) == 3


async def test_softphone_token_is_checked(make_voice: Make) -> None:
    rig = await make_voice()
    for token, code in [
        (access_token("alice", secret="not-the-secret-but-just-as-long-0123456"), 20101),
        (access_token("alice", ttl=-60), 20104),
        (access_token("alice", account="AC" + "9" * 32), 20101),
        ("not.a.jwt", 20101),
    ]:
        phone = await rig.softphone("alice", token)
        error = await phone.next("error")
        assert error["code"] == code
        assert (await phone.ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    # Registering is the first thing a socket must do.
    ws = await rig.http.ws_connect(rig.base + "/sandbox/client")
    await ws.send_json({"type": "connect", "params": {"To": PATIENT}})
    assert (await ws.receive_json())["code"] == 20101
    await ws.close()
    # A registered device that refreshes with a bad token is told, and keeps its registration.
    phone = await rig.softphone("alice")
    await phone.next("registered")
    await phone.send("update_token", token=access_token("alice", ttl=-5))
    assert (await phone.next("error"))["code"] == 20104
    await phone.send("update_token", token=access_token("alice"))
    assert (await phone.next("registered"))["identity"] == "alice"
    # An identity with no device: its Dial leg ends no-answer at once.
    rig.practice.twiml["/twilio/voice"] = (
        '<Response><Dial action="/d" timeout="600"><Client>carol</Client></Dial></Response>'
    )
    sid = await rig.call_in()
    await rig.until(lambda: rig.practice.on("/d"))
    assert rig.practice.on("/d")[0]["DialCallStatus"] == "no-answer"
    await rig.status(sid, "completed")


@pytest.mark.parametrize("ending", ["0143", "0006"])
async def test_lookup_line_type(make_voice: Make, ending: str) -> None:
    rig = await make_voice()
    client, http = rig.client()
    try:
        found = await client.lookups.v2.phone_numbers("+1202555" + ending).fetch_async(
            fields="line_type_intelligence"
        )
        assert found.valid is True and found.phone_number == "+1202555" + ending
        assert found.line_type_intelligence["type"] == ("landline" if ending == "0006" else "mobile")
        bad = await client.lookups.v2.phone_numbers("12345").fetch_async(fields="line_type_intelligence")
        assert bad.valid is False and bad.line_type_intelligence is None
        wrong = AsyncSandboxClient(rig.base, "bad-token")
        with pytest.raises(TwilioRestException) as caught:
            await wrong[0].lookups.v2.phone_numbers(PATIENT).fetch_async()
        await wrong[1].close()
        assert caught.value.status == 401
    finally:
        await http.close()


def AsyncSandboxClient(base: str, token: str) -> Any:
    from twilio.rest import Client

    from telephony.sandbox import AsyncSandboxHttpClient

    http = AsyncSandboxHttpClient(base)
    return Client(ACCOUNT, token, http_client=http), http


def wav_seconds(data: bytes) -> tuple[int, int, int, float]:
    with wave.open(io.BytesIO(data)) as wav:
        return (
            wav.getframerate(),
            wav.getsampwidth(),
            wav.getnchannels(),
            wav.getnframes() / wav.getframerate(),
        )


__all__ += ["APP_SID", "TOKEN", "wav_seconds"]


async def test_queue_announces_positions_then_a_softphone_dequeues_the_first(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Enqueue waitUrl="/twilio/wait" action="/twilio/left">'
            "front-desk</Enqueue>"
            "<Say>Unreachable after a bridge with action.</Say></Response>",
            "/twilio/wait": lambda hit: (
                f'<Response><Say>You are caller {hit["QueuePosition"]}.</Say><Pause length="2"/></Response>'
            ),
            "/twilio/voice/outbound": '<Response><Dial action="/twilio/agent-done">'
            '<Queue url="/twilio/whisper">front-desk</Queue></Dial></Response>',
            "/twilio/whisper": "<Response><Say>Connecting you now.</Say></Response>",
            "/twilio/left": "<Response><Say>Goodbye.</Say></Response>",
        }
    )
    rig = await make_voice(practice)
    first = await rig.call_in(PATIENT)
    await rig.until(lambda: practice.on("/twilio/wait"))
    second = await rig.call_in(OTHER_PATIENT)
    await rig.until(lambda: any(h["CallSid"] == second for h in practice.on("/twilio/wait")))
    # The first caller's music loops: its waitUrl is fetched again, now with two in the queue.
    await rig.until(lambda: [h for h in practice.on("/twilio/wait") if h["CallSid"] == first][1:])
    waits = practice.on("/twilio/wait")
    mine = [h for h in waits if h["CallSid"] == first]
    theirs = [h for h in waits if h["CallSid"] == second]
    assert mine[0]["QueuePosition"] == "1" and mine[0]["CurrentQueueSize"] == "1"
    assert mine[-1]["CurrentQueueSize"] == "2" and theirs[0]["QueuePosition"] == "2"
    assert {h["QueueSid"] for h in waits} == {mine[0]["QueueSid"]} and mine[0]["QueueSid"].startswith("QU")
    assert all(k in mine[0].params for k in ("QueueTime", "AvgQueueTime", "MaxQueueSize"))
    assert "You are caller 1." in said(await rig.call(first))

    agent = await rig.softphone("alice")
    await agent.next("registered")
    await agent.send("connect", ref="r1", params={"queue": "front-desk"})
    outgoing = await agent.next("outgoing")
    assert outgoing["ref"] == "r1" and SID.fullmatch(outgoing["call_sid"])
    view = await rig.until(lambda: _connected(rig, first))
    assert view["connected_to"] == outgoing["call_sid"]
    [whisper] = practice.on("/twilio/whisper")
    assert (whisper["CallSid"], whisper["DequeingCallSid"]) == (first, outgoing["call_sid"])
    assert said(view)[-1] == "Connecting you now."
    # The second caller moved up.
    await rig.until(
        lambda: [h for h in practice.on("/twilio/wait") if h["CallSid"] == second][-1]["QueuePosition"] == "1"
    )

    await agent.send("hangup", call_sid=outgoing["call_sid"])
    await agent.next("disconnected")
    await rig.until(lambda: practice.on("/twilio/left"))
    [left] = practice.on("/twilio/left")
    assert (left["QueueResult"], left["CallSid"], left["QueueSid"]) == ("bridged", first, mine[0]["QueueSid"])
    [done] = practice.on("/twilio/agent-done")
    assert (done["DialCallStatus"], done["DialCallSid"]) == ("completed", first)
    ended = await rig.status(first, "completed")
    assert said(ended)[-1] == "Goodbye."
    # The second caller hangs up while waiting.
    await rig.post(f"/sandbox/calls/{second}/hangup", {}, 200)
    await rig.until(lambda: len(practice.on("/twilio/left")) == 2)
    assert practice.on("/twilio/left")[1]["QueueResult"] == "hangup"
    assert all(h.signed() for h in practice.hits)


async def test_voicemail_recording_and_transcription_callbacks_and_wav(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Say>Please leave a message.</Say><Record action="/twilio/recorded" '
            'timeout="10" maxLength="120" transcribe="true" transcribeCallback="/twilio/transcribed" '
            'recordingStatusCallback="/twilio/recording"/></Response>',
        }
    )
    rig = await make_voice(practice)
    sid = await rig.call_in()
    await rig.speak(sid, "Hi, this is Ann.")
    await rig.speak(sid, "Please call me back.")
    assert (await rig.call(sid))["listening"] == "Record"
    await rig.post(f"/sandbox/calls/{sid}/hangup", {}, 200)
    await rig.until(lambda: practice.on("/twilio/transcribed"))
    [recorded] = practice.on("/twilio/recorded")
    recording_sid = recorded["RecordingSid"]
    assert re.fullmatch(r"RE[0-9a-f]{32}", recording_sid) and recorded["Digits"] == "hangup"
    assert recorded["CallStatus"] == "completed"
    assert recorded["RecordingUrl"] == f"{rig.base}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording_sid}"
    duration = int(recorded["RecordingDuration"])
    assert duration >= 1
    [status] = practice.on("/twilio/recording")
    assert (status["RecordingStatus"], status["RecordingSid"], status["CallSid"]) == (
        "completed",
        recording_sid,
        sid,
    )
    assert status["RecordingDuration"] == str(duration)
    [text] = practice.on("/twilio/transcribed")
    assert text["TranscriptionText"] == "Hi, this is Ann. Please call me back."
    assert (text["TranscriptionStatus"], text["RecordingSid"], text["CallSid"]) == (
        "completed",
        recording_sid,
        sid,
    )
    assert text["TranscriptionSid"].startswith("TR") and text["TranscriptionUrl"].endswith(
        text["TranscriptionSid"]
    )
    assert all(h.signed() for h in practice.hits)

    client, http = rig.client()
    try:
        fetched = await client.recordings(recording_sid).fetch_async()
        assert (fetched.call_sid, fetched.duration, fetched.status) == (sid, str(duration), "completed")
        async with aiohttp.ClientSession() as plain:
            async with plain.get(recorded["RecordingUrl"] + ".wav") as anonymous:
                assert anonymous.status == 401
            auth = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT, TOKEN)}
            for suffix in ("", ".wav"):
                async with plain.get(recorded["RecordingUrl"] + suffix, headers=auth) as audio:
                    assert audio.status == 200 and audio.content_type == "audio/x-wav"
                    assert wav_seconds(await audio.read()) == (8000, 2, 1, float(duration))
            async with plain.get(recorded["RecordingUrl"] + ".mp3", headers=auth) as mp3:
                assert mp3.status == 404
        assert await client.recordings(recording_sid).delete_async() is True
        with pytest.raises(TwilioRestException) as caught:
            await client.recordings(recording_sid).fetch_async()
        assert caught.value.status == 404
    finally:
        await http.close()


async def test_silence_is_no_recording_and_the_next_verb_runs(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Record action="/r" timeout="2"/><Say>Nothing heard.</Say></Response>'
        }
    )
    rig = await make_voice(practice)
    sid = await rig.call_in()
    view = await rig.status(sid, "completed")
    assert said(view) == ["Nothing heard."] and practice.on("/r") == [] and rig.voice.recordings == {}


async def test_redirect_takes_a_call_out_of_its_dial_and_rest_hangs_it_up(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Dial action="/twilio/dial-action"><Client>alice</Client></Dial>'
            "<Say>After the dial.</Say></Response>",
            "/twilio/hold": '<Response><Play loop="0">https://frontdesk.test/hold.mp3</Play></Response>',
            "/twilio/transfer": "<Response><Dial><Client>bob</Client></Dial></Response>",
        }
    )
    rig = await make_voice(practice)
    alice, bob = await rig.softphone("alice"), await rig.softphone("bob")
    await alice.next("registered")
    await bob.next("registered")
    sid = await rig.call_in()
    ring = await alice.next("incoming")
    await alice.send("accept", call_sid=ring["call_sid"])
    await alice.next("connected")
    client, http = rig.client()
    try:
        held = await client.calls(sid).update_async(url=rig.url("/twilio/hold"), method="POST")
        assert held.sid == sid
        assert (await alice.next("disconnected"))["call_sid"] == ring["call_sid"]
        await rig.until(lambda: _heard_url(rig, sid, "https://frontdesk.test/hold.mp3"))
        await client.calls(sid).update_async(url=rig.url("/twilio/transfer"))
        transfer = await bob.next("incoming")
        await bob.send("accept", call_sid=transfer["call_sid"])
        await bob.next("connected")
        children = await client.calls.list_async(parent_call_sid=sid)
        assert {c.sid for c in children} == {ring["call_sid"], transfer["call_sid"]}
        assert {c.direction for c in children} == {"outbound-dial"}
        ended = await client.calls(sid).update_async(status="completed")
        assert ended.sid == sid
        assert (await bob.next("disconnected"))["call_sid"] == transfer["call_sid"]
        final = await rig.status(sid, "completed")
        fetched = await client.calls(sid).fetch_async()
        assert (fetched.status, fetched.direction, fetched._from, fetched.to) == (
            "completed",
            "inbound",
            PATIENT,
            PRACTICE,
        )
        assert (
            fetched.start_time is not None and fetched.end_time is not None and fetched.duration is not None
        )
        with pytest.raises(TwilioRestException) as caught:
            await client.calls(sid).update_async(url=rig.url("/twilio/hold"))
        assert (caught.value.status, caught.value.code) == (400, 21220)
    finally:
        await http.close()
    assert practice.on("/twilio/dial-action") == []  # a redirected Dial does not ask its action
    assert "After the dial." not in said(final)
    assert [h["CallStatus"] for h in practice.on("/twilio/voice/status")] == ["completed"]


async def _heard_url(rig: Any, sid: str, url: str) -> bool:
    return any(h.get("url") == url for h in (await rig.call(sid))["heard"])


async def test_conference_hold_unhold_and_a_participant_added_by_rest(make_voice: Make) -> None:
    events = 'statusCallback="/twilio/conf" statusCallbackEvent="start end join leave hold"'
    practice = Practice(
        twiml={
            "/twilio/voice": f'<Response><Dial><Conference {events} startConferenceOnEnter="false" '
            'participantLabel="patient" waitUrl="/twilio/conf-wait">room-7</Conference></Dial>'
            "<Say>The visit has ended.</Say></Response>",
            "/twilio/conf-wait": "<Response><Say>Please wait for the doctor.</Say></Response>",
            "/twilio/hold": "<Response><Say>You are on hold.</Say></Response>",
        }
    )
    rig = await make_voice(practice)
    doctor = await rig.softphone("doctor")
    await doctor.next("registered")
    sid = await rig.call_in()
    await rig.until(lambda: practice.on("/twilio/conf-wait"))
    client, http = rig.client()
    try:
        [room] = await client.conferences.list_async(friendly_name="room-7")
        assert (room.status, room.friendly_name) == ("init", "room-7") and room.sid.startswith("CF")
        added = await client.conferences(room.sid).participants.create_async(
            from_=PRACTICE,
            to="client:doctor",
            label="doctor",
            start_conference_on_enter=True,
            end_conference_on_exit=True,
        )
        ring = await doctor.next("incoming")
        assert ring["call_sid"] == added.call_sid and ring["from"] == PRACTICE
        await doctor.send("accept", call_sid=ring["call_sid"])
        await doctor.next("connected")
        await rig.until(lambda: _conference_status(client, room.sid, "in-progress"))
        people = await client.conferences(room.sid).participants.list_async()
        assert {(p.label, p.call_sid) for p in people} == {("patient", sid), ("doctor", added.call_sid)}
        held = (
            await client.conferences(room.sid)
            .participants("patient")
            .update_async(hold=True, hold_url=rig.url("/twilio/hold"))
        )
        assert held.hold is True
        await rig.until(lambda: "You are on hold." in said_now(rig, sid))
        unheld = await client.conferences(room.sid).participants(sid).update_async(hold=False)
        assert unheld.hold is False
        await doctor.send("hangup", call_sid=ring["call_sid"])
        await doctor.next("disconnected")
        final = await rig.status(sid, "completed")
        assert said(final)[-1] == "The visit has ended."
        assert "Please wait for the doctor." in said(final)
        ended = await client.conferences(room.sid).fetch_async()
        assert (ended.status, ended.reason_conference_ended) == (
            "completed",
            "participant-with-end-conference-on-exit-left",
        )
    finally:
        await http.close()
    await rig.until(
        lambda: any(h["StatusCallbackEvent"] == "conference-end" for h in practice.on("/twilio/conf"))
    )
    seen = [(h["StatusCallbackEvent"], h.params.get("CallSid")) for h in practice.on("/twilio/conf")]
    assert seen == [
        ("participant-join", sid),
        ("participant-join", added.call_sid),
        ("conference-start", None),
        ("participant-hold", sid),
        ("participant-unhold", sid),
        ("participant-leave", added.call_sid),
        ("conference-end", None),
        ("participant-leave", sid),
    ]
    hits = practice.on("/twilio/conf")
    assert [h["SequenceNumber"] for h in hits] == [str(i) for i in range(len(hits))]
    assert {h["FriendlyName"] for h in hits} == {"room-7"} and hits[0]["ParticipantLabel"] == "patient"
    assert hits[3]["Hold"] == "true" and hits[4]["Hold"] == "false"
    assert all(h.signed() for h in practice.hits)


def said_now(rig: Any, sid: str) -> list[str]:
    return [str(h.get("text")) for h in rig.voice.calls[sid].heard if h["verb"] == "Say"]


async def _conference_status(client: Any, sid: str, wanted: str) -> bool:
    return bool((await client.conferences(sid).fetch_async()).status == wanted)


async def test_softphone_calls_a_patient_through_the_twiml_app(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice/outbound": f'<Response><Dial callerId="{PRACTICE}" action="/twilio/out-done">'
            f"<Number>{PATIENT}</Number></Dial></Response>",
            "/twilio/out-done": "<Response><Hangup/></Response>",
        }
    )
    rig = await make_voice(practice)
    alice = await rig.softphone("alice")
    await alice.next("registered")
    state = await rig.get(f"/sandbox/phones/{PATIENT}/calls")
    await alice.send("connect", ref="call-1", params={"To": PATIENT, "conversation": "42"})
    outgoing = await alice.next("outgoing")
    assert (await alice.next("connected"))["call_sid"] == outgoing["call_sid"]
    [app] = practice.on("/twilio/voice/outbound")
    assert (app["From"], app["Caller"], app["To"], app["Direction"]) == (
        "client:alice",
        "client:alice",
        PATIENT,
        "inbound",
    )
    assert (app["ApplicationSid"], app["CallSid"], app["conversation"]) == (
        APP_SID,
        outgoing["call_sid"],
        "42",
    )
    assert app["CallStatus"] == "ringing" and app.signed()
    # The patient's phone page sees the call ring (long poll), and answers it.
    ringing = await rig.get(f"/sandbox/phones/{PATIENT}/calls", after=str(state["seq"]), wait="5")
    [leg] = [c for c in ringing["calls"] if c["status"] == "ringing"]
    assert (leg["from"], leg["to"], leg["direction"], leg["parent_call_sid"]) == (
        PRACTICE,
        PATIENT,
        "outbound-dial",
        outgoing["call_sid"],
    )
    await rig.post(f"/sandbox/calls/{leg['call_sid']}/answer", {}, 200)
    await rig.until(lambda: _connected(rig, outgoing["call_sid"]))
    await rig.post(f"/sandbox/calls/{leg['call_sid']}/hangup", {}, 200)
    assert (await alice.next("disconnected"))["call_sid"] == outgoing["call_sid"]
    [done] = practice.on("/twilio/out-done")
    assert (done["DialCallStatus"], done["DialCallSid"]) == ("completed", leg["call_sid"])
    # A patient who declines is busy.
    await alice.send("connect", ref="call-2", params={"To": PATIENT})
    second = await alice.next("outgoing")
    leg2 = await rig.until(lambda: _ringing_leg(rig, second["call_sid"]))
    await rig.post(f"/sandbox/calls/{leg2}/decline", {}, 200)
    await rig.until(lambda: len(practice.on("/twilio/out-done")) == 2)
    assert practice.on("/twilio/out-done")[1]["DialCallStatus"] == "busy"


def _ringing_leg(rig: Any, parent: str) -> str | None:
    for call in rig.voice.calls.values():
        if call.parent_call_sid == parent and call.status == "ringing":
            return str(call.sid)
    return None


async def test_rest_call_to_a_patient_with_progress_callbacks_and_validation(make_voice: Make) -> None:
    practice = Practice(
        twiml={"/twilio/reminder": "<Response><Say>Your visit is tomorrow at nine.</Say></Response>"}
    )
    rig = await make_voice(practice)
    client, http = rig.client()
    try:
        call = await client.calls.create_async(
            to=PATIENT,
            from_=PRACTICE,
            url=rig.url("/twilio/reminder"),
            status_callback=rig.url("/twilio/progress"),
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
        assert (call.status, call.direction, call.to, call._from) == (
            "queued",
            "outbound-api",
            PATIENT,
            PRACTICE,
        )
        await rig.until(lambda: rig.voice.calls[call.sid].status == "ringing")
        await rig.post(f"/sandbox/calls/{call.sid}/answer", {}, 200)
        view = await rig.status(call.sid, "completed")
        assert said(view) == ["Your visit is tomorrow at nine."]
        await rig.until(lambda: len(practice.on("/twilio/progress")) == 4)
        progress = practice.on("/twilio/progress")
        assert [h["CallStatus"] for h in progress] == ["initiated", "ringing", "in-progress", "completed"]
        assert progress[-1]["CallDuration"] == str(view["duration"])
        [fetched] = await client.calls.list_async(to=PATIENT)
        assert fetched.sid == call.sid and fetched.status == "completed"

        async def refused(**kwargs: Any) -> int:
            with pytest.raises(TwilioRestException) as caught:
                await client.calls.create_async(**kwargs)
            return int(caught.value.code)

        url = rig.url("/twilio/reminder")
        assert await refused(to=PATIENT, from_=PRACTICE) == 21205
        assert await refused(to=PATIENT, from_="+13125550100", url=url) == 21210
        assert await refused(to="2025550143", from_=PRACTICE, url=url) == 21211
        assert await refused(to=PATIENT, from_="", url=url) == 21213
        assert await refused(to=PATIENT, from_=PRACTICE, url="not a url") == 21205
        assert await refused(to=PATIENT, from_=PRACTICE, url=url, status_callback_event=["bogus"]) == 21626
        inline = await client.calls.create_async(
            to="client:nobody", from_=PRACTICE, twiml="<Response><Say>x</Say></Response>"
        )
        await rig.until(lambda: rig.voice.calls[inline.sid].status == "no-answer")
    finally:
        await http.close()


async def test_client_whisper_runs_on_the_answered_leg_before_bridging(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Dial action="/twilio/dialed" answerOnBridge="true">'
            '<Client url="/twilio/whisper">alice</Client></Dial></Response>',
            "/twilio/whisper": '<Response><Gather numDigits="1" action="/twilio/screened" timeout="600">'
            "<Say>Call from Ann. Press 1 to accept.</Say></Gather><Hangup/></Response>",
            "/twilio/screened": lambda hit: (
                "<Response/>" if hit["Digits"] == "1" else "<Response><Hangup/></Response>"
            ),
        }
    )
    rig = await make_voice(practice)
    alice = await rig.softphone("alice")
    await alice.next("registered")
    sid = await rig.call_in()
    ring = await alice.next("incoming")
    await alice.send("accept", call_sid=ring["call_sid"])
    await alice.next("connected")
    await rig.until(lambda: practice.on("/twilio/whisper"))
    # answerOnBridge: the caller's leg still rings while the staff member is screened.
    assert (await rig.call(sid))["status"] == "ringing"
    await rig.until(lambda: rig.voice.calls[ring["call_sid"]].listening)
    await alice.send("digits", call_sid=ring["call_sid"], digits="1")
    view = await rig.until(lambda: _connected(rig, sid))
    assert view["connected_to"] == ring["call_sid"] and view["status"] == "in-progress"
    [whisper] = practice.on("/twilio/whisper")
    assert (whisper["CallSid"], whisper["ParentCallSid"], whisper["To"]) == (
        ring["call_sid"],
        sid,
        "client:alice",
    )
    assert said(await rig.call(ring["call_sid"])) == ["Call from Ann. Press 1 to accept."]
    assert said(await rig.call(sid)) == []  # the caller never heard the whisper
    await rig.post(f"/sandbox/calls/{sid}/hangup", {}, 200)
    assert (await alice.next("disconnected"))["call_sid"] == ring["call_sid"]
    await rig.until(lambda: practice.on("/twilio/dialed"))
    [dialed] = practice.on("/twilio/dialed")
    assert (dialed["DialCallStatus"], dialed["CallStatus"]) == ("completed", "completed")


async def test_phone_api_refuses_what_no_phone_could_do(make_voice: Make) -> None:
    rig = await make_voice(Practice(twiml={"/twilio/voice": '<Response><Pause length="600"/></Response>'}))
    assert "error" in await rig.post("/sandbox/phones/555-0143/calls", {"to": PRACTICE}, 400)
    assert "error" in await rig.post(f"/sandbox/phones/{PATIENT}/calls", {"to": "+13125550100"}, 400)
    sid = await rig.call_in()
    await rig.status(sid, "in-progress")
    assert "listening" in (await rig.post(f"/sandbox/calls/{sid}/digits", {"digits": "1"}, 409))["error"]
    assert "error" in await rig.post(f"/sandbox/calls/{sid}/digits", {"digits": "x"}, 400)
    assert "error" in await rig.post(f"/sandbox/calls/{sid}/answer", {}, 409)
    async with rig.http.post(
        f"{rig.base}/sandbox/calls/{sid}/hangup", json={}, headers={"Origin": "http://evil.test"}
    ) as response:
        assert response.status == 403
    async with rig.http.post(f"{rig.base}/sandbox/calls/{sid}/digits", data={"digits": "1"}) as response:
        assert response.status == 415
    await rig.post(f"/sandbox/calls/{sid}/hangup", {}, 200)
    await rig.status(sid, "completed")
    assert "error" in await rig.post(f"/sandbox/calls/{sid}/hangup", {}, 409)


async def test_every_device_of_an_identity_rings_and_the_first_to_accept_wins(make_voice: Make) -> None:
    practice = Practice(twiml={"/twilio/voice": "<Response><Dial><Client>alice</Client></Dial></Response>"})
    rig = await make_voice(practice)
    desk, laptop = await rig.softphone("alice"), await rig.softphone("alice")
    await desk.next("registered")
    await laptop.next("registered")
    sid = await rig.call_in()
    ring, same = await desk.next("incoming"), await laptop.next("incoming")
    assert ring["call_sid"] == same["call_sid"]
    await laptop.send("accept", call_sid=same["call_sid"])
    await laptop.next("connected")
    assert (await desk.next("canceled"))["call_sid"] == ring["call_sid"]
    await desk.send("accept", call_sid=ring["call_sid"])  # too late: still canceled
    assert (await desk.next("canceled"))["call_sid"] == ring["call_sid"]
    await laptop.send("mute", call_sid=same["call_sid"], muted=True)
    await rig.until(lambda: rig.voice.calls[same["call_sid"]].muted)
    await laptop.send("hangup", call_sid=same["call_sid"])
    assert (await laptop.next("disconnected"))["call_sid"] == same["call_sid"]
    await rig.status(same["call_sid"], "completed")
    await rig.status(sid, "completed")


async def test_dial_record_posts_a_signed_recording_callback_and_serves_the_file(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Say>This call may be recorded.</Say><Dial action="/twilio/dialed" '
            'record="record-from-answer-dual" recordingStatusCallback="/twilio/rec" '
            'recordingStatusCallbackEvent="in-progress completed"><Client>alice</Client></Dial></Response>',
            "/twilio/dialed": "<Response><Hangup/></Response>",
        }
    )
    rig = await make_voice(practice)
    alice = await rig.softphone("alice")
    await alice.next("registered")
    sid = await rig.call_in()
    ring = await alice.next("incoming")
    assert said(await rig.call(sid)) == ["This call may be recorded."]  # before anyone could answer
    assert practice.on("/twilio/rec") == []  # nothing is recorded while it rings
    await alice.send("accept", call_sid=ring["call_sid"])
    await rig.until(lambda: _connected(rig, sid))
    await rig.until(lambda: practice.on("/twilio/rec"))
    await rig.post(f"/sandbox/calls/{sid}/hangup", {}, 200)
    await rig.until(lambda: len(practice.on("/twilio/rec")) == 2)
    started, done = practice.on("/twilio/rec")
    assert (started["RecordingStatus"], done["RecordingStatus"]) == ("in-progress", "completed")
    assert started["RecordingSid"] == done["RecordingSid"] and done["CallSid"] == sid
    assert (done["RecordingSource"], done["RecordingChannels"], done["RecordingTrack"]) == (
        "DialVerb",
        "2",
        "both",
    )
    assert int(done["RecordingDuration"]) >= 1 and "ConferenceSid" not in done.params
    assert (
        done["RecordingUrl"] == f"{rig.base}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{done['RecordingSid']}"
    )
    assert all(h.signed() for h in practice.hits)
    async with aiohttp.ClientSession() as plain:
        auth = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT, TOKEN)}
        async with plain.get(done["RecordingUrl"] + ".wav", headers=auth) as audio:
            assert audio.status == 200 and (await audio.read())[:4] == b"RIFF"
        async with plain.get(done["RecordingUrl"] + ".json", headers=auth) as meta:
            resource = await meta.json()
    assert (resource["source"], resource["channels"], resource["call_sid"]) == ("DialVerb", 2, sid)


async def test_unanswered_dial_records_nothing(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Dial timeout="1" record="record-from-answer" '
            'recordingStatusCallback="/twilio/rec"><Client>nobody</Client></Dial><Hangup/></Response>',
        }
    )
    rig = await make_voice(practice)
    sid = await rig.call_in()
    await rig.until(lambda: rig.voice.calls[sid].status == "completed")
    await rig.engine.drain()  # every callback in flight has been sent
    assert rig.voice.recordings == {} and practice.on("/twilio/rec") == []
