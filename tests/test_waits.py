"""A background loop told to stop stops, even when the cancel meets its wake-up event being set.

Python 3.11's `asyncio.wait_for` drops such a cancel (CI hung in a teardown awaiting the SMS sender);
`routing.waits.wait_set` does not. Plain asyncio, no store: the race is in the waiting alone.
"""

from __future__ import annotations

import asyncio

import pytest

from routing.waits import wait_set


async def _polling_loop(event: asyncio.Event) -> None:
    """The shape of every sender and waker: work, then wait to be woken or for the poll interval."""
    while True:
        await wait_set(event, 10.0)
        event.clear()


async def test_a_cancel_arriving_with_the_wake_up_still_stops_the_loop() -> None:
    for _ in range(50):
        event = asyncio.Event()
        task = asyncio.create_task(_polling_loop(event))
        await asyncio.sleep(0)  # the loop is waiting
        event.set()  # a wake-up and a shutdown in the same moment
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), 2.0)
        assert task.cancelled()


async def test_it_says_whether_the_event_came_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_set(event, 5.0) is True
