"""The sandbox's voice memory: call legs, conferences, queues, recordings and every TwiML fetched.

Nothing here does network I/O. Resources render in Twilio's JSON shapes (API 2010-04-01): durations
are strings, dates RFC 2822. Durations are simulated seconds: real elapsed time divided by
`SandboxConfig.voice_time_scale`, so a test at scale 0.01 sees a 0.3 s call as 30 seconds long.

`twiml_log` holds every TwiML document the engine fetched (URL, method, HTTP status, text, violations);
`twiml_errors` holds the entries that ended a call (bad HTTP answer, unparsable or invalid TwiML).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from routing.waits import wait_set
from telephony.sandbox.store import API_VERSION, SandboxConfig, new_sid, now, rfc2822

LIVE = ("queued", "ringing", "in-progress")
FINAL = ("completed", "busy", "no-answer", "canceled", "failed")


@dataclass
class Call:
    """One call leg as Twilio keeps it, plus the sandbox's view of what its caller heard and did."""

    sid: str
    account_sid: str
    from_: str
    to: str
    direction: str  # inbound | outbound-api | outbound-dial
    status: str = "queued"
    parent_call_sid: str | None = None
    caller_name: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset()
    number_status_callback: str | None = None  # the practice number's own (completed only)
    answered_by: str | None = None
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    start_time: datetime | None = None
    end_time: datetime | None = None
    answered_at: float | None = None  # monotonic clock
    ended_at: float | None = None
    heard: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    connected_to: str | None = None
    muted: bool = False
    params: dict[str, str] = field(default_factory=dict)  # <Parameter>s for a softphone
    application_sid: str | None = None  # a softphone's call through the TwiML App
    callback_seq: int = 0
    seq: int = 0
    # Runtime signalling between the engine, the phones and the REST API.
    inputs: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    listening: tuple[str, frozenset[str]] | None = None  # (verb, {"dtmf", "speech"}) while it listens
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)
    interruption: str | None = None  # "hangup" | "redirect"
    redirect_to: tuple[str | None, str, str | None] | None = None  # (url, method, twiml)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    answer: asyncio.Future[str] | None = None  # the far end's answer while it rings

    @property
    def live(self) -> bool:
        """Whether the leg has not ended."""
        return self.status in LIVE

    @property
    def uri(self) -> str:
        """The resource path relative to the API host."""
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"

    def duration(self, scale: float) -> int:
        """Simulated seconds from answer to hang-up (0 if never answered)."""
        if self.answered_at is None:
            return 0
        end = self.ended_at if self.ended_at is not None else time.monotonic()
        return max(0, round((end - self.answered_at) / scale))

    def resource(self, scale: float) -> dict[str, object]:
        """The Call resource JSON in Twilio's shape."""
        base = self.uri.removesuffix(".json")
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "caller_name": self.caller_name,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "duration": str(self.duration(scale)) if not self.live else None,
            "end_time": rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": self.parent_call_sid,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.start_time),
            "status": self.status,
            "subresource_uris": {
                "notifications": base + "/Notifications.json",
                "recordings": base + "/Recordings.json",
                "payments": base + "/Payments.json",
                "events": base + "/Events.json",
                "siprec": base + "/Siprec.json",
                "streams": base + "/Streams.json",
                "transcriptions": base + "/Transcriptions.json",
                "user_defined_message_subscriptions": base + "/UserDefinedMessageSubscriptions.json",
                "user_defined_messages": base + "/UserDefinedMessages.json",
            },
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": self.uri,
        }

    def view(self, scale: float) -> dict[str, object]:
        """What the sandbox's phone API shows of the leg (the far end's view, plus what it heard)."""
        return {
            "call_sid": self.sid,
            "parent_call_sid": self.parent_call_sid,
            "status": self.status,
            "direction": self.direction,
            "from": self.from_,
            "to": self.to,
            "duration": self.duration(scale),
            "heard": self.heard,
            "connected_to": self.connected_to,
            "listening": None if self.listening is None else self.listening[0],
            "muted": self.muted,
            "events": self.events,
            "seq": self.seq,
        }


