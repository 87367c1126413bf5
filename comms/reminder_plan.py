"""When a reminder goes and what it says; pure (no I/O), so the DST and quiet-hours rules are tested
on their own.

"2 days before" means the same wall-clock time two local days earlier (a 9:00 visit on the Monday
after the clocks change is reminded at 9:00 on Saturday, not 8:00 or 10:00); the part of the offset
under a day is real elapsed time ("2 hours before").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from comms.slots import local_text
from schemas.schedule import PLACEHOLDERS, check_template

__all__ = ["PLACEHOLDERS", "check_template", "due_at", "in_quiet", "render", "values"]

DAY_MINUTES = 24 * 60


def in_quiet(local: dt.time, quiet_from: dt.time, quiet_until: dt.time) -> bool:
    """Whether a local time of day is inside [quiet_from, quiet_until), which may wrap past midnight."""
    if quiet_from <= quiet_until:
        return quiet_from <= local < quiet_until
    return local >= quiet_from or local < quiet_until


def due_at(
    starts_at: dt.datetime,
    minutes_before: int,
    tz: ZoneInfo,
    quiet: tuple[dt.time, dt.time] | None = None,
) -> dt.datetime:
    """The instant a reminder goes. Inside quiet hours it waits for their end, unless the visit would
    have begun by then: then it goes just before they start instead."""
    days, minutes = divmod(minutes_before, DAY_MINUTES)
    local = starts_at.astimezone(tz)
    wall = dt.datetime.combine(local.date() - dt.timedelta(days=days), local.time(), tzinfo=tz)
    due = wall.astimezone(dt.UTC) - dt.timedelta(minutes=minutes)
    if quiet is None or quiet[0] == quiet[1]:
        return due
    quiet_from, quiet_until = quiet
    here = due.astimezone(tz)
    if not in_quiet(here.time(), quiet_from, quiet_until):
        return due
    end_day = here.date() if here.time() < quiet_until else here.date() + dt.timedelta(days=1)
    end = dt.datetime.combine(end_day, quiet_until, tzinfo=tz).astimezone(dt.UTC)
    if end < starts_at:
        return end
    start_day = here.date() if here.time() >= quiet_from else here.date() - dt.timedelta(days=1)
    start = dt.datetime.combine(start_day, quiet_from, tzinfo=tz).astimezone(dt.UTC)
    return start - dt.timedelta(minutes=1)


def values(
    first_name: str,
    practice: str,
    location: str,
    provider: str,
    kind: str,
    starts_at: dt.datetime,
    tz: ZoneInfo,
) -> dict[str, str]:
    """What the placeholders stand for, the date and time in the location's own words."""
    when = local_text(starts_at, tz)
    return {
        "first_name": first_name or "there",
        "practice": practice,
        "location": location,
        "date": when.split(",")[0],
        "time": when.split(", ", 1)[1],
        "provider": provider,
        "type": kind,
    }


def render(template: str, filled: Mapping[str, str]) -> str:
    """The reminder's text (a template that passed `check_template` always renders)."""
    return template.format_map(dict(filled))
