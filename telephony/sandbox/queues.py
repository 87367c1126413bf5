"""<Enqueue>, <Leave> in wait music, and <Dial><Queue>.

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

import time

from telephony.sandbox import call_recording
from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.dialing import MAX_TIME_LIMIT, dial_action
from telephony.sandbox.flow import ApplicationError, Fetch, Interrupted, Result, any_event
from telephony.sandbox.twiml import QUEUE_URL_VERBS, QUEUE_WAIT_VERBS, Node
from telephony.sandbox.voice_store import Call, Queue, QueueMember
from telephony.sandbox.waiting import music, run_wait


def install(engine: CallEngine) -> None:
    """Register <Enqueue> with the engine (<Dial><Queue> comes here through `dialing`)."""
    engine.handlers["Enqueue"] = enqueue


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
            await run_wait(engine, call, verbs, url)
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
    take: call_recording.Take | None = None  # <Dial record> on the dequeuing leg
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
            if dial.get("record", "").startswith(("record-from-answer", "record-from-ringing")):
                take = call_recording.start(
                    engine, dial, base, account_sid=call.account_sid, call_sid=call.sid, source="DialVerb"
                )
            await engine.wait(call, member.bridge_over.wait(), dial.number("timeLimit", MAX_TIME_LIMIT))
    except Interrupted as stopped:
        call_recording.finish(engine, take)
        call.connected_to = None
        if member is not None:
            member.bridge_over.set()
        if stopped.reason == "hangup":
            action = dial_action(engine, dial, base, "completed" if waiting else "canceled", waiting)
            if action is not None:
                await engine.tell(call, action)
        raise
    call_recording.finish(engine, take)
    member.bridge_over.set()
    call.connected_to = None
    engine.voice.event(call, "unbridged")
    return dial_action(engine, dial, base, "completed" if member.ready.is_set() else "no-answer", waiting)