@dataclass
class Participant:
    """A call in a conference, with its hold and mute state."""

    call_sid: str
    conference_sid: str
    account_sid: str
    label: str | None = None
    muted: bool = False
    hold: bool = False
    hold_url: str | None = None
    hold_method: str = "POST"
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    beep: bool = True
    status: str = "connected"
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # hold/unhold/kick
    kicked: bool = False

    def resource(self) -> dict[str, object]:
        """The Participant resource JSON."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Conferences/{self.conference_sid}"
        return {
            "account_sid": self.account_sid,
            "call_sid": self.call_sid,
            "call_sid_to_coach": None,
            "coaching": False,
            "conference_sid": self.conference_sid,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "end_conference_on_exit": self.end_conference_on_exit,
            "hold": self.hold,
            "label": self.label,
            "muted": self.muted,
            "queue_time": "0",
            "start_conference_on_enter": self.start_conference_on_enter,
            "status": self.status,
            "uri": f"{uri}/Participants/{self.call_sid}.json",
        }


@dataclass
class Conference:
    """A named conference room, from its first participant until it ends."""

    sid: str
    account_sid: str
    friendly_name: str
    status: str = "init"  # init | in-progress | completed
    participants: dict[str, Participant] = field(default_factory=dict)
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset()
    callback_seq: int = 0
    reason_ended: str | None = None
    call_sid_ending: str | None = None
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # <Conference record>: the first participant's request, then the recording in progress
    # (telephony.sandbox.call_recording; typed loosely, as that module builds on this one).
    record_request: Any = None
    recording: Any = None

    def resource(self) -> dict[str, object]:
        """The Conference resource JSON."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Conferences/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "call_sid_ending_conference": self.call_sid_ending,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "friendly_name": self.friendly_name,
            "reason_conference_ended": self.reason_ended,
            "region": "us1",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "participants": uri + "/Participants.json",
                "recordings": uri + "/Recordings.json",
            },
            "uri": uri + ".json",
        }


@dataclass
class QueueMember:
    """A caller waiting in a queue, and who took it out (a <Dial><Queue>, or <Leave>)."""

    call_sid: str
    enqueued_at: float = field(default_factory=time.monotonic)
    released: asyncio.Event = field(default_factory=asyncio.Event)  # dequeued by a <Dial><Queue>
    dequeuer: str | None = None
    url: str | None = None  # the <Queue url> to play to this caller first
    method: str = "POST"
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # the url played: bridge now
    bridge_over: asyncio.Event = field(default_factory=asyncio.Event)  # either side left the bridge


@dataclass
class Queue:
    """A call queue made on demand by <Enqueue>; FIFO."""

    sid: str
    friendly_name: str
    max_size: int = 100
    members: list[QueueMember] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # wakes a <Dial><Queue> waiting
    waits: list[float] = field(default_factory=list)  # simulated seconds of past waits

    def average_wait(self) -> int:
        """AvgQueueTime: the mean simulated wait of callers who left the queue."""
        return round(sum(self.waits) / len(self.waits)) if self.waits else 0


@dataclass
class Recording:
    """A recording (<Record>, <Dial record>, <Conference record>): its length in simulated seconds and,
    for <Record>, the words the caller said during it."""

    sid: str
    account_sid: str
    call_sid: str
    duration: int
    transcript: str
    status: str = "completed"
    date_created: datetime = field(default_factory=now)
    source: str = "RecordVerb"  # DialVerb, Conference: see telephony.sandbox.call_recording
    channels: int = 1
    conference_sid: str | None = None

    @property
    def uri(self) -> str:
        """The resource path relative to the API host."""
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{self.sid}.json"

    def resource(self) -> dict[str, object]:
        """The Recording resource JSON."""
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "call_sid": self.call_sid,
            "channels": self.channels,
            "conference_sid": self.conference_sid,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_created),
            "duration": str(self.duration),
            "encryption_details": None,
            "error_code": None,
            "media_url": None,
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "source": self.source,
            "start_time": rfc2822(self.date_created),
            "status": self.status,
            "subresource_uris": {
                "add_on_results": self.uri.removesuffix(".json") + "/AddOnResults.json",
                "transcriptions": self.uri.removesuffix(".json") + "/Transcriptions.json",
            },
            "uri": self.uri,
        }


