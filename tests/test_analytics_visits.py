"""Appointment, payment and review figures on known records, exact on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from comms import analytics
from comms.access import Actor
from comms.analytics_export import figures_csv
from comms.models import TimelineItem
from comms.payment_models import PaymentReceived, PaymentRequest
from comms.review_models import ReviewRequest
from comms.schedule_models import Appointment, AppointmentType, Provider
from comms.services import Services
from comms.waitlist_models import WaitlistEntry, WaitlistOffer
from schemas.analytics import DrillQuery, RangeQuery
from tests.analytics_seed import END, START, Seeded, seed_activity, utc
from tests.helpers import Practice, seed_practice

NOW = utc("2026-03-20 12:00")


async def _setup(services: Services) -> tuple[Practice, Seeded, Actor]:
    p = await seed_practice(services)
    seeded = await seed_activity(services, p)
    conv = seeded.conv
    async with services.unit() as unit:
        s = unit.session
        provider = Provider(practice_id=p.practice_id, name="Dr. Dent")
        kind = AppointmentType(practice_id=p.practice_id, name="Cleaning", duration_minutes=30)
        s.add_all([provider, kind])
        await s.flush()

        def visit(name: str, created: str, starts: str, status: str, by: int | None) -> Appointment:
            row = Appointment(
                location_id=p.loc_a,
                provider_id=provider.id,
                contact_id=1,
                type_id=kind.id,
                conversation_id=conv[name],
                starts_at=utc(starts),
                ends_at=utc(starts) + dt.timedelta(minutes=30),
                busy_until=utc(starts) + dt.timedelta(minutes=30),
                status=status,
                booked_by_id=by,
                created_at=utc(created),
            )
            s.add(row)
            return row

        north, admin = seeded.north, seeded.admin
        a1 = visit("c1", "2026-03-01 14:00", "2026-03-03 15:00", "completed", north)  # booked before
        visit("c2", "2026-03-02 14:00", "2026-03-05 15:00", "no_show", north)
        a3 = visit(
            "c3", "2026-03-04 14:00", "2026-03-20 15:00", "scheduled", None
        )  # self-booked, later visit
        visit("c4", "2026-03-05 14:00", "2026-03-10 15:00", "cancelled", north)
        a5 = visit("c5", "2026-03-06 14:00", "2026-03-12 15:00", "confirmed", admin)
        visit("c6", "2026-03-07 14:00", "2026-03-13 20:00", "scheduled", north)
        await s.flush()
        # c3 took a freed slot offered from the waitlist (a fill); c1's taken offer booked before the
        # range (not this range's fill); c5 was offered a slot that went to someone else (no fill).
        for n, (row, state) in enumerate(((a3, "taken"), (a1, "taken"), (a5, "gone"))):
            entry = WaitlistEntry(contact_id=1, conversation_id=row.conversation_id, location_id=p.loc_a,
                                  type_id=kind.id, earliest=dt.date(2026, 3, 1), latest=dt.date(2026, 3, 31),
                                  state="booked" if state == "taken" else "offered",
                                  expires_at=utc("2026-04-01 04:00"))  # fmt: skip
            s.add(entry)
            await s.flush()
            s.add(WaitlistOffer(entry_id=entry.id, provider_id=provider.id, type_id=kind.id,
                                starts_at=row.starts_at, token_sha256=f"{n:064d}", batch=1, state=state,
                                expires_at=row.created_at + dt.timedelta(hours=2),
                                appointment_id=row.id if state == "taken" else None))  # fmt: skip
        for row in (a1, a5):
            s.add(
                TimelineItem(
                    conversation_id=row.conversation_id,
                    kind="appointment",
                    direction="internal",
                    status="confirmed",
                    meta={"appointment_id": row.id},
                )
            )
        # A "confirmed" item naming no appointment confirms nothing.
        s.add(TimelineItem(conversation_id=conv["c6"], kind="appointment", direction="internal",
                           status="confirmed", meta={}))  # fmt: skip

        def request(name: str, created: str, cents: int, status: str, **extra: Any) -> PaymentRequest:
            row = PaymentRequest(
                token=f"tok-{name}-{created}",
                contact_id=1,
                conversation_id=conv.get(name, conv["south"]),
                location_id=p.loc_b if name == "south" else p.loc_a,
                amount_cents=cents,
                currency=extra.pop("currency", "usd"),
                description="Visit",
                status=status,
                created_at=utc(created),
                expires_at=extra.pop("expires", utc("2026-03-30 00:00")),
                **extra,
            )
            s.add(row)
            return row

        r1 = request(
            "c1", "2026-03-02 14:00", 10000, "paid", paid_cents=10000, paid_at=utc("2026-03-04 14:00")
        )
        r2 = request("c2", "2026-03-03 14:00", 5000, "partially_paid", paid_cents=2000)
        request("c3", "2026-03-05 14:00", 7000, "sent", expires=utc("2026-03-08 00:00"))  # expired by now
        r4 = request("c4", "2026-03-06 14:00", 4000, "paid", paid_cents=4000, paid_at=utc("2026-03-07 14:00"))
        r5 = request("c5", "2026-02-20 14:00", 1500, "paid", paid_cents=1500, paid_at=utc("2026-03-03 10:00"))
        request("c6", "2026-03-10 14:00", 2500, "sent", currency="eur", expires=utc("2026-04-01 00:00"))
        request("south", "2026-03-03 14:00", 9900, "sent")
        await s.flush()
        for n, (row, cents, at) in enumerate(
            ((r1, 10000, "2026-03-04 14:00"), (r2, 2000, "2026-03-05 14:00"), (r4, 4000, "2026-03-07 14:00"),
             (r5, 1500, "2026-03-03 10:00"))
        ):  # fmt: skip
            s.add(PaymentReceived(request_id=row.id, payment_intent=f"pi_{n}", amount_cents=cents,
                                  currency="usd", received_at=utc(at)))  # fmt: skip
        for n, (name, created, clicked) in enumerate(
            (("c7", "2026-03-03 14:00", "2026-03-03 15:00"), ("c8", "2026-03-04 14:00", None),
             ("c9", "2026-03-15 14:00", "2026-03-15 15:00"))
        ):  # fmt: skip
            at = utc(clicked) if clicked else None
            s.add(ReviewRequest(token=f"rv{n}", contact_id=1, conversation_id=conv[name], location_id=p.loc_a,
                                created_at=utc(created), first_clicked_at=at))  # fmt: skip
    return p, seeded, Actor(seeded.admin, p.practice_id, "admin", None, "s-admin")


def _query(p: Practice, **extra: object) -> dict[str, object]:
    return {"location_id": p.loc_a, "start": START, "end": END, **extra}


async def test_appointment_figures(services: Services) -> None:
    p, _, admin = await _setup(services)
    got = (await analytics.figures(services, admin, RangeQuery.model_validate(_query(p)), NOW)).appointments
    assert (got.booked, got.self_scheduled, got.waitlist_fills) == (5, 1, 1)
    assert (got.visits, got.cancelled) == (4, 1)
    assert (got.confirmed, got.confirmed_rate) == (2, 0.5)
    assert (got.no_shows, got.no_show_rate) == (1, 0.25)
    earlier = utc("2026-03-11 12:00")  # two of the visits have not come yet
    before = await analytics.figures(services, admin, RangeQuery.model_validate(_query(p)), earlier)
    assert before.appointments.no_show_rate == 0.5
    header, row = figures_csv(before, "appointments").splitlines()
    assert dict(zip(header.split(","), row.split(","), strict=True))["waitlist_fills"] == "1"
    wide = _query(p, start="2026-03-01")  # from the day c1's offer was taken: two fills
    wider = await analytics.figures(services, admin, RangeQuery.model_validate(wide), NOW)
    assert (wider.appointments.booked, wider.appointments.waitlist_fills) == (6, 2)
    south = await analytics.figures(
        services, admin, RangeQuery.model_validate(_query(p, location_id=p.loc_b)), NOW
    )
    assert south.appointments.waitlist_fills == 0


async def test_payment_and_review_figures(services: Services) -> None:
    p, _, admin = await _setup(services)
    got = await analytics.figures(services, admin, RangeQuery.model_validate(_query(p)), NOW)
    assert [t.model_dump() for t in got.payments] == [
        {"currency": "eur", "requested": 1, "requested_cents": 2500, "collected_cents": 0, "paid": 0,
         "median_days_to_pay": None, "outstanding": 1, "outstanding_cents": 2500},
        {"currency": "usd", "requested": 4, "requested_cents": 26000, "collected_cents": 17500, "paid": 2,
         "median_days_to_pay": 1.5, "outstanding": 1, "outstanding_cents": 3000},
    ]  # fmt: skip
    assert (got.reviews.requested, got.reviews.clicked, got.reviews.click_rate) == (2, 1, 0.5)
    rows = figures_csv(got, "payments").splitlines()
    assert rows[0].startswith("currency,requested,") and rows[2].startswith("usd,4,26000,17500,2,1.5,1,3000")


async def test_drill_downs(services: Services) -> None:
    p, seeded, admin = await _setup(services)
    expected = {
        "booked": {"c2", "c3", "c4", "c5", "c6"},
        "waitlist_fills": {"c3"},
        "no_shows": {"c2"},
        "outstanding": {"c2", "c6"},
        "reviews_clicked": {"c7"},
    }
    for figure, names in expected.items():
        got = await analytics.drill(services, admin, DrillQuery.model_validate(_query(p, figure=figure)), NOW)
        assert set(got.conversation_ids) == {seeded.conv[n] for n in names}, figure
