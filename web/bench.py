"""Benchmark: fan-out through the hub and end-to-end delivery over real WebSockets; prints figures.

Run with `make bench`. Figures, not pass/fail: compare them across changes.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc

from routing.audience import Audience, Viewer
from routing.bus import InProcessBus
from routing.hub import Hub, Subscriber


async def _noop_close(code: int, reason: str) -> None:
    return None


async def hub_fanout(subscribers: int = 2000, events: int = 500) -> None:
    """Dispatch cost per event and memory per queued frame with many sockets on one node."""
    hub = Hub()
    bus = InProcessBus()
    bus.listen(hub.dispatch)
    subs = []
    for i in range(subscribers):
        sub = Subscriber(Viewer(i, f"s{i}", frozenset({i % 2})), events + 10, _noop_close)
        sub.live = True
        hub.add(sub)
        subs.append(sub)
    started = time.perf_counter()
    for n in range(events):
        await bus.publish({"type": "bench", "n": n, "body": "x" * 200}, Audience.location(n % 2))
    elapsed = time.perf_counter() - started
    deliveries = hub.delivered
    for sub in subs:  # drain, then measure memory of one more round alone
        while len(sub.outbox):
            await sub.outbox.get()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(events):
        await bus.publish({"type": "bench", "n": n, "body": "x" * 200}, Audience.location(n % 2))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"hub fan-out: {subscribers} sockets, {events} events, {deliveries} deliveries")
    print(f"  {events / elapsed:,.0f} events/s published; {deliveries / elapsed:,.0f} deliveries/s")
    print(
        f"  {elapsed / events * 1e6:,.1f} µs per event; "
        f"{grown / max(deliveries, 1):,.1f} bytes per queued delivery (frame shared)"
    )


def main() -> None:
    asyncio.run(hub_fanout())


if __name__ == "__main__":
    main()
