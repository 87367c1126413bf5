"""Slot search: working hours are local wall-clock times, so a DST change moves them in UTC, and a
day that contains the change is as long as it really is; holidays, time off and bookings take slots."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from comms.slots import Calendar, Interval, fits, local_instant, open_slots

NY = ZoneInfo("America/New_York")
MIN = dt.timedelta(minutes=1)
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def cal(hours: list[tuple[int, dt.time, dt.time]], **kw: object) -> Calendar:
    return Calendar(
        tz=NY,
        hours=hours,
        holidays=frozenset(kw.get("holidays", ())),  # type: ignore[arg-type]
        away=list(kw.get("away", ())),  # type: ignore[call-overload]
        busy=list(kw.get("busy", ())),  # type: ignore[call-overload]
    )


WEEKDAYS_9_TO_11 = [(d, dt.time(9), dt.time(11)) for d in range(5)]


def test_nine_oclock_moves_in_utc_across_the_spring_change() -> None:
    # 2027-03-14 is the Sunday New York springs forward: Friday is EST (-5), Monday EDT (-4).
    slots = open_slots(
        cal(WEEKDAYS_9_TO_11), dt.date(2027, 3, 12), dt.date(2027, 3, 15), 30 * MIN, 0 * MIN, LONG_AGO
    )
    friday = [s.start for s in slots if s.start.date() == dt.date(2027, 3, 12)]
    monday = [s.start for s in slots if s.start.date() == dt.date(2027, 3, 15)]
    assert friday[0] == utc(2027, 3, 12, 14, 0) and friday[-1] == utc(2027, 3, 12, 15, 30)
    assert monday[0] == utc(2027, 3, 15, 13, 0) and monday[-1] == utc(2027, 3, 15, 14, 30)
    assert len(friday) == len(monday) == 7  # 9:00 to 10:30 local, every quarter hour
    assert {s.start.astimezone(NY).time() for s in slots} == {
        dt.time(9, 0), dt.time(9, 15), dt.time(9, 30), dt.time(9, 45),
        dt.time(10, 0), dt.time(10, 15), dt.time(10, 30),
    }  # fmt: skip


def test_a_day_with_the_change_inside_working_hours_is_as_long_as_it_really_is() -> None:
    sunday = [(6, dt.time(1), dt.time(4))]
    spring = open_slots(cal(sunday), dt.date(2027, 3, 14), dt.date(2027, 3, 14), 60 * MIN, 0 * MIN, LONG_AGO)
    # 1:00 EST is 06:00Z and 4:00 EDT is 08:00Z: two real hours, so hour-long visits start 06:00..07:00Z.
    assert [s.start for s in spring] == [utc(2027, 3, 14, 6, 0) + m * MIN for m in range(0, 61, 15)]
    autumn = open_slots(cal(sunday), dt.date(2027, 11, 7), dt.date(2027, 11, 7), 60 * MIN, 0 * MIN, LONG_AGO)
    # 1:00 EDT (the first 1:00) is 05:00Z and 4:00 EST is 09:00Z: four real hours.
    assert autumn[0].start == utc(2027, 11, 7, 5, 0) and autumn[-1].start == utc(2027, 11, 7, 8, 0)
    assert len(autumn) == 13
    assert all(b.start - a.start == 15 * MIN for a, b in itertools.pairwise(autumn))


def test_a_time_skipped_by_the_change_counts_as_just_after_it() -> None:
    assert local_instant(dt.date(2027, 3, 14), dt.time(2, 30), NY) == utc(2027, 3, 14, 7, 30)  # = 3:30 EDT
    assert local_instant(dt.date(2027, 11, 7), dt.time(1, 30), NY) == utc(2027, 11, 7, 5, 30)  # first 1:30


def test_holidays_time_off_and_bookings_with_their_buffer_take_slots() -> None:
    monday = dt.date(2027, 1, 4)  # EST: 9:00 is 14:00Z
    booked = Interval(utc(2027, 1, 4, 14, 30), utc(2027, 1, 4, 15, 10))  # 9:30-10:00 plus a 10-minute buffer
    away = Interval(utc(2027, 1, 4, 15, 45), utc(2027, 1, 4, 16, 0))  # 10:45-11:00
    c = cal(WEEKDAYS_9_TO_11, busy=[booked], away=[away])
    starts = [
        s.start.astimezone(NY).time() for s in open_slots(c, monday, monday, 30 * MIN, 10 * MIN, LONG_AGO)
    ]
    # 9:00 would hold the provider until 9:40 (buffer) and run into the 9:30 booking.
    assert starts == [dt.time(10, 15)]  # 10:30 would run into the time off
    assert fits(c, utc(2027, 1, 4, 14, 0), 30 * MIN, 0 * MIN) is None  # without a buffer 9:00 fits
    assert (
        fits(c, utc(2027, 1, 4, 14, 0), 30 * MIN, 10 * MIN) == "that time is already booked for this provider"
    )
    assert fits(c, utc(2027, 1, 4, 15, 30), 30 * MIN, 0 * MIN) == "the provider is away then"
    assert fits(c, utc(2027, 1, 4, 15, 45), 30 * MIN, 0 * MIN) is not None  # past 11:00 and away
    assert (
        fits(c, utc(2027, 1, 4, 13, 45), 30 * MIN, 0 * MIN)
        == "outside the provider's working hours at this location"
    )
    closed = cal(WEEKDAYS_9_TO_11, holidays=[monday])
    assert open_slots(closed, monday, monday, 30 * MIN, 0 * MIN, LONG_AGO) == []
    weekend = open_slots(c, dt.date(2027, 1, 2), dt.date(2027, 1, 3), 30 * MIN, 0 * MIN, LONG_AGO)
    assert weekend == []


def test_slots_in_the_past_are_not_offered() -> None:
    monday = dt.date(2027, 1, 4)
    now = utc(2027, 1, 4, 15, 5)  # 10:05 local
    starts = [s.start for s in open_slots(cal(WEEKDAYS_9_TO_11), monday, monday, 30 * MIN, 0 * MIN, now)]
    assert starts == [utc(2027, 1, 4, 15, 15), utc(2027, 1, 4, 15, 30)]
