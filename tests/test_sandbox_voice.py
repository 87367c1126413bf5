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
            'action="menu"><Say>Press 1 for hours.</Say></Gather><Redirect>/twilio/voice</Redirect></Response>',
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
    assert "CallDuration" in [h for h in legs if h["CallStatus"] == "completed"][0].params
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


def AsyncSandboxClient(base: str, token: str) -> Any:  # noqa: N802 - reads like the Client it makes
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
