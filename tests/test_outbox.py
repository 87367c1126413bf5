"""Outbox bookkeeping: the shared per-number send clock and forward-only status callbacks."""

from __future__ import annotations

import datetime as dt

from comms import outbox
from comms.services import Services


def _seconds(delta: dt.timedelta) -> float:
    return round(delta.total_seconds(), 3)  # the stores keep microseconds; compare at millisecond grain


async def test_send_clock_spaces_segments_by_the_numbers_rate(services: Services) -> None:
    first = await outbox.reserve_slot(services, "+12025550143", 1, 1.0)
    second = await outbox.reserve_slot(services, "+12025550143", 3, 1.0)
    third = await outbox.reserve_slot(services, "+12025550143", 1, 1.0)
    other = await outbox.reserve_slot(services, "+13125550188", 1, 1.0)
    assert _seconds(second - first) == 1.0
    assert _seconds(third - second) == 3.0  # a three-segment text takes three seconds of the number
    assert other - first < dt.timedelta(seconds=1)  # numbers do not share a clock
    toll_free = [await outbox.reserve_slot(services, "+18005550100", 1, 3.0) for _ in range(4)]
    assert _seconds(toll_free[3] - toll_free[0]) == 1.0
