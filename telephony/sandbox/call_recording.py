"""Recordings of whole calls, as Twilio makes them for <Dial record> and <Conference record>.

<Dial record="record-from-answer[-dual]"> (or record-from-ringing[-dual]) records from the bridge (or
the ringing) until the Dial ends; <Conference record="record-from-start"> records from the conference's
start to its end (the first participant that asks sets it). The recording is kept like a <Record>ing
(served at its RecordingUrl, WAV, behind Basic auth) and, a simulated second after it ends, its
recordingStatusCallback gets RecordingStatus=completed (and in-progress at the start if asked) with
AccountSid, CallSid (the Dial's parent leg; for a conference, the participant that asked), RecordingSid,
RecordingUrl, RecordingDuration, RecordingChannels (2 for -dual, else 1), RecordingStartTime,
RecordingSource (DialVerb or Conference), RecordingTrack (both) and, for a conference, ConferenceSid.
The callback is signed as every other sandbox callback is (telephony.sandbox.signing).

REST `POST Calls/{CA}/Recordings/{RE or Twilio.CURRENT}.json` (the Dial's parent leg) and
`POST Conferences/{CF}/Recordings/{...}.json` pause (Status=paused, PauseBehavior skip or silence, the
default), resume (Status=in-progress) or stop (Status=stopped) the recording in progress; a paused
stretch with skip is left out of the file's length.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.store import new_sid, now, rfc2822
from telephony.sandbox.twiml import Node
from telephony.sandbox.voice_store import Recording

DIAL_MODES = (
    "record-from-answer",
    "record-from-answer-dual",
    "record-from-ringing",
    "record-from-ringing-dual",
)
CONFERENCE_MODES = ("record-from-start",)


@dataclass
class Take:
    """A recording in progress: where it reports, and since when it runs."""

    sid: str
    account_sid: str
    call_sid: str
    source: str
    channels: int
    callback: str | None
    method: str
    events: frozenset[str]
    conference_sid: str | None = None
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=now)
    done: bool = False
    status: str = "in-progress"  # or "paused"
    paused_at: float | None = None
    skip_pause: bool = False
    skipped: float = 0.0  # real seconds left out (paused with PauseBehavior=skip)

    def pause(self, skip: bool) -> None:
        if self.status == "in-progress":
            self.status, self.paused_at, self.skip_pause = "paused", time.monotonic(), skip

    def resume(self) -> None:
        if self.status == "paused" and self.paused_at is not None:
            if self.skip_pause:
                self.skipped += time.monotonic() - self.paused_at
            self.status, self.paused_at = "in-progress", None


def wants(node: Node, modes: tuple[str, ...]) -> bool:
    return node.get("record", "") in modes


def start(
    engine: CallEngine,
    node: Node,
    base: str | None,
    *,
    account_sid: str,
    call_sid: str,
    source: str,
    conference_sid: str | None = None,
) -> Take:
    """Begin recording for the verb or noun `node` (its record and recordingStatusCallback*)."""
    callback = node.get("recordingStatusCallback")
    take = Take(
        sid=new_sid("RE"),
        account_sid=account_sid,
        call_sid=call_sid,
        source=source,
        channels=2 if node.get("record", "").endswith("-dual") else 1,
        callback=engine.resolve(base, callback) if callback else None,
        method=node.get("recordingStatusCallbackMethod", "POST").upper(),
        events=frozenset(node.words("recordingStatusCallbackEvent")) or frozenset(("completed",)),
        conference_sid=conference_sid,
    )
    if "in-progress" in take.events:
        _status(engine, take, "in-progress", 0)
    if conference_sid is None:
        engine.voice.recording_now[call_sid] = take
    return take


def finish(engine: CallEngine, take: Take | None) -> None:
    """Stop recording: keep the file, and report it shortly after (as Twilio does, once)."""
    if take is None or take.done:
        return
    take.resume()  # a pause still open at the end counts as it was asked to
    take.done = True
    recording = Recording(
        sid=take.sid,
        account_sid=take.account_sid,
        call_sid=take.call_sid,
        duration=max(1, round(engine.simulated_since(take.started + take.skipped))),
        transcript="",
        date_created=take.started_at,
        source=take.source,
        channels=take.channels,
        conference_sid=take.conference_sid,
    )
    engine.voice.recordings[recording.sid] = recording
    call = engine.voice.calls.get(take.call_sid)
    if call is not None:
        engine.voice.event(call, "recorded", recording_sid=recording.sid, duration=recording.duration)
    engine.spawn(_completed(engine, take, recording.duration))
    current = engine.voice.recording_now
    if current.get(recording.call_sid) is take:
        del current[recording.call_sid]


async def _completed(engine: CallEngine, take: Take, duration: int) -> None:
    await asyncio.sleep(engine.seconds(1))
    if "completed" in take.events:
        _status(engine, take, "completed", duration)


def _status(engine: CallEngine, take: Take, status: str, duration: int) -> None:
    if take.callback is None:
        return
    params = [
        ("AccountSid", take.account_sid),
        ("CallSid", take.call_sid),
        ("RecordingSid", take.sid),
        ("RecordingUrl", engine.recording_url(take.account_sid, take.sid)),
        ("RecordingStatus", status),
        ("RecordingDuration", str(duration)),
        ("RecordingChannels", str(take.channels)),
        ("RecordingStartTime", rfc2822(take.started_at) or ""),
        ("RecordingSource", take.source),
        ("RecordingTrack", "both"),
    ]
    if take.conference_sid:
        params.append(("ConferenceSid", take.conference_sid))
    engine.callback(take.conference_sid or take.call_sid, take.method, take.callback, params)
