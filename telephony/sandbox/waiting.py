"""Music while a call waits (queues, conferences, hold): wait TwiML fetched again and again, or hold music."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from telephony.sandbox.call_engine import HOLD_MUSIC, PLAY_SECONDS, CallEngine
from telephony.sandbox.flow import HANGUP, ApplicationError, Fetch, Interrupted, Result, any_event
from telephony.sandbox.twiml import Node
from telephony.sandbox.voice_store import Call


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
                outcome = await run_wait(engine, call, verbs, url)
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


async def run_wait(engine: CallEngine, call: Call, verbs: list[Node], url: str | None) -> Result | str:
    for node in verbs:
        if node.tag == "Leave":
            return "leave"
        result = await engine.handlers[node.tag](engine, call, node, url)
        if result is not None:
            return result
    return None
