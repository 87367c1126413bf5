"""The single-leg TwiML verbs: Say, Play, Pause, Gather, Record, Redirect, Hangup, Reject, Leave.

Gather: input dtmf (default) and/or speech; numDigits, finishOnKey (default #, not included in Digits),
timeout (default 5 s after the prompts or the last digit); nested Say/Play/Pause play while it listens
and stop at the first input. With input it requests `action` (default: the document's own URL) with
Digits (and FinishedOnKey) or SpeechResult and Confidence; without input it goes on to the next verb,
unless actionOnEmptyResult="true".

Record: beep (playBeep), then record until `timeout` seconds without speech (default 5), a
finishOnKey digit (default any of 0-9*#), maxLength (default 3600) or hang-up. What the simulated
caller "says" meanwhile (`POST /sandbox/calls/{sid}/speech`) is the recording's transcript. A
recording that ended by silence with nothing said is empty: no action, the next verb runs (Twilio
skips empty recordings). Otherwise the recording is kept (duration: simulated seconds, trailing
silence trimmed, at least 1) and `action` (default: the document's URL) is requested with
RecordingUrl, RecordingSid, RecordingDuration and Digits (the key, or "hangup"); after a hang-up
Twilio still requests it and ignores the answer. In the background, 1 simulated second later,
recordingStatusCallback gets RecordingStatus=completed (and in-progress at the start if asked), and
with transcribe="true" and transcribeCallback, 2 seconds after that, the transcription callback
(TranscriptionStatus completed, or failed when nothing was said).
"""

from __future__ import annotations

import asyncio
import time

from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.flow import HANGUP, Fetch, Interrupted, Result
from telephony.sandbox.store import API_VERSION, new_sid, rfc2822
from telephony.sandbox.twiml import Node
from telephony.sandbox.voice_store import Call, Recording

SPEECH_CONFIDENCE = "0.9"


def install(engine: CallEngine) -> None:
    """Register this module's verbs with the engine."""
    engine.handlers.update(
        {
            "Say": say,
            "Play": say,
            "Pause": say,
            "Gather": gather,
            "Record": record,
            "Redirect": redirect,
            "Hangup": hangup,
            "Reject": reject,
            "Leave": leave,
        }
    )


