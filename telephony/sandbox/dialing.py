"""<Dial> with <Number>s and <Client>s (or a plain number): ring them all at once, bridge the first.

Each noun becomes a child leg (direction outbound-dial, ParentCallSid = the caller's leg, From =
callerId or the caller's From) that rings a patient's virtual phone or every softphone registered for
the identity (an identity with none ends no-answer at once). The first to answer wins; the others are
canceled. Each child posts its own statusCallback for the statusCallbackEvent words it asked for
(initiated, ringing, answered, completed) with ParentCallSid, CallStatus, SequenceNumber, Timestamp,
CallbackSource and CallDuration on completed. `<Client url>` / `<Number url>` TwiML runs on the
answered child before bridging (a whisper); if it hangs up the child, nobody is bridged.
answerOnBridge="true" keeps an inbound caller's leg ringing until the bridge.

When the Dial ends, `action` (if any) is requested with DialCallStatus (completed, busy, no-answer,
failed, canceled), DialCallSid and DialCallDuration; without action the next verb runs. If the caller
hangs up, the other legs are hung up and action is still requested (CallStatus completed, its answer
ignored); a REST redirect of the caller hangs up the other legs and does NOT request action. A REST
redirect of the bridged child takes it out of the bridge to run its new TwiML; the caller's Dial then
ends completed. `record` records from the ringing or the answer until the Dial ends (`call_recording`).
<Conference> and <Queue> are in `conferences` and `queues`.
"""

from __future__ import annotations

import asyncio

from telephony.sandbox import call_recording
from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.flow import HANGUP, ApplicationError, Fetch, Interrupted, Result, any_event
from telephony.sandbox.twiml import Node, client_identity, client_parameters
from telephony.sandbox.voice_store import FINAL, Call

DEFAULT_TIMEOUT = 30
MAX_TIME_LIMIT = 14400  # Twilio's default timeLimit: four hours


def install(engine: CallEngine) -> None:
    """Register <Dial> with the engine."""
    engine.handlers["Dial"] = dial


async def dial(engine: CallEngine, call: Call, node: Node, base: str | None) -> Result:
    """Dispatch on what is dialed."""
    from telephony.sandbox import conferences, queues  # both import this module's dial_action

    nouns = node.children or [Node("Number", {}, node.text.strip())]
    if nouns[0].tag == "Conference":
        return await conferences.conference(engine, call, node, nouns[0], base)
    if nouns[0].tag == "Queue":
        return await queues.dequeue(engine, call, node, nouns[0], base)
    return await ring_group(engine, call, node, nouns, base)


def dial_action(
    engine: CallEngine, node: Node, base: str | None, status: str, child: Call | None
) -> Fetch | None:
    """The Dial action request, or None when the Dial has no action."""
    if not node.get("action"):
        return None
    params = [("DialCallStatus", status)]
    if child is not None:
        params += [("DialCallSid", child.sid), ("DialCallDuration", str(child.duration(engine.voice.scale)))]
    return Fetch(engine.resolve(base, node.get("action")), node.get("method", "POST").upper(), tuple(params))


def _child(engine: CallEngine, call: Call, node: Node, noun: Node, base: str | None) -> Call:
    if noun.tag == "Client":
        to, params = "client:" + client_identity(noun), client_parameters(noun)
    else:
        to, params = noun.text.strip(), {}
    callback = noun.get("statusCallback")
    return engine.voice.new_call(
        from_=node.get("callerId") or call.from_,
        to=to,
        direction="outbound-dial",
        parent_call_sid=call.sid,
        status_callback=engine.resolve(base, callback) if callback else None,
        status_callback_method=noun.get("statusCallbackMethod", "POST").upper(),
        status_callback_events=frozenset(noun.words("statusCallbackEvent")),
        params=params,
    )


async def ring_group(
    engine: CallEngine, call: Call, node: Node, nouns: list[Node], base: str | None
) -> Result:
    """Ring every noun at once; bridge the first to answer."""
    take: call_recording.Take | None = None
    if node.get("record", "").startswith("record-from-ringing"):
        take = _take(engine, call, node, base)
    try:
        return await _ring_and_bridge(engine, call, node, nouns, base, take)
    finally:
        call_recording.finish(engine, take)


def _take(engine: CallEngine, call: Call, node: Node, base: str | None) -> call_recording.Take:
    return call_recording.start(
        engine, node, base, account_sid=call.account_sid, call_sid=call.sid, source="DialVerb"
    )


