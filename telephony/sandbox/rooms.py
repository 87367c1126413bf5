"""Calls that wait together: <Dial><Conference>, <Enqueue>, <Dial><Queue>, and REST participants.

Conference: a room by friendly name, made by its first participant (status init) and started
(in-progress) when a participant with startConferenceOnEnter (default true) is in it; until then each
participant hears the waitUrl TwiML (Play/Say/Pause/Redirect, fetched again when it runs out) or hold
music. It ends when a participant with endConferenceOnExit leaves, when the last one leaves, or by REST
(Status=completed); each remaining participant then goes on with its Dial action (DialCallStatus
completed) or next verb, as does a participant kicked by REST DELETE. A held participant (REST
Hold=true) hears HoldUrl TwiML or hold music until unheld. The first participant that names a
statusCallback sets the conference's; its statusCallbackEvent words (default "start end") pick among
conference-start, conference-end (ReasonConferenceEnded, CallSidEndingConference), participant-join,
participant-leave, participant-hold/unhold, participant-mute/unmute, each with ConferenceSid,
FriendlyName, StatusCallbackEvent, SequenceNumber, Timestamp and, for participants, CallSid, Muted,
Hold, Coaching, EndConferenceOnExit, StartConferenceOnEnter, ParticipantLabel.

Enqueue: FIFO queues made on demand. While waiting the caller hears the waitUrl TwiML (Play, Say,
Pause, Gather, Hangup, Redirect, Leave), fetched with QueuePosition, QueueSid, QueueTime,
AvgQueueTime, CurrentQueueSize and MaxQueueSize, and fetched again each time it runs out, until
dequeued. <Leave> ends the wait (next verb after Enqueue, or action). action gets QueueResult
(bridged after a bridge ends, hangup, leave, redirected, queue-full), QueueSid and QueueTime.
Dial><Queue> takes the longest waiter (or waits for one up to the Dial timeout; a queue that never
existed fails), plays the Queue url TwiML (Play/Say/Pause/Redirect; QueueSid, QueueTime,
DequeingCallSid) to the waiter, then bridges them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from telephony.sandbox.call_engine import HOLD_MUSIC, PLAY_SECONDS, CallEngine
from telephony.sandbox.dialing import MAX_TIME_LIMIT, dial_action
from telephony.sandbox.flow import HANGUP, ApplicationError, Fetch, Interrupted, Result, any_event
from telephony.sandbox.store import new_sid, now, rfc2822
from telephony.sandbox.twiml import (
    CONFERENCE_WAIT_VERBS,
    HOLD_VERBS,
    QUEUE_URL_VERBS,
    QUEUE_WAIT_VERBS,
    Node,
)
from telephony.sandbox.voice_store import Call, Conference, Participant, Queue, QueueMember

DEFAULT_CONFERENCE_EVENTS = frozenset(("start", "end"))


def install(engine: CallEngine) -> None:
    """Register <Enqueue> with the engine (<Dial> hands conferences and queues to this module)."""
    engine.handlers["Enqueue"] = enqueue


# ----- music while waiting ---------------------------------------------------------------------------


async def music(
    engine: CallEngine,
    call: Call,
    make_fetch: Callable[[], Fetch] | None,
    stops: list[asyncio.Event],
    allowed: frozenset[str],
) -> str:
    """Play wait TwiML (or hold music) in a loop until a stop event: "stopped", or "leave" (<Leave>)."""

    async def playback() -> str:
        fetch = make_fetch() if make_fetch else None
        while True:
            if fetch is None:
                engine.voice.hear(call, "Play", url=HOLD_MUSIC)
                await engine.pause(call, PLAY_SECONDS)
                continue
            try:
                verbs, url = await engine.load(call, fetch, allowed)
                outcome = await _run_wait(engine, call, verbs, url)
            except ApplicationError:
                await engine.application_error(call)
                outcome = HANGUP
            if outcome == "leave":
                return "leave"
            if outcome == HANGUP:
                engine.interrupt(call, "hangup")
                return HANGUP
            fetch = outcome if isinstance(outcome, Fetch) else (make_fetch() if make_fetch else None)

    task = asyncio.ensure_future(playback())
    stop = asyncio.ensure_future(any_event(*stops))
    try:
        finished = await engine.wait(
            call, asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED), None
        )
    finally:
        for future in (task, stop):
            if not future.done():
                future.cancel()
        await asyncio.gather(task, stop, return_exceptions=True)
    assert finished is not None
    if task in finished[0]:
        outcome = task.result()
        if outcome == HANGUP:
            raise Interrupted("hangup")
        return outcome
    return "stopped"


async def _run_wait(engine: CallEngine, call: Call, verbs: list[Node], url: str | None) -> Result | str:
    for node in verbs:
        if node.tag == "Leave":
            return "leave"
        result = await engine.handlers[node.tag](engine, call, node, url)
        if result is not None:
            return result
    return None


# ----- conferences -----------------------------------------------------------------------------------


def room(engine: CallEngine, name: str) -> Conference:
    """The live conference of this name, made on first use."""
    conference = engine.voice.conference_named(name)
    if conference is None:
        conference = Conference(
            sid=new_sid("CF"), account_sid=engine.store.config.account_sid, friendly_name=name
        )
        engine.voice.conferences[conference.sid] = conference
    return conference


async def conference(engine: CallEngine, call: Call, dial: Node, node: Node, base: str | None) -> Result:
    """<Dial><Conference>: take part until the conference ends or the caller is removed."""
    conf = room(engine, node.text.strip())
    if node.get("statusCallback") and conf.status_callback is None:
        conf.status_callback = engine.resolve(base, node.get("statusCallback"))
        conf.status_callback_method = node.get("statusCallbackMethod", "POST").upper()
        conf.status_callback_events = (
            frozenset(node.words("statusCallbackEvent")) or DEFAULT_CONFERENCE_EVENTS
        )
    participant = Participant(
        call_sid=call.sid,
        conference_sid=conf.sid,
        account_sid=call.account_sid,
        label=node.get("participantLabel") or None,
        muted=node.flag("muted"),
        start_conference_on_enter=node.flag("startConferenceOnEnter", True),
        end_conference_on_exit=node.flag("endConferenceOnExit"),
        beep=node.get("beep", "true") in ("true", "onEnter"),
    )
    wait = None
    if node.get("waitUrl"):
        wait = Fetch(engine.resolve(base, node.get("waitUrl")), node.get("waitMethod", "POST").upper())
    try:
        await attend(engine, call, conf, participant, wait)
    except Interrupted as stopped:
        if stopped.reason == "hangup":
            action = dial_action(engine, dial, base, "completed", None)
            if action is not None:
                await engine.tell(call, action)
        raise
    return dial_action(engine, dial, base, "completed", None)


async def attend(
    engine: CallEngine, call: Call, conf: Conference, participant: Participant, wait: Fetch | None
) -> None:
    """Be in the conference (waiting, on hold or talking) until it ends or the participant is kicked."""
    join(engine, conf, participant, call)
    try:
        while not conf.finished.is_set() and not participant.kicked:
            participant.changed.clear()
            if conf.status != "in-progress":
                await music(
                    engine,
                    call,
                    (lambda: wait) if wait else None,
                    [conf.started, conf.finished, participant.changed],
                    CONFERENCE_WAIT_VERBS,
                )
            elif participant.hold:
                hold = Fetch(participant.hold_url, participant.hold_method) if participant.hold_url else None
                await music(
                    engine,
                    call,
                    (lambda held=hold: held) if hold else None,  # type: ignore[misc]
                    [participant.changed, conf.finished],
                    HOLD_VERBS,
                )
            else:
                await engine.wait(call, any_event(participant.changed, conf.finished), None)
    finally:
        leave(engine, conf, participant, call)


def join(engine: CallEngine, conf: Conference, participant: Participant, call: Call) -> None:
    """A participant enters: beep for the others, start the conference if this one starts it."""
    for other in conf.participants.values():
        if participant.beep and other.call_sid in engine.voice.calls:
            engine.voice.hear(engine.voice.calls[other.call_sid], "Beep")
    conf.participants[call.sid] = participant
    call.connected_to = conf.sid
    engine.voice.event(call, "conference-join", conference=conf.friendly_name, conference_sid=conf.sid)
    conference_event(engine, conf, "participant-join", participant)
    if participant.start_conference_on_enter and conf.status == "init":
        conf.status = "in-progress"
        conf.date_updated = now()
        conf.started.set()
        conference_event(engine, conf, "conference-start")


def leave(engine: CallEngine, conf: Conference, participant: Participant, call: Call) -> None:
    """A participant leaves; the conference ends with an endConferenceOnExit one, or the last one."""
    if conf.participants.pop(call.sid, None) is None:
        return
    participant.status = "complete"
    if call.connected_to == conf.sid:
        call.connected_to = None
    engine.voice.event(call, "conference-leave", conference=conf.friendly_name)
    conference_event(engine, conf, "participant-leave", participant)
    if conf.status == "completed":
        return
    if participant.end_conference_on_exit:
        end_conference(engine, conf, "participant-with-end-conference-on-exit-left", call.sid)
    elif not conf.participants:
        end_conference(engine, conf, "last-participant-left", call.sid)


def end_conference(engine: CallEngine, conf: Conference, reason: str, call_sid: str | None = None) -> None:
    """End the conference; everyone still in it goes on with their own TwiML."""
    if conf.status == "completed":
        return
    conf.status, conf.reason_ended, conf.call_sid_ending = "completed", reason, call_sid
    conf.date_updated = now()
    conf.finished.set()
    extra = [("ReasonConferenceEnded", reason)]
    if call_sid:
        extra.append(("CallSidEndingConference", call_sid))
    conference_event(engine, conf, "conference-end", extra=extra)
    engine.voice.touch(None)


def update_participant(
    engine: CallEngine,
    conf: Conference,
    participant: Participant,
    *,
    hold: bool | None = None,
    hold_url: str | None = None,
    hold_method: str = "POST",
    muted: bool | None = None,
) -> None:
    """REST Participant update: hold (with its music) and mute."""
    if hold is not None and hold != participant.hold:
        participant.hold = hold
        participant.hold_url, participant.hold_method = hold_url, hold_method
        conference_event(engine, conf, "participant-hold" if hold else "participant-unhold", participant)
    if muted is not None and muted != participant.muted:
        participant.muted = muted
        conference_event(engine, conf, "participant-mute" if muted else "participant-unmute", participant)
    participant.date_updated = now()
    participant.changed.set()
    engine.voice.touch(None)


def kick(engine: CallEngine, participant: Participant) -> None:
    """REST Participant delete: out of the conference; the call goes on after its Dial."""
    participant.kicked = True
    participant.changed.set()


async def add_participant(
    engine: CallEngine, call: Call, conf: Conference, participant: Participant, ring_seconds: float
) -> None:
    """REST Participants create: ring To, and on answer put the call in the conference."""
    participant.status = "ringing"
    try:
        outcome = await engine.ring(call, ring_seconds)
        if outcome != "answered":
            participant.status = "failed"
            engine.end(call, outcome)
            return
        participant.status = "connected"
        try:
            await attend(engine, call, conf, participant, None)
        except Interrupted:
            pass
    finally:
        engine.end(call, "completed")


def conference_event(
    engine: CallEngine,
    conf: Conference,
    event: str,
    participant: Participant | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> None:
    """One conference status callback, if the conference's statusCallbackEvent asks for it."""
    word = event.split("-", 1)[1].removeprefix("un")
    if not conf.status_callback or word not in conf.status_callback_events:
        return
    params = [
        ("AccountSid", conf.account_sid),
        ("ConferenceSid", conf.sid),
        ("FriendlyName", conf.friendly_name),
        ("SequenceNumber", str(conf.callback_seq)),
        ("StatusCallbackEvent", event),
        ("Timestamp", rfc2822(now()) or ""),
        *(extra or []),
    ]
    if participant is not None:
        params += [
            ("CallSid", participant.call_sid),
            ("Coaching", "false"),
            ("EndConferenceOnExit", _bool(participant.end_conference_on_exit)),
            ("Hold", _bool(participant.hold)),
            ("Muted", _bool(participant.muted)),
            ("StartConferenceOnEnter", _bool(participant.start_conference_on_enter)),
        ]
        if participant.label:
            params.append(("ParticipantLabel", participant.label))
    conf.callback_seq += 1
    engine.callback(conf.sid, conf.status_callback_method, conf.status_callback, params)


