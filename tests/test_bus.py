"""The bus (in-process and Redis) and the hub's fan-out, without a server."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from routing.audience import Audience, Viewer
from routing.bus import BusEvent, InProcessBus, RedisBus
from routing.hub import CLOSE_TOO_SLOW, Hub, Subscriber


async def test_in_process_replay_is_exact_and_gaps_resync() -> None:
    bus = InProcessBus(retention=100)
    ids = [await bus.publish({"type": "t", "n": i}, Audience.practice()) for i in range(150)]
    assert ids == list(range(ids[0], ids[0] + 150))
    replay = await bus.since(ids[120])
    assert replay is not None and [e.id for e in replay] == ids[121:]
    assert await bus.since(ids[-1]) == []
    assert await bus.since(ids[10]) is None  # trimmed out of retention
    # At the edge of retention (ids[50] is the oldest kept): everything after, or resync.
    assert [e.id for e in (await bus.since(ids[49])) or []] == ids[50:]
    assert [e.id for e in (await bus.since(ids[50])) or []] == ids[51:]
    assert await bus.since(ids[48]) is None
    assert await bus.since(ids[-1] + 5) is None  # an id from the future: a restart happened


async def test_ids_after_restart_are_above_old_ids() -> None:
    first = InProcessBus()
    old = await first.publish({"type": "t"}, Audience.practice())
    await asyncio.sleep(0.001)
    second = InProcessBus()
    new = await second.publish({"type": "t"}, Audience.practice())
    assert new > old
    assert await second.since(old) is None


def _sub(
    hub: Hub, user: int, locations: frozenset[int] | None, limit: int = 8
) -> tuple[Subscriber, list[int]]:
    closed: list[int] = []

    async def close(code: int, reason: str) -> None:
        closed.append(code)

    sub = Subscriber(Viewer(user, f"s{user}", locations), limit, close)
    sub.live = True
    hub.add(sub)
    return sub, closed


async def test_hub_serializes_once_and_filters_by_location() -> None:
    hub = Hub()
    a, _ = _sub(hub, 1, frozenset({1}))
    b, _ = _sub(hub, 2, frozenset({2}))
    admin, _ = _sub(hub, 3, None)
    event = BusEvent.build(10, Audience.location(1), {"type": "x"})
    hub.dispatch(event)
    assert len(a.outbox) == 1 and len(b.outbox) == 0 and len(admin.outbox) == 1
    assert (await a.outbox.get())[1] is (await admin.outbox.get())[1] is event.frame


async def test_hub_delivers_each_audience_to_exactly_whom_it_admits() -> None:
    """The location index skips the per-socket audience check: it must reach exactly the same sockets."""
    hub = Hub()
    places: list[frozenset[int] | None] = [
        frozenset({1}),
        frozenset({2}),
        frozenset({1, 3}),
        frozenset(),
        None,
    ]
    subs = [_sub(hub, user, places[user % len(places)], limit=100)[0] for user in range(1, 16)]
    audiences = [
        Audience.location(1), Audience.location(2), Audience.location(3), Audience.location(9),
        Audience("locations", frozenset({2, 3})), Audience.staff(2, 7, 99), Audience.practice(),
        Audience.session("s4"), Audience.session("nobody"),
    ]  # fmt: skip
    for n, audience in enumerate(audiences, start=1):
        hub.dispatch(BusEvent.build(n, audience, {"type": "x"}))
        for sub in subs:
            got = [await sub.outbox.get() for _ in range(len(sub.outbox))]
            assert [event_id for event_id, _frame in got] == ([n] if audience.admits(sub.viewer) else [])


async def test_slow_subscriber_is_closed_and_others_keep_receiving() -> None:
    hub = Hub()
    _slow, slow_closed = _sub(hub, 1, None, limit=8)
    fast, fast_closed = _sub(hub, 2, None, limit=8)
    for i in range(20):
        hub.dispatch(BusEvent.build(i + 1, Audience.practice(), {"type": "x"}))
        while len(fast.outbox):
            await fast.outbox.get()
    await asyncio.sleep(0)
    assert slow_closed == [CLOSE_TOO_SLOW] and fast_closed == []
    assert hub.dropped_slow == 1


@pytest.fixture
async def redis_pair(redis_url: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two buses on one stream, as two nodes would have."""
    key = "test:" + secrets.token_hex(6)
    a, b = RedisBus(redis_url, key, retention=100), RedisBus(redis_url, key, retention=100)
    await a.start()
    await b.start()
    yield a, b
    await a._redis.delete(key, f"{key}:seq")
    await a.close()
    await b.close()


async def test_redis_event_published_on_one_node_reaches_the_other(
    redis_pair: tuple[RedisBus, RedisBus],
) -> None:
    a, b = redis_pair
    got: asyncio.Queue[BusEvent] = asyncio.Queue()
    b.listen(got.put_nowait)
    sent = await a.publish({"type": "x", "n": 1}, Audience.location(7))
    event = await asyncio.wait_for(got.get(), 5)
    assert event.id == sent and event.audience == Audience.location(7)
    assert '"n":1' in event.frame


async def test_redis_replay_and_resync(redis_pair: tuple[RedisBus, RedisBus]) -> None:
    a, b = redis_pair
    ids = [await a.publish({"type": "x", "n": i}, Audience.practice()) for i in range(5)]
    replay = await b.since(ids[1])
    assert replay is not None and [e.id for e in replay] == ids[2:]
    assert await b.since(ids[-1]) == []
    assert await b.since(ids[-1] + 1) is None
    assert await b.latest_id() == ids[-1]
    # Exceed retention by far: the oldest events are trimmed and an old id must resync.
    for i in range(400):
        await a.publish({"type": "x", "n": i}, Audience.practice())
    assert await b.since(ids[0]) is None