class VoiceStore:
    """All voice state of the one sandbox account; a single event loop owns it."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.calls: dict[str, Call] = {}
        self.conferences: dict[str, Conference] = {}
        self.queues: dict[str, Queue] = {}
        self.recordings: dict[str, Recording] = {}
        self.recording_now: dict[str, Any] = {}  # a call's <Dial> recording in progress (call_recording.Take)
        self.twiml_log: list[dict[str, Any]] = []
        self.twiml_errors: list[dict[str, Any]] = []
        self._seq = 0
        self._changed: asyncio.Event | None = None

    @property
    def scale(self) -> float:
        """Real seconds per simulated second."""
        return self.config.voice_time_scale

    @property
    def seq(self) -> int:
        """The latest change number, for long polls."""
        return self._seq

    def new_call(self, **fields: Any) -> Call:
        """Keep a new call leg."""
        call = Call(sid=new_sid("CA"), account_sid=self.config.account_sid, **fields)
        self.calls[call.sid] = call
        self.touch(call)
        return call

    def event(self, call: Call, kind: str, **details: object) -> None:
        """Note something that happened on a leg (tests and the phone page read these)."""
        call.events.append({"type": kind, **details})
        self.touch(call)

    def hear(self, call: Call, verb: str, **what: object) -> None:
        """Note something the leg's caller heard."""
        call.heard.append({"verb": verb, **what})
        self.touch(call)

    def set_status(self, call: Call, status: str) -> None:
        """Move a leg to a new status, keeping Twilio's start/end times."""
        call.status = status
        call.date_updated = now()
        if status == "in-progress" and call.answered_at is None:
            call.answered_at = time.monotonic()
            call.start_time = call.date_updated
        if status in FINAL:
            call.ended_at = time.monotonic()
            call.end_time = call.date_updated
            call.listening = None
            call.ended.set()
        self.event(call, "status", status=status)

    def conference_named(self, name: str) -> Conference | None:
        """The live conference of this friendly name."""
        for conference in self.conferences.values():
            if conference.friendly_name == name and conference.status != "completed":
                return conference
        return None

    def queue_named(self, name: str) -> Queue:
        """The queue of this name, made on first use as <Enqueue> does."""
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = Queue(sid=new_sid("QU"), friendly_name=name)
        return queue

    def log_twiml(self, entry: dict[str, Any]) -> None:
        """Keep a fetched document; ones that ended a call also go to `twiml_errors`."""
        self.twiml_log.append(entry)
        if entry.get("error"):
            self.twiml_errors.append(entry)
        self.touch(None)

    def phone_calls(self, number: str) -> list[Call]:
        """Legs a patient phone is on (calling or being called), oldest first."""
        return [c for c in self.calls.values() if number in (c.from_, c.to)]

    async def wait_for_change(self, after: int, *, seconds: float) -> None:
        """Return once anything changed after `after`, or after `seconds`."""
        if self._seq > after:
            return
        if self._changed is None:
            self._changed = asyncio.Event()
        await wait_set(self._changed, seconds)

    def release_waiters(self) -> None:
        """Answer every parked long poll now."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def touch(self, call: Call | None) -> None:
        """Count a change and wake the long polls."""
        self._seq += 1
        if call is not None:
            call.seq = self._seq
        self.release_waiters()
