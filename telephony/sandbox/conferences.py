"""<Dial><Conference> and REST participants.

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
Hold, Coaching, EndConferenceOnExit, StartConferenceOnEnter, ParticipantLabel. record="record-from-start"
(the first participant that asks) records the conference from its start to its end (`call_recording`).
"""

from __future__ import annotations

from telephony.sandbox import call_recording
from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.dialing import dial_action
from telephony.sandbox.flow import Fetch, Interrupted, Result, any_event
from telephony.sandbox.store import new_sid, now, rfc2822
from telephony.sandbox.twiml import CONFERENCE_WAIT_VERBS, HOLD_VERBS, Node
from telephony.sandbox.voice_store import Call, Conference, Participant
from telephony.sandbox.waiting import music

DEFAULT_CONFERENCE_EVENTS = frozenset(("start", "end"))


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
    if call_recording.wants(node, call_recording.CONFERENCE_MODES) and conf.record_request is None:
        conf.record_request = (node, base, call.sid)
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
    if conf.status == "in-progress" and conf.record_request is not None and conf.recording is None:
        node, base, asked_by = conf.record_request
        conf.recording = call_recording.start(
            engine,
            node,
            base,
            account_sid=conf.account_sid,
            call_sid=asked_by,
            source="Conference",
            conference_sid=conf.sid,
        )


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
    call_recording.finish(engine, conf.recording)
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
