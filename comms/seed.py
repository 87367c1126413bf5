"""The demo practice: enough locations, staff, families and threads that the inbox looks lived in.

Everything is drawn from one seeded random generator, so every demo database holds the same people
(only the message times move with the clock). Phone numbers are in the 555-0100..0199 range that
North American numbering keeps for fiction; e-mail domains are the reserved example.* ones.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import select

from comms.contacts import create_contact
from comms.models import Conversation, Location, Practice, StaffUser, TimelineItem, utcnow
from comms.practice import add_location, add_staff, ensure_practice
from comms.seed_forms import seed_forms
from comms.seed_schedule import seed_calendar
from comms.services import Services
from comms.timeline import add_item
from comms.voice_models import RingGroup, RingGroupMember, StaffPhone, VoiceSettings
from comms.voice_setup import staff_of_location
from schemas.voice import WEEKDAYS, MenuOption, OpenInterval, VoiceConfig

PRACTICE_NAME = "Maple Street Dental"
DEMO_PASSWORD = "frontdesk-demo"  # noqa: S105 - printed for the demo on purpose
SEED = 20240611
PATIENTS = 50
THREAD_COUNT = 18

# (name, time zone, carrier number)
LOCATIONS = (
    ("Maple Street", "America/New_York", "+12025550100", "maple@frontdesk.localhost"),
    ("Oak Park", "America/Chicago", "+13125550100", "oakpark@frontdesk.localhost"),
)
# (e-mail, name, role, indexes into LOCATIONS; admins see every location whatever is listed)
STAFF = (
    ("admin@example.com", "Alex Morgan", "admin", ()),
    ("jordan@example.com", "Jordan Lee", "staff", (0,)),
    ("casey@example.com", "Casey Patel", "staff", (1,)),
    ("riley@example.com", "Riley Chen", "staff", (0, 1)),
)
# Families sharing one phone: sizes of the households the demo starts with.
FAMILY_SIZES = (4, 3, 2, 3, 2)

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Mateo", "Isabella", "Lucas",
    "Mia", "Levi", "Amelia", "Ethan", "Harper", "James", "Evelyn", "Aiden", "Camila", "Benjamin",
    "Luna", "Daniel", "Aria", "Henry", "Nora", "Jackson", "Zoe", "Samuel", "Layla", "Omar",
    "Priya", "Wei", "Fatima", "Diego", "Hana", "Kwame", "Ingrid", "Tomasz", "Aisha", "Marcus",
)  # fmt: skip
LAST_NAMES = (
    "Garcia", "Smith", "Johnson", "Nguyen", "Williams", "Brown", "Martinez", "Davis", "Lopez",
    "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Kim", "Patel", "Okafor",
    "Rossi", "Kowalski", "Cohen", "Haddad", "Sato", "Jensen", "Murphy", "Reyes", "Bennett",
)  # fmt: skip
AREA_CODES = ("202", "617", "312", "415", "512", "303", "718", "206")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# A thread is a short exchange: (direction, kind, body); "internal" notes are written by staff.
THREADS = (
    (
        ("in", "sms", "Hi, can I move my cleaning on Thursday to next week?"),
        ("out", "sms", "Of course! We have Tuesday at 10:30 or Wednesday at 3:15. Which works better?"),
        ("in", "sms", "Tuesday 10:30 please"),
    ),
    (
        ("in", "sms", "My crown feels loose since yesterday. Is that urgent?"),
        ("internal", "note", "Asked Dr. Rao, she can see them tomorrow first thing."),
        ("out", "sms", "Please come in tomorrow at 8:00, Dr. Rao will take a look. Avoid sticky food today."),
    ),
    (
        ("out", "sms", "Reminder: your appointment is tomorrow at 2:00 PM. Reply C to confirm."),
        ("in", "sms", "C"),
    ),
    (
        ("in", "sms", "Do you take Delta Dental PPO?"),
        ("out", "sms", "We do! Bring your card to your visit and we'll handle the rest."),
        ("in", "sms", "Great, thanks!"),
    ),
    (
        ("in", "sms", "Running about 10 minutes late, sorry!"),
        ("out", "sms", "No problem, see you soon."),
    ),
    (
        ("in", "sms", "Could you send me the receipt from last month for my FSA?"),
        ("internal", "note", "Billing to e-mail the receipt; check the address on file first."),
    ),
    (
        ("in", "sms", "Is there any opening this Saturday for both kids?"),
        ("internal", "note", "Saturday is full. Offer the Monday after-school slots."),
        ("out", "sms", "Saturday is booked, but we have back-to-back slots Monday at 3:30. Want them?"),
    ),
    (("in", "sms", "Hello? I got a missed call from this number."),),
)
CLOSED_EVERY = 5  # every fifth thread (when it ended with our reply) starts out closed


@dataclass(frozen=True)
class DemoLogin:
    """The administrator account the demo prints, so a visitor can sign in straight away."""

    email: str
    password: str


def demo_login() -> DemoLogin:
    return DemoLogin(STAFF[0][0], DEMO_PASSWORD)


@dataclass(frozen=True)
class _Person:
    first: str
    last: str
    phone: str
    email: str | None
    born: dt.date


def _people(rng: random.Random) -> list[_Person]:
    """Families first (one number for the household), then patients with a number of their own."""
    taken = {number for _, _, number, _ in LOCATIONS}
    pool = [f"+1{area}555{n:04d}" for area in AREA_CODES for n in range(100, 200)]
    phones = iter(rng.sample([p for p in pool if p not in taken], PATIENTS))
    surnames = rng.sample(LAST_NAMES, len(LAST_NAMES))
    people: list[_Person] = []

    def person(first: str, last: str, phone: str, adult: bool) -> _Person:
        email = None
        if adult or rng.random() < 0.3:
            email = f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}".lower()
        years = rng.randint(19, 85) if adult else rng.randint(3, 17)
        born = dt.date(2025 - years, rng.randint(1, 12), rng.randint(1, 28))
        return _Person(first, last, phone, email, born)

    for size in FAMILY_SIZES:
        last, phone = surnames.pop(), next(phones)
        firsts = rng.sample(FIRST_NAMES, size)
        people.extend(person(first, last, phone, adult=i < 2) for i, first in enumerate(firsts))
    while len(people) < PATIENTS:
        adult = rng.random() < 0.85
        people.append(person(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), next(phones), adult))
    return people


async def _thread(
    services: Services, rng: random.Random, contact_id: int, location_id: int, staff_id: int, index: int
) -> None:
    """One conversation with a scripted exchange, back-dated to the last few days."""
    script = THREADS[index % len(THREADS)]
    at = utcnow() - dt.timedelta(hours=rng.uniform(1, 96))
    async with services.unit() as unit:
        conversation = Conversation(contact_id=contact_id, location_id=location_id, created_at=at)
        unit.session.add(conversation)
        await unit.session.flush()
        for direction, kind, body in script:
            at += dt.timedelta(minutes=rng.uniform(1, 40))
            item = TimelineItem(
                kind=kind,
                direction=direction,
                body=body,
                status="delivered" if direction == "out" else None,
                author_id=None if direction == "in" else staff_id,
                meta={},
                created_at=min(at, utcnow()),
            )
            await add_item(unit, conversation, item)
        if index % CLOSED_EVERY == CLOSED_EVERY - 1 and script[-1][0] == "out":
            conversation.status = "closed"


async def seed_demo(services: Services) -> DemoLogin:
    """Create the demo practice once; on a database that already has a practice, change nothing."""
    async with services.read() as session:
        if await session.scalar(select(Practice.id).limit(1)) is not None:
            return demo_login()
    rng = random.Random(SEED)
    practice_id = await ensure_practice(services, PRACTICE_NAME)
    locations = [
        await add_location(services, practice_id, loc[0], loc[1], [loc[2]], [loc[3]]) for loc in LOCATIONS
    ]
    staff_ids: dict[int, list[int]] = {i: [] for i in range(len(locations))}
    for email, name, role, indexes in STAFF:
        user_id = await add_staff(
            services, practice_id, email, name, DEMO_PASSWORD, role, [locations[i] for i in indexes]
        )
        for i in indexes:
            staff_ids[i].append(user_id)
    contact_ids = []
    for p in _people(rng):
        emails = [p.email] if p.email else []
        contact_ids.append(
            await create_contact(services, practice_id, p.first, p.last, [p.phone], emails, p.born)
        )
    for index, contact_id in enumerate(rng.sample(contact_ids, THREAD_COUNT)):
        where = rng.randrange(len(locations))
        await _thread(services, rng, contact_id, locations[where], rng.choice(staff_ids[where]), index)
    await _phones(services, locations)
    await seed_calendar(services, practice_id, locations)
    await seed_forms(services, practice_id)
    return demo_login()


async def _phones(services: Services, locations: list[int]) -> None:
    """Maple Street answers around the clock with a phone tree (so the demo rings at any hour); Oak Park
    keeps office hours. Every demo staff member is on duty: their softphone rings once they sign in."""
    async with services.unit() as unit:
        s = unit.session
        everyone = list(await s.scalars(select(StaffUser.id).order_by(StaffUser.id)))
        admins = list(await s.scalars(select(StaffUser.id).where(StaffUser.role == "admin")))
        front = RingGroup(location_id=locations[0], name="Front desk")
        billing = RingGroup(location_id=locations[0], name="Billing")
        s.add_all([front, billing])
        await s.flush()
        maple_street = await s.get(Location, locations[0])
        assert maple_street is not None
        local = await staff_of_location(s, maple_street.practice_id, maple_street.id)
        s.add_all(RingGroupMember(group_id=front.id, user_id=u) for u in local)
        s.add_all(RingGroupMember(group_id=billing.id, user_id=u) for u in admins)
        open_all_day = [OpenInterval(opens=dt.time(0), closes=dt.time(23, 59, 59))]
        maple = VoiceConfig(
            hours={day: list(open_all_day) for day in WEEKDAYS},
            menu_enabled=True,
            menu_prompt="For appointments, press 1 or say appointments. For billing, press 2. "
            "For our address and hours, press 3. To leave a message, press 0.",
            menu_options=[
                MenuOption(
                    digit="1", label="Appointments", words=("appointment", "appointments", "schedule")
                ),
                MenuOption(
                    digit="2", label="Billing", words=("billing", "bill", "payment"), group_id=billing.id
                ),
                MenuOption(
                    digit="3",
                    label="Address and hours",
                    action="message",
                    message="We are at 12 Maple Street. We answer the phone around the clock in this demo.",
                ),
                MenuOption(digit="0", label="Voicemail", words=("message", "voicemail"), action="voicemail"),
            ],
            default_group_id=front.id,
        )
        s.add(VoiceSettings(location_id=locations[0], config=maple.model_dump(mode="json")))
        s.add_all(StaffPhone(user_id=u, on_duty=True) for u in everyone)