def _bool(value: bool) -> str:
    return "true" if value else "false"


# ----- queues ----------------------------------------------------------------------------------------


async def enqueue(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """<Enqueue>: wait in the named queue until dequeued, <Leave>, hang-up or REST redirect."""
    queue = engine.voice.queue_named(node.text.strip())
    action = engine.resolve(base, node.get("action")) if node.get("action") else None
    method = node.get("method", "POST").upper()
    member = QueueMember(call.sid)

    def outcome(result: str) -> Fetch | None:
        if action is None:
            return None
        waited = str(round(engine.simulated_since(member.enqueued_at)))
        return Fetch(
            action, method, (("QueueResult", result), ("QueueSid", queue.sid), ("QueueTime", waited))
        )

    if len(queue.members) >= (node.number("maxQueueSize", queue.max_size) or queue.max_size):
        return outcome("queue-full")
    queue.members.append(member)
    queue.arrived.set()
    engine.voice.event(call, "enqueued", queue=queue.friendly_name, queue_sid=queue.sid)
    wait_url = engine.resolve(base, node.get("waitUrl")) if node.get("waitUrl") else None
    wait_method = node.get("waitUrlMethod", "POST").upper()

    def wait_fetch() -> Fetch:
        return Fetch(wait_url, wait_method, _queue_params(engine, queue, member))

    try:
        why = await music(engine, call, wait_fetch if wait_url else None, [member.released], QUEUE_WAIT_VERBS)
        if why == "leave":
            _depart(engine, queue, member)
            engine.voice.event(call, "left-queue", queue=queue.friendly_name)
            return outcome("leave")
        await _dequeued(engine, call, queue, member)
    except Interrupted as stopped:
        bridged = member.ready.is_set()
        _depart(engine, queue, member)
        member.bridge_over.set()
        call.connected_to = None
        result = outcome("bridged" if bridged else "hangup" if stopped.reason == "hangup" else "redirected")
        if result is not None:
            await engine.tell(call, result, "completed" if stopped.reason == "hangup" else call.status)
        raise
    call.connected_to = None
    return outcome("bridged")


async def _dequeued(engine: CallEngine, call: Call, queue: Queue, member: QueueMember) -> None:
    """Taken by a <Dial><Queue>: hear its url TwiML, then stay bridged until either side leaves."""
    if member.url:
        params = (
            ("QueueSid", queue.sid),
            ("QueueTime", str(round(engine.simulated_since(member.enqueued_at)))),
            ("DequeingCallSid", member.dequeuer or ""),
        )
        try:
            verbs, url = await engine.load(call, Fetch(member.url, member.method, params), QUEUE_URL_VERBS)
            await _run_wait(engine, call, verbs, url)
        except ApplicationError:
            member.bridge_over.set()
            await engine.application_error(call)
            raise Interrupted("hangup") from None
    member.ready.set()
    call.connected_to = member.dequeuer
    engine.voice.event(call, "bridged", peer=member.dequeuer)
    await engine.wait(call, member.bridge_over.wait(), None)


def _depart(engine: CallEngine, queue: Queue, member: QueueMember) -> None:
    if member in queue.members:
        queue.members.remove(member)
        queue.waits.append(engine.simulated_since(member.enqueued_at))


def _queue_params(engine: CallEngine, queue: Queue, member: QueueMember) -> tuple[tuple[str, str], ...]:
    position = queue.members.index(member) + 1 if member in queue.members else 0
    return (
        ("QueuePosition", str(position)),
        ("QueueSid", queue.sid),
        ("QueueTime", str(round(engine.simulated_since(member.enqueued_at)))),
        ("AvgQueueTime", str(queue.average_wait())),
        ("CurrentQueueSize", str(len(queue.members))),
        ("MaxQueueSize", str(queue.max_size)),
    )


async def dequeue(engine: CallEngine, call: Call, dial: Node, node: Node, base: str | None) -> Result:
    """<Dial><Queue>: bridge with the longest waiter (waiting for one up to the Dial timeout)."""
    queue = engine.voice.queues.get(node.text.strip())
    if queue is None:
        return dial_action(engine, dial, base, "failed", None)
    timeout, started = dial.number("timeout", 30), time.monotonic()
    waiting: Call | None = None
    member: QueueMember | None = None
    try:
        while not queue.members:
            left = timeout - engine.simulated_since(started)
            if left <= 0:
                return dial_action(engine, dial, base, "no-answer", None)
            queue.arrived.clear()
            await engine.wait(call, queue.arrived.wait(), left)
        member = queue.members[0]
        _depart(engine, queue, member)
        waiting = engine.voice.calls[member.call_sid]
        member.dequeuer = call.sid
        member.url = engine.resolve(base, node.get("url")) if node.get("url") else None
        member.method = node.get("method", "POST").upper()
        member.released.set()
        engine.answer(call)
        await engine.wait(call, any_event(member.ready, member.bridge_over), None)
        if member.ready.is_set() and not member.bridge_over.is_set():
            call.connected_to = waiting.sid
            engine.voice.event(call, "bridged", peer=waiting.sid)
            await engine.wait(call, member.bridge_over.wait(), dial.number("timeLimit", MAX_TIME_LIMIT))
    except Interrupted as stopped:
        call.connected_to = None
        if member is not None:
            member.bridge_over.set()
        if stopped.reason == "hangup":
            action = dial_action(engine, dial, base, "completed" if waiting else "canceled", waiting)
            if action is not None:
                await engine.tell(call, action)
        raise
    member.bridge_over.set()
    call.connected_to = None
    engine.voice.event(call, "unbridged")
    return dial_action(engine, dial, base, "completed" if member.ready.is_set() else "no-answer", waiting)
