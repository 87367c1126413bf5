"""Waiting for an asyncio event with a time limit, without losing a cancel.

On Python 3.11 `asyncio.wait_for` can swallow a cancellation that arrives just as the awaited event
is set: the inner wait has finished, so it returns instead of raising. A background loop (the SMS
sender, the snooze waker) told to stop then went on polling, and whatever awaited it (the server's
shutdown, a test's teardown in CI) waited forever. `asyncio.timeout` tells its own cancellation from
a caller's, so the caller's always gets through.
"""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """True once the event is set, False when the time runs out first; a cancel always propagates."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
