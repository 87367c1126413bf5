"""Call routing decisions: open or closed, which phone-tree choice, whose softphones ring.

Pure functions of the data they are handed (a location's set-up, its time zone, the clock, who is on
duty): no store, no I/O, so every rule is tested directly and the domain can call it from an action.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from schemas.voice import WEEKDAYS, Holiday, MenuOption, VoiceConfig

_WORD = re.compile(r"[a-z0-9']+")


def local_time(tz: str, now: dt.datetime) -> dt.datetime:
    """The location's wall-clock time for an aware instant (DST handled by zoneinfo)."""
    return now.astimezone(ZoneInfo(tz))


def holiday_on(config: VoiceConfig, tz: str, now: dt.datetime) -> Holiday | None:
    """The holiday the location observes today, in its own time zone, if any."""
    today = local_time(tz, now).date()
    return next((h for h in config.holidays if h.date == today), None)


def is_open(config: VoiceConfig, tz: str, now: dt.datetime) -> bool:
    """True inside business hours on a working day that is not a holiday."""
    if holiday_on(config, tz, now) is not None:
        return False
    local = local_time(tz, now)
    moment = local.time().replace(tzinfo=None)
    intervals = config.hours.get(WEEKDAYS[local.weekday()], [])
    return any(i.opens <= moment < i.closes for i in intervals)


def choose_option(config: VoiceConfig, digits: str | None, speech: str | None) -> MenuOption | None:
    """The menu choice a caller made: the key pressed, else the first option whose words were said."""
    if digits:
        key = digits.strip()[:1]
        return next((o for o in config.menu_options if o.digit == key), None)
    if speech:
        said = speech.lower()
        spoken = set(_WORD.findall(said))
        for option in config.menu_options:
            for word in option.words:
                if (" " in word and word in said) or word in spoken:
                    return option
        # "one", "two"... are how many callers say a number.
        for option in config.menu_options:
            if _NUMBER_WORDS.get(option.digit) in spoken:
                return option
    return None


_NUMBER_WORDS = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
}


def ring_targets(
    members: Iterable[int], on_duty: Iterable[int], online: Iterable[int], busy: Iterable[int]
) -> list[int]:
    """Staff whose softphones ring now: in the group, on duty, connected, and not already on a call.

    Twilio rings at most ten <Client> nouns per <Dial>; beyond that the first ten by id ring.
    """
    duty, live, taken = set(on_duty), set(online), set(busy)
    return sorted(m for m in set(members) if m in duty and m in live and m not in taken)[:10]


def render(template: str, **values: object) -> str:
    """Fill {location}, {position}... in a spoken or texted template; unknown names stay as written."""

    def swap(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(values[key]) if key in values else match.group(0)

    return re.sub(r"\{([a-z_]+)\}", swap, template)
