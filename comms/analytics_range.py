"""What every analytics query shares: a location's local days as UTC bounds, business hours, percentiles.

Pure: no store, so the day arithmetic (DST days are 23 or 25 hours long) and the business-hours clock
are tested directly. Day boundaries are computed here once and handed to SQL as plain UTC values, so
the same SQL runs on SQLite and PostgreSQL (no dialect time-zone functions).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, literal
from sqlalchemy.sql.elements import ColumnElement

from schemas.voice import WEEKDAYS, VoiceConfig

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Scope:
    """One location's range of local days [start, end], its boundaries in UTC, and the clock's now."""

    location_id: int
    timezone: str
    start: dt.date
    end: dt.date
    bounds: tuple[dt.datetime, ...]  # midnight of each local day, and the midnight after the last
    now: dt.datetime
    config: VoiceConfig

    @property
    def since(self) -> dt.datetime:
        return self.bounds[0]

    @property
    def until(self) -> dt.datetime:
        return self.bounds[-1]

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(len(self.bounds) - 1)]

    def day_index(self, column: Any) -> ColumnElement[int]:
        """A SQL expression numbering the local day an instant in the range falls on (0 = start).

        Nested CASEs halve the days at each level, so a row costs about log2(days) comparisons
        rather than one per day (a year's range is nine, not 366).
        """

        def split(lo: int, hi: int) -> Any:  # days lo..hi-1
            if hi - lo == 1:
                return literal(lo)
            mid = (lo + hi) // 2
            return case((column < self.bounds[mid], split(lo, mid)), else_=split(mid, hi))

        return split(0, len(self.bounds) - 1)

    def day_of(self, at: dt.datetime) -> int:
        """The index of the local day an instant falls on, -1 outside the range."""
        if not self.since <= at < self.until:
            return -1
        return bisect.bisect_right(self.bounds, at) - 1


def scope_for(
    location_id: int, timezone: str, start: dt.date, end: dt.date, now: dt.datetime, config: VoiceConfig
) -> Scope:
    """Local midnights from start to the day after end, each turned into UTC by the tz database."""
    zone = ZoneInfo(timezone)
    count = (end - start).days + 2
    bounds = tuple(
        dt.datetime.combine(start + dt.timedelta(days=i), dt.time(0), zone).astimezone(dt.UTC)
        for i in range(count)
    )
    return Scope(location_id, timezone, start, end, bounds, now, config)


class BusinessClock:
    """Counts seconds inside a location's opening hours, holidays excluded.

    Each day's hours are local wall-clock times, turned into UTC for that very day, so an interval on
    the far side of a DST change is measured with that day's offset. Days are worked out once and kept:
    a report measures thousands of waits over the same few weeks.
    """

    def __init__(self, config: VoiceConfig, tz: str) -> None:
        self.config = config
        self.zone = ZoneInfo(tz)
        self.closed = {h.date for h in config.holidays}
        self._days: dict[dt.date, tuple[tuple[dt.datetime, dt.datetime], ...]] = {}
        self._totals: dict[dt.date, float] = {}

    def open_intervals(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        found = self._days.get(day)
        if found is None:
            intervals = [] if day in self.closed else self.config.hours.get(WEEKDAYS[day.weekday()], [])
            found = tuple(
                (
                    dt.datetime.combine(day, i.opens, self.zone).astimezone(dt.UTC),
                    dt.datetime.combine(day, i.closes, self.zone).astimezone(dt.UTC),
                )
                for i in intervals
            )
            self._days[day] = found
            self._totals[day] = sum((hi - lo).total_seconds() for lo, hi in found)
        return found

    def _within(self, day: dt.date, start: dt.datetime, end: dt.datetime) -> float:
        total = 0.0
        for opens, closes in self.open_intervals(day):
            lo, hi = max(start, opens), min(end, closes)
            if hi > lo:
                total += (hi - lo).total_seconds()
        return total

    def seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        """Seconds of [start, end) inside opening hours."""
        if end <= start:
            return 0.0
        first, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        if first == last:
            return self._within(first, start, end)
        total = self._within(first, start, end) + self._within(last, start, end)
        day = first + DAY
        while day < last:
            self.open_intervals(day)
            total += self._totals[day]
            day += DAY
        return total


def business_seconds(config: VoiceConfig, tz: str, start: dt.datetime, end: dt.datetime) -> float:
    """Seconds of [start, end) inside the location's opening hours, holidays excluded."""
    return BusinessClock(config, tz).seconds(start, end)


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None when empty."""
    return float(statistics.median(values)) if values else None


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `percent`% of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1])


def rate(part: int, whole: int) -> float | None:
    """A share to four places; None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None