async def _ring_and_bridge(
    engine: CallEngine,
    call: Call,
    node: Node,
    nouns: list[Node],
    base: str | None,
    take: call_recording.Take | None,
) -> Result:
    timeout = node.number("timeout", DEFAULT_TIMEOUT)
    legs = [(noun, _child(engine, call, node, noun, base)) for noun in nouns]
    rings = {asyncio.ensure_future(engine.ring(child, timeout)): (noun, child) for noun, child in legs}
    winner: tuple[Node, Call] | None = None
    outcomes: list[str] = []
    pending = set(rings)
    try:
        while pending and winner is None:
            done = await engine.wait(call, asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED), None)
            assert done is not None  # no time limit
            for task in done[0]:
                pending.discard(task)
                noun, child = rings[task]
                outcome = task.result()
                outcomes.append(outcome)
                if outcome == "answered" and winner is None:
                    winner = (noun, child)
                else:
                    engine.end(child, "completed" if outcome == "answered" else _final(outcome))
    except Interrupted as stopped:
        await _stop_ringing(engine, rings, pending)
        for _, child in legs:
            engine.end(child, "completed")
        if stopped.reason == "hangup":
            action = dial_action(engine, node, base, "canceled", None)
            if action is not None:
                await engine.tell(call, action)
        raise
    await _stop_ringing(engine, rings, pending)
    if winner is None:
        return dial_action(engine, node, base, _dial_status(outcomes), legs[0][1] if legs else None)
    noun, child = winner
    if noun.get("url") and not await _whisper(engine, call, child, noun, base):
        return dial_action(engine, node, base, "no-answer", child)
    if take is None and node.get("record", "").startswith("record-from-answer"):
        take = _take(engine, call, node, base)
    try:
        return await bridge(engine, call, child, node, base)
    finally:
        call_recording.finish(engine, take)  # before the action request, as Twilio ends it with the Dial


async def _stop_ringing(
    engine: CallEngine, rings: dict[asyncio.Task[str], tuple[Node, Call]], pending: set[asyncio.Task[str]]
) -> None:
    """Cancel the legs still ringing (another answered, the time ran out or the caller left)."""
    for task in pending:
        engine.respond(rings[task][1], "canceled")
    for task in pending:
        await asyncio.gather(task, return_exceptions=True)
        engine.end(rings[task][1], "canceled")


def _final(outcome: str) -> str:
    return outcome if outcome in FINAL else "no-answer"


def _dial_status(outcomes: list[str]) -> str:
    if outcomes and all(o == "busy" for o in outcomes):
        return "busy"
    if outcomes and all(o == "failed" for o in outcomes):
        return "failed"
    return "no-answer"


async def _whisper(engine: CallEngine, call: Call, child: Call, noun: Node, base: str | None) -> bool:
    """Run the noun's url TwiML on the answered child; True if the child is still there to bridge."""

    async def whisper() -> bool:
        step: Fetch | None = Fetch(engine.resolve(base, noun.get("url")), noun.get("method", "POST").upper())
        try:
            while step is not None:
                verbs, url = await engine.load(child, step)
                result = await engine.execute(child, verbs, url)
                if result == HANGUP:
                    return False
                step = result if isinstance(result, Fetch) else None
        except Interrupted:
            return False
        except ApplicationError:
            await engine.application_error(child)
            return False
        return child.live

    try:
        kept = await engine.wait(call, whisper(), None)
    except Interrupted:
        engine.end(child, "completed")
        raise
    if not kept:
        engine.end(child, "completed")
    return bool(kept)


async def bridge(engine: CallEngine, call: Call, child: Call, node: Node, base: str | None) -> Result:
    """Connect the caller with the answered leg until one of them leaves."""
    engine.answer(call)
    call.connected_to, child.connected_to = child.sid, call.sid
    engine.voice.event(call, "bridged", peer=child.sid)
    engine.voice.event(child, "bridged", peer=call.sid)
    try:
        await engine.wait(
            call, any_event(child.interrupt, child.ended), node.number("timeLimit", MAX_TIME_LIMIT)
        )
    except Interrupted as stopped:
        engine.end(child, "completed")
        call.connected_to = None
        if stopped.reason == "hangup":
            action = dial_action(engine, node, base, "completed", child)
            if action is not None:
                await engine.tell(call, action)
        raise
    call.connected_to = child.connected_to = None
    moved = engine.take_redirect(child)
    if moved is not None:
        engine.voice.event(child, "unbridged")
        engine.spawn(engine.run(child, moved))
    else:
        engine.end(child, "completed")
    engine.voice.event(call, "unbridged")
    return dial_action(engine, node, base, "completed", child)
