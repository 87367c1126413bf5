"""The demo seed: a practice that looks lived in, staff scoped as printed, and idempotent."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from comms.models import (
    Contact,
    Conversation,
    Household,
    Location,
    Practice,
    StaffLocation,
    StaffUser,
    TimelineItem,
)
from comms.passwords import verify_password
from comms.phones import to_e164
from comms.seed import DEMO_PASSWORD, PRACTICE_NAME, DemoLogin, seed_demo
from comms.services import Services

TABLES = (Practice, Location, StaffUser, StaffLocation, Household, Contact, Conversation, TimelineItem)


async def counts(services: Services) -> dict[str, int]:
    async with services.read() as session:
        return {
            t.__tablename__: await session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES
        }


async def test_seed_builds_the_demo_practice_once(services: Services) -> None:
    login = await seed_demo(services)
    assert login == DemoLogin("admin@example.com", DEMO_PASSWORD)
    async with services.read() as session:
        practice = await session.scalar(select(Practice))
        locations = {loc.id: loc for loc in await session.scalars(select(Location))}
        staff = list(await session.scalars(select(StaffUser).order_by(StaffUser.id)))
        scopes: dict[int, set[str]] = {user.id: set() for user in staff}
        for link in await session.scalars(select(StaffLocation)):
            scopes[link.user_id].add(locations[link.location_id].name)
        contacts = list(await session.scalars(select(Contact)))
        households = list(await session.scalars(select(Household)))
        kinds = Counter((i.kind, i.direction) for i in await session.scalars(select(TimelineItem)))
        threads = list(await session.scalars(select(Conversation)))

    assert practice is not None and practice.name == PRACTICE_NAME
    assert sorted(loc.name for loc in locations.values()) == ["Maple Street", "Oak Park"]
    for loc in locations.values():
        assert [to_e164(n.e164) for n in loc.numbers] == [n.e164 for n in loc.numbers] and loc.numbers

    by_email = {user.email: user for user in staff}
    admin = by_email[login.email]
    assert admin.role == "admin" and verify_password(admin.password_hash, login.password)
    assert {user.email: scopes[user.id] for user in staff if user.role == "staff"} == {
        "jordan@example.com": {"Maple Street"},
        "casey@example.com": {"Oak Park"},
        "riley@example.com": {"Maple Street", "Oak Park"},
    }

    assert len(contacts) >= 45 and not any(c.is_unknown for c in contacts)
    assert all(to_e164(p.e164) == p.e164 for c in contacts for p in c.phones)
    assert sum(1 for c in contacts if c.emails) > len(contacts) / 2
    members = Counter(c.household_id for c in contacts if c.household_id is not None)
    assert len(households) >= 3 and len(members) == len(households)
    assert all(2 <= size <= 4 for size in members.values())
    for household in households:
        family = [c for c in contacts if c.household_id == household.id]
        assert len({tuple(p.e164 for p in c.phones) for c in family}) == 1
        assert household.name == f"{family[0].last_name} household"

    assert len(threads) >= 10 and {t.location_id for t in threads} == set(locations)
    assert kinds[("sms", "in")] and kinds[("sms", "out")] and kinds[("note", "internal")]
    assert any(t.status == "open" for t in threads)
    assert all(t.last_item_id is not None and "sms" in t.channels for t in threads)

    before = await counts(services)
    assert await seed_demo(services) == login
    assert await counts(services) == before


async def test_demo_phones_ring_at_any_hour_through_a_phone_tree(services: Services) -> None:
    import datetime as dt

    from comms.voice_models import RingGroup, RingGroupMember, StaffPhone
    from comms.voice_setup import config_of
    from routing.call_routing import choose_option, is_open

    await seed_demo(services)
    async with services.read() as session:
        maple = await session.scalar(select(Location).where(Location.name == "Maple Street"))
        oak = await session.scalar(select(Location).where(Location.name == "Oak Park"))
        assert maple is not None and oak is not None
        config, oak_config = await config_of(session, maple.id), await config_of(session, oak.id)
        groups = {g.name: g.id for g in await session.scalars(select(RingGroup))}
        members = list(await session.scalars(select(RingGroupMember)))
        on_duty = list(await session.scalars(select(StaffPhone).where(StaffPhone.on_duty.is_(True))))
    for hour in range(0, 24, 3):
        assert is_open(config, maple.timezone, dt.datetime(2026, 12, 6, hour, tzinfo=dt.UTC))  # a Sunday
    assert not is_open(oak_config, oak.timezone, dt.datetime(2026, 12, 6, 15, tzinfo=dt.UTC))
    billing = choose_option(config, None, "a question about my bill")
    assert billing is not None and billing.group_id == groups["Billing"]
    assert config.default_group_id == groups["Front desk"]
    assert {m.group_id for m in members} == {groups["Front desk"], groups["Billing"]}
    assert len(on_duty) == 4


async def test_demo_calendar_has_providers_hours_and_upcoming_bookings(services: Services) -> None:
    from comms.models import utcnow
    from comms.schedule_models import (
        Appointment,
        AppointmentType,
        Provider,
        ProviderLocation,
        ReminderRule,
        WorkingHours,
    )

    await seed_demo(services)
    async with services.read() as session:
        locations = {loc.name: loc.id for loc in await session.scalars(select(Location))}
        providers = {p.name: p.id for p in await session.scalars(select(Provider))}
        links = set(
            (await session.execute(select(ProviderLocation.provider_id, ProviderLocation.location_id))).all()
        )
        types = {t.name: t for t in await session.scalars(select(AppointmentType))}
        hours = list(await session.scalars(select(WorkingHours)))
        booked = list(await session.scalars(select(Appointment)))
        items = await session.scalar(
            select(func.count()).select_from(TimelineItem).where(TimelineItem.kind == "appointment")
        )
    brooks = providers["Jamie Brooks, RDH"]
    assert links >= {(brooks, locations["Maple Street"]), (brooks, locations["Oak Park"])}
    assert types["Cleaning"].duration_minutes == 45 and types["Cleaning"].buffer_minutes == 10
    assert {
        h.weekday for h in hours if h.provider_id == brooks and h.location_id == locations["Oak Park"]
    } == {3, 4}
    assert len(booked) >= 4 and items == len(booked)
    assert all(a.status == "scheduled" and a.starts_at > utcnow() for a in booked)
    async with services.read() as session:
        rules = sorted(r.minutes_before for r in await session.scalars(select(ReminderRule)))
    assert rules == [120, 2 * 24 * 60]
    before = await counts(services)
    await seed_demo(services)
    async with services.read() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == len(booked)
    assert await counts(services) == before


async def test_demo_has_a_published_intake_form_once(services: Services) -> None:
    from comms.form_models import FormTemplate, FormTemplateVersion

    await seed_demo(services)
    await seed_demo(services)
    async with services.read() as session:
        [template] = list(await session.scalars(select(FormTemplate)))
        [version] = list(await session.scalars(select(FormTemplateVersion)))
    assert template.name == "New patient intake" and version.status == "published"
    assert version.published_at is not None and version.template_id == template.id
