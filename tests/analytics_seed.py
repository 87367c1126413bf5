"""Known office activity at North (America/New_York) over 2-13 March 2026, across a weekend and the
spring-forward DST change (8 March), for the analytics tests to assert every figure exactly.

North keeps the default hours (weekdays 8 to 5) and closes on Tuesday 10 March (a holiday).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from comms.models import Contact, Conversation, StaffUser, TimelineItem
from comms.services import Services
from comms.voice_models import Call, Recording, VoiceSettings
from schemas.voice import Holiday, VoiceConfig
from tests.helpers import Practice

START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 13)
HOLIDAY = dt.date(2026, 3, 10)


def utc(text: str) -> dt.datetime:
    """'2026-03-06 21:00' as an aware UTC instant."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@dataclass
class Seeded:
    north: int
    admin: int
    conv: dict[str, int] = field(default_factory=dict)


async def seed_activity(services: Services, p: Practice) -> Seeded:
    """Conversations c1..c9 and k1..k9 at North, one at South that must never count."""
    async with services.unit() as unit:
        s = unit.session
        ids = {u.email: u.id for u in await s.scalars(select(StaffUser))}
        seeded = Seeded(north=ids[p.staff_a], admin=ids[p.admin])
        north, admin = seeded.north, seeded.admin
        config = VoiceConfig(holidays=[Holiday(date=HOLIDAY, name="Closed")])
        s.add(VoiceSettings(location_id=p.loc_a, config=config.model_dump(mode="json")))

        async def conversation(name: str, location: int = p.loc_a) -> int:
            contact = Contact(practice_id=p.practice_id, first_name="Pat", last_name=name)
            s.add(contact)
            await s.flush()
            row = Conversation(contact_id=contact.id, location_id=location)
            s.add(row)
            await s.flush()
            seeded.conv[name] = row.id
            return row.id

        def item(conv: str, at: str, kind: str, direction: str, **extra: Any) -> None:
            s.add(
                TimelineItem(
                    conversation_id=seeded.conv[conv],
                    kind=kind,
                    direction=direction,
                    body="",
                    created_at=utc(at),
                    updated_at=utc(at),
                    meta={},
                    **extra,
                )
            )

        for name in ("c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "k1", "k2", "k7", "k9"):
            await conversation(name)
        await conversation("south", p.loc_b)
        # c1: Friday 16:00 EST, again 16:30; answered Monday 09:00 EDT, after the clocks went forward.
        item("c1", "2026-03-06 21:00", "sms", "in", status="received")
        item("c1", "2026-03-06 21:30", "mms", "in", status="received")
        item("c1", "2026-03-09 13:00", "sms", "out", status="delivered", author_id=north)
        # c2: Tuesday e-mail at 10:00, answered at 10:30.
        item("c2", "2026-03-03 15:00", "email", "in", status="received")
        item("c2", "2026-03-03 15:30", "email", "out", status="sent", author_id=admin)
        # c3: Wednesday 18:00 (closed); an automated text does not answer it; staff do at 08:15 Thursday.
        item("c3", "2026-03-04 23:00", "sms", "in", status="received")
        item("c3", "2026-03-04 23:01", "sms", "out", status="delivered")
        item("c3", "2026-03-05 13:15", "sms", "out", status="delivered", author_id=north)
        # c4: Thursday noon EDT, only a send-later reply still waiting: unanswered.
        item("c4", "2026-03-12 16:00", "sms", "in", status="received")
        item("c4", "2026-03-12 16:05", "sms", "out", status="scheduled", author_id=north)
        # c5: the wait began on Sunday 1 March, before the range; Monday's text adds to it.
        item("c5", "2026-03-01 15:00", "sms", "in", status="received")
        item("c5", "2026-03-02 14:00", "sms", "in", status="received")
        item("c5", "2026-03-02 14:30", "sms", "out", status="delivered", author_id=admin)
        # c6: Monday 16:30 EDT; Tuesday is a holiday; answered Wednesday 08:30.
        item("c6", "2026-03-09 20:30", "sms", "in", status="received")
        item("c6", "2026-03-11 12:30", "sms", "out", status="delivered", author_id=north)
        # South's activity is another location's.
        item("south", "2026-03-03 15:00", "sms", "in", status="received")

        sids = itertools.count(1)

        def call(conv: str, started: str, direction: str = "in", **extra: Any) -> Call:
            row = Call(
                call_sid=f"CA{next(sids):032d}",
                location_id=p.loc_a if conv != "south" else p.loc_b,
                conversation_id=seeded.conv[conv],
                direction=direction,
                patient_e164="+12025550100",
                practice_e164="+12025550143",
                state="completed",
                stage="ended",
                started_at=utc(started),
                **extra,
            )
            s.add(row)
            return row

        call("k1", "2026-03-02 15:00:00", outcome="answered", answered_by_id=north,
             answered_at=utc("2026-03-02 15:00:20"), ended_at=utc("2026-03-02 15:05"))  # fmt: skip
        call("k2", "2026-03-03 16:00:00", outcome="answered", answered_by_id=admin,
             answered_at=utc("2026-03-03 16:00:40"), ended_at=utc("2026-03-03 16:10"))  # fmt: skip
        # Missed Wednesday noon; a staff text at 15:00 recovers it.
        call("c7", "2026-03-04 17:00", outcome="missed", ended_at=utc("2026-03-04 17:01"))
        item("c7", "2026-03-04 20:00", "sms", "out", status="delivered", author_id=north)
        # Voicemail Thursday noon; the call back came 25 hours later: not recovered.
        voicemail = call("c8", "2026-03-05 17:00", outcome="voicemail", ended_at=utc("2026-03-05 17:02"))
        item("c8", "2026-03-06 18:02", "call", "out", status="answered", author_id=north)
        # Abandoned in the queue Friday 09:00; the patient called again at 10:00 and was answered.
        call("c9", "2026-03-06 14:00", outcome="abandoned", ended_at=utc("2026-03-06 14:03"))
        call("c9", "2026-03-06 15:00:00", outcome="answered", answered_by_id=north,
             answered_at=utc("2026-03-06 15:00:10"), ended_at=utc("2026-03-06 15:04"))  # fmt: skip
        item("c9", "2026-03-06 15:00", "call", "in", status="answered")
        # An answered call out by North, Monday afternoon.
        call("k7", "2026-03-09 18:00", "out", outcome="answered", placed_by_id=north,
             answered_at=utc("2026-03-09 18:00:15"), ended_at=utc("2026-03-09 18:03"))  # fmt: skip
        item("k7", "2026-03-09 18:00", "call", "out", status="answered", author_id=north)
        # Missed at 00:30 EDT Monday (04:30 UTC: Sunday evening by a fixed EST offset); only a text-back.
        call("k9", "2026-03-09 04:30", outcome="missed", ended_at=utc("2026-03-09 04:31"))
        item("k9", "2026-03-09 04:31", "sms", "out", status="delivered")
        # Outside the range: Sunday 1 March, and 00:30 EDT on Saturday 14 March; and South's call.
        call("k1", "2026-03-01 15:00", outcome="missed", ended_at=utc("2026-03-01 15:01"))
        call("k1", "2026-03-14 04:30", outcome="missed", ended_at=utc("2026-03-14 04:31"))
        call("south", "2026-03-03 15:00", outcome="missed", ended_at=utc("2026-03-03 15:01"))
        await s.flush()
        s.add(Recording(recording_sid="RE" + "0" * 32, call_id=voicemail.id, kind="voicemail"))
    return seeded
