"""Analytics figures on known activity, asserted exactly on SQLite and PostgreSQL (same SQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from comms import analytics
from comms.access import Actor
from comms.analytics_range import business_seconds, median, nearest_rank, scope_for
from comms.errors import NotFound
from comms.services import Services
from schemas.analytics import DrillQuery, RangeQuery
from schemas.voice import OpenInterval, VoiceConfig
from tests.analytics_seed import END, START, Seeded, seed_activity, utc
from tests.helpers import Practice, seed_practice

NY = "America/New_York"
NOW = utc("2026-03-20 12:00")


async def _setup(services: Services) -> tuple[Practice, Seeded, Actor]:
    p = await seed_practice(services)
    seeded = await seed_activity(services, p)
    return p, seeded, Actor(seeded.admin, p.practice_id, "admin", None, "s-admin")


def _query(p: Practice, **extra: object) -> dict[str, object]:
    return {"location_id": p.loc_a, "start": START, "end": END, **extra}


async def test_phone_figures(services: Services) -> None:
    p, _, admin = await _setup(services)
    got = (await analytics.figures(services, admin, RangeQuery.model_validate(_query(p)), NOW)).phones
    assert (got.calls, got.inbound, got.outbound) == (8, 7, 1)
    assert (got.answered, got.missed, got.answer_rate) == (3, 4, round(3 / 7, 4))
    assert (got.recovered, got.recovery_rate) == (2, 0.5)
    assert got.average_wait_seconds == round((20 + 40 + 10) / 3, 1)
    assert got.voicemails == 1
    by_day = {d.date.isoformat(): (d.calls, d.answered, d.missed) for d in got.days if d.calls}
    assert by_day == {
        "2026-03-02": (1, 1, 0),
        "2026-03-03": (1, 1, 0),
        "2026-03-04": (1, 0, 1),
        "2026-03-05": (1, 0, 1),
        "2026-03-06": (2, 1, 1),
        "2026-03-09": (2, 0, 1),  # the 00:30 EDT missed call is Monday's, and the call out
    }
    assert len(got.days) == 12


async def test_message_figures(services: Services) -> None:
    p, _, admin = await _setup(services)
    got = (await analytics.figures(services, admin, RangeQuery.model_validate(_query(p)), NOW)).messages
    assert [(c.channel, c.inbound, c.outbound) for c in got.channels] == [("sms", 6, 7), ("email", 1, 1)]
    assert (got.inbound, got.outbound) == (7, 8)
    # Business-hours waits: c1 7200 (Friday hour + Monday hour across DST), c2 1800, c3 900, c6 3600
    # (the holiday does not count); c4 is still waiting.
    assert got.first_response.answered == 4
    assert got.first_response.median_seconds == 2700.0
    assert got.first_response.p90_seconds == 7200.0
    assert got.unanswered == 1
    by_day = {d.date.isoformat(): (d.inbound, d.outbound) for d in got.days if d.inbound or d.outbound}
    assert by_day == {
        "2026-03-02": (1, 1),
        "2026-03-03": (1, 1),
        "2026-03-04": (1, 2),
        "2026-03-05": (0, 1),
        "2026-03-06": (2, 0),
        "2026-03-09": (1, 2),
        "2026-03-11": (0, 1),
        "2026-03-12": (1, 0),
    }


async def test_the_clock_decides_what_is_still_unanswered(services: Services) -> None:
    p, seeded, admin = await _setup(services)
    earlier = utc("2026-03-11 12:00")  # before c6's reply, before c4 wrote
    got = (await analytics.figures(services, admin, RangeQuery.model_validate(_query(p)), earlier)).messages
    assert got.first_response.answered == 3
    assert (got.first_response.median_seconds, got.first_response.p90_seconds) == (1800.0, 7200.0)
    assert got.unanswered == 1
    assert (got.inbound, got.outbound) == (6, 7)
    drill = await analytics.drill(
        services, admin, DrillQuery.model_validate(_query(p, figure="unanswered")), earlier
    )
    assert drill.conversation_ids == [seeded.conv["c6"]]


async def test_staff_figures(services: Services) -> None:
    p, seeded, admin = await _setup(services)
    got = (await analytics.figures(services, admin, RangeQuery.model_validate(_query(p)), NOW)).staff
    assert [(r.user_id, r.name, r.conversations, r.calls_answered, r.messages_sent) for r in got] == [
        (seeded.north, "Nora North", 8, 2, 4),
        (seeded.admin, "Ada Admin", 3, 1, 2),
    ]


@pytest.mark.parametrize(
    ("figure", "names"),
    [
        ("calls", {"k1", "k2", "c7", "c8", "c9", "k7", "k9"}),
        ("answered", {"k1", "k2", "c9"}),
        ("missed", {"c7", "c8", "c9", "k9"}),
        ("recovered", {"c7", "c9"}),
        ("unrecovered", {"c8", "k9"}),
        ("voicemails", {"c8"}),
        ("inbound", {"c1", "c2", "c3", "c4", "c5", "c6"}),
        ("outbound", {"c1", "c2", "c3", "c5", "c6", "c7", "k9"}),
        ("responded", {"c1", "c2", "c3", "c6"}),
        ("unanswered", {"c4"}),
    ],
)
async def test_drill_down_lists_the_conversations_behind_a_figure(
    services: Services, figure: str, names: set[str]
) -> None:
    p, seeded, admin = await _setup(services)
    got = await analytics.drill(services, admin, DrillQuery.model_validate(_query(p, figure=figure)), NOW)
    assert got.conversation_ids == sorted((seeded.conv[n] for n in names), reverse=True)


async def test_drill_down_per_staff_member(services: Services) -> None:
    p, seeded, admin = await _setup(services)
    query = DrillQuery.model_validate(_query(p, figure="staff", staff_id=seeded.admin))
    got = await analytics.drill(services, admin, query, NOW)
    assert set(got.conversation_ids) == {seeded.conv[n] for n in ("c2", "c5", "k2")}


async def test_figures_only_for_locations_the_actor_sees(services: Services) -> None:
    p, seeded, _ = await _setup(services)
    south = Actor(seeded.north + 1, p.practice_id, "staff", frozenset({p.loc_b}), "s-south")
    with pytest.raises(NotFound):
        await analytics.figures(services, south, RangeQuery.model_validate(_query(p)), NOW)
    stranger = Actor(seeded.admin, p.practice_id + 1, "admin", None, "s-x")
    with pytest.raises(NotFound):
        await analytics.figures(services, stranger, RangeQuery.model_validate(_query(p)), NOW)
    north = Actor(seeded.north, p.practice_id, "staff", frozenset({p.loc_a}), "s-north")
    got = await analytics.figures(services, north, RangeQuery.model_validate(_query(p)), NOW)
    assert got.phones.calls == 8 and got.timezone == NY


async def test_an_empty_range_has_zeros_and_no_rates(services: Services) -> None:
    p, _, admin = await _setup(services)
    day = dt.date(2026, 2, 2)
    got = await analytics.figures(services, admin, RangeQuery(location_id=p.loc_a, start=day, end=day), NOW)
    assert (got.phones.calls, got.phones.answer_rate, got.phones.average_wait_seconds) == (0, None, None)
    assert got.messages.first_response.median_seconds is None and got.staff == []


# Pure parts: local days, business hours across DST and holidays, percentiles.


def test_local_days_are_23_and_25_hours_long_on_dst_changes() -> None:
    spring = scope_for(1, NY, dt.date(2026, 3, 7), dt.date(2026, 3, 9), NOW, VoiceConfig())
    lengths = [(b - a).total_seconds() / 3600 for a, b in zip(spring.bounds, spring.bounds[1:], strict=False)]
    assert lengths == [24, 23, 24]
    assert spring.bounds[0] == utc("2026-03-07 05:00")
    autumn = scope_for(1, NY, dt.date(2026, 11, 1), dt.date(2026, 11, 1), NOW, VoiceConfig())
    assert (autumn.bounds[1] - autumn.bounds[0]) == dt.timedelta(hours=25)


def test_business_seconds_across_a_weekend_and_both_dst_changes() -> None:
    weekdays = VoiceConfig()
    # Friday 16:00 EST to Monday 09:00 EDT: an hour each side.
    assert business_seconds(weekdays, NY, utc("2026-03-06 21:00"), utc("2026-03-09 13:00")) == 7200
    # Friday 16:00 EDT to Monday 09:00 EST (clocks back on 1 November).
    assert business_seconds(weekdays, NY, utc("2026-10-30 20:00"), utc("2026-11-02 14:00")) == 7200
    # Closed the whole time: Saturday to Sunday.
    assert business_seconds(weekdays, NY, utc("2026-03-07 14:00"), utc("2026-03-08 20:00")) == 0
    # Hours that span the change itself are measured in real time: 00:00-05:00 on 8 March is 4 hours.
    night = VoiceConfig(hours={"sun": [OpenInterval(opens=dt.time(0), closes=dt.time(5))]})
    assert business_seconds(night, NY, utc("2026-03-08 00:00"), utc("2026-03-08 12:00")) == 4 * 3600
    # Split days (lunch closed) and the end before the start.
    split = VoiceConfig(
        hours={
            "mon": [
                OpenInterval(opens=dt.time(8), closes=dt.time(12)),
                OpenInterval(opens=dt.time(13), closes=dt.time(17)),
            ]
        }
    )
    assert business_seconds(split, NY, utc("2026-03-02 16:30"), utc("2026-03-02 18:30")) == 3600
    assert business_seconds(split, NY, utc("2026-03-02 18:30"), utc("2026-03-02 16:30")) == 0


def test_percentiles() -> None:
    assert median([]) is None and nearest_rank([], 90) is None
    assert median([3.0, 1.0, 2.0, 4.0]) == 2.5
    assert nearest_rank([float(v) for v in range(1, 11)], 90) == 9.0
    assert nearest_rank([float(v) for v in range(1, 12)], 90) == 10.0
    assert nearest_rank([5.0], 90) == 5.0


def test_range_query_refuses_backwards_and_huge_ranges() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        RangeQuery(location_id=1, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 1))
    with pytest.raises(ValidationError):
        RangeQuery(location_id=1, start=dt.date(2025, 1, 1), end=dt.date(2026, 3, 1))
    with pytest.raises(ValidationError):
        DrillQuery(location_id=1, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 1), figure="staff")


async def test_a_booking_within_a_day_recovers_a_missed_call(services: Services) -> None:
    from comms.models import TimelineItem
    from comms.voice_models import Call

    p, seeded, admin = await _setup(services)
    async with services.unit() as unit:
        for n, (status, conv) in enumerate((("scheduled", "c2"), ("cancelled", "c5"))):
            unit.session.add(
                Call(
                    call_sid=f"CA{'b' * 31}{n}",
                    location_id=p.loc_a,
                    conversation_id=seeded.conv[conv],
                    direction="in",
                    patient_e164="+12025550100",
                    practice_e164="+12025550143",
                    outcome="missed",
                    started_at=utc("2026-03-10 14:00"),
                    ended_at=utc("2026-03-10 14:01"),
                )
            )
            unit.session.add(
                TimelineItem(
                    conversation_id=seeded.conv[conv],
                    kind="appointment",
                    direction="internal",
                    status=status,
                    author_id=seeded.north,
                    created_at=utc("2026-03-11 13:00"),
                    meta={},
                )
            )
    got = (await analytics.figures(services, admin, RangeQuery.model_validate(_query(p)), NOW)).phones
    assert (got.missed, got.recovered) == (6, 3)
    drill = await analytics.drill(
        services, admin, DrillQuery.model_validate(_query(p, figure="recovered")), NOW
    )
    assert seeded.conv["c2"] in drill.conversation_ids and seeded.conv["c5"] not in drill.conversation_ids


async def test_same_figures_when_id_lists_are_split(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long ranges split IN lists into chunks (bound-parameter limits); the figures must not change."""
    from comms import analytics_waits

    p, _, admin = await _setup(services)
    query = RangeQuery.model_validate(_query(p))
    whole = await analytics.figures(services, admin, query, NOW)
    monkeypatch.setattr(analytics_waits, "CHUNK", 1)
    split = await analytics.figures(services, admin, query, NOW)
    assert split == whole
    # c1 began on Friday 6 March, the range's last day; its reply on Monday is found by looking ahead.
    friday = await analytics.figures(
        services, admin, RangeQuery.model_validate(_query(p, end="2026-03-06")), NOW
    )
    times = friday.messages.first_response
    assert (times.answered, times.median_seconds, times.p90_seconds) == (3, 1800.0, 7200.0)
    assert friday.messages.unanswered == 0