async def say(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """Say, Play and Pause: the caller hears it, and simulated time passes."""
    await engine.play(call, node, base)
    return None


def _drain(call: Call) -> None:
    while not call.inputs.empty():
        call.inputs.get_nowait()


async def gather(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """Collect digits or speech, as <Gather> does."""
    kinds = frozenset(node.words("input") or {"dtmf"})
    timeout = node.number("timeout", 5)
    wanted = node.number("numDigits", 0)
    finish = node.get("finishOnKey", "#")
    digits, speech, finished_on = "", None, ""
    _drain(call)
    call.listening = ("Gather", kinds)
    engine.voice.touch(call)
    try:
        got = None
        for prompt in node.children:
            got = await engine.play(call, prompt, base, listen=True)
            if got is not None:
                break
        while True:
            if got is None:
                got = await engine.wait(call, call.inputs.get(), timeout)
                if got is None:
                    break
            kind, value = got
            got = None
            if kind == "speech":
                speech = value
                break
            done = False
            for key in value:
                if finish and key == finish:
                    finished_on, done = key, True
                    break
                digits += key
                if wanted and len(digits) >= wanted:
                    done = True
                    break
            if done:
                break
    finally:
        call.listening = None
        engine.voice.touch(call)
    engine.voice.event(call, "gathered", digits=digits, speech=speech)
    if not digits and speech is None and not node.flag("actionOnEmptyResult"):
        return None
    action = engine.resolve(base, node.get("action")) if node.get("action") else base
    if action is None:
        return None
    if speech is not None:
        params: tuple[tuple[str, str], ...] = (("SpeechResult", speech), ("Confidence", SPEECH_CONFIDENCE))
    else:
        params = (("Digits", digits),) + ((("FinishedOnKey", finished_on),) if finished_on else ())
    return Fetch(action, node.get("method", "POST").upper(), params)


async def record(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """Record the caller, as <Record> does (see the module docstring)."""
    silence = node.number("timeout", 5)
    longest = node.number("maxLength", 3600) or 3600
    keys = node.get("finishOnKey", "1234567890*#")
    action = engine.resolve(base, node.get("action")) if node.get("action") else base
    if node.flag("playBeep", True):
        engine.voice.hear(call, "Beep")
    _drain(call)
    call.listening = ("Record", frozenset(("dtmf", "speech")))
    engine.voice.touch(call)
    started, spoken, ended_by, pressed = time.monotonic(), [], "silence", ""
    stopped: Interrupted | None = None
    recording_sid = new_sid("RE")
    status_events = node.words("recordingStatusCallbackEvent") or {"completed"}
    if node.get("recordingStatusCallback") and "in-progress" in status_events:
        _recording_status(engine, call, node, base, recording_sid, "in-progress", 0)
    try:
        while True:
            left = longest - engine.simulated_since(started)
            if left <= 0:
                ended_by = "max"
                break
            got = await engine.wait(call, call.inputs.get(), min(silence, left) if silence else left)
            if got is None:
                ended_by = "silence" if silence and silence <= left else "max"
                break
            kind, value = got
            if kind == "speech":
                spoken.append(value)
                continue
            key = next((k for k in value if k in keys), None)
            if key is not None:
                ended_by, pressed = "key", key
                break
    except Interrupted as interrupted:
        stopped = interrupted
    finally:
        call.listening = None
        engine.voice.touch(call)
    if stopped is not None and stopped.reason != "hangup":
        raise stopped  # a REST redirect: nothing is kept
    elapsed = engine.simulated_since(started)
    if ended_by == "silence" and stopped is None:
        if not spoken:
            engine.voice.event(call, "recording-empty")
            return None
        elapsed -= silence  # trim-silence (the default) drops the trailing silence
    recording = Recording(
        sid=recording_sid,
        account_sid=call.account_sid,
        call_sid=call.sid,
        duration=max(1, round(elapsed)),
        transcript=" ".join(spoken),
    )
    engine.voice.recordings[recording.sid] = recording
    engine.voice.event(call, "recorded", recording_sid=recording.sid, duration=recording.duration)
    engine.spawn(_after_recording(engine, call, node, base, recording))
    url = engine.recording_url(call.account_sid, recording.sid)
    params = (
        ("RecordingUrl", url),
        ("RecordingSid", recording.sid),
        ("RecordingDuration", str(recording.duration)),
        ("Digits", "hangup" if stopped is not None else pressed),
    )
    target = Fetch(action, node.get("method", "POST").upper(), params) if action else None
    if stopped is not None:
        if target is not None:
            await engine.tell(call, target)
        raise stopped
    return target


def _recording_status(
    engine: CallEngine, call: Call, node: Node, base: str | None, sid: str, status: str, duration: int
) -> None:
    url = engine.resolve(base, node.get("recordingStatusCallback"))
    params = [
        ("AccountSid", call.account_sid),
        ("CallSid", call.sid),
        ("RecordingSid", sid),
        ("RecordingUrl", engine.recording_url(call.account_sid, sid)),
        ("RecordingStatus", status),
        ("RecordingDuration", str(duration)),
        ("RecordingChannels", "1"),
        ("RecordingStartTime", rfc2822(call.date_created) or ""),
        ("RecordingSource", "RecordVerb"),
        ("RecordingTrack", "inbound"),
    ]
    engine.callback(call.sid, node.get("recordingStatusCallbackMethod", "POST").upper(), url, params)


async def _after_recording(
    engine: CallEngine, call: Call, node: Node, base: str | None, recording: Recording
) -> None:
    """The recording's status callback, then its transcription, as Twilio sends them later."""
    await asyncio.sleep(engine.seconds(1))
    events = node.words("recordingStatusCallbackEvent") or {"completed"}
    if node.get("recordingStatusCallback") and "completed" in events:
        _recording_status(engine, call, node, base, recording.sid, "completed", recording.duration)
    if not (node.flag("transcribe") and node.get("transcribeCallback")):
        return
    await asyncio.sleep(engine.seconds(2))
    transcription_sid = new_sid("TR")
    account = call.account_sid
    params = [
        ("AccountSid", account),
        ("ApiVersion", API_VERSION),
        ("CallSid", call.sid),
        ("CallStatus", call.status),
        ("Direction", call.direction),
        ("From", call.from_),
        ("To", call.to),
        ("RecordingSid", recording.sid),
        ("RecordingUrl", engine.recording_url(account, recording.sid)),
        ("TranscriptionSid", transcription_sid),
        ("TranscriptionStatus", "completed" if recording.transcript else "failed"),
        ("TranscriptionText", recording.transcript),
        (
            "TranscriptionUrl",
            f"{(engine.public_base or '').rstrip('/')}/{API_VERSION}/Accounts/{account}"
            f"/Transcriptions/{transcription_sid}",
        ),
    ]
    engine.callback(call.sid, "POST", engine.resolve(base, node.get("transcribeCallback")), params)


async def redirect(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """Go on with the TwiML at another URL."""
    return Fetch(engine.resolve(base, node.text), node.get("method", "POST").upper())


async def hangup(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """End the call."""
    return HANGUP


async def reject(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """Refuse an unanswered call (busy or no-answer); an answered one just ends."""
    if call.status in ("queued", "ringing"):
        engine.end(call, "busy" if node.get("reason") == "busy" else "no-answer")
    return HANGUP


async def leave(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """Outside a queue's wait music <Leave> does nothing (see `rooms` for the queue case)."""
    return None
