"""kill -9 at any point of an e-mail hand-off loses no e-mail and never sends one twice.

A real `frontdesk serve` subprocess sends through a real SMTP relay (aiosmtpd, in this process, so it
outlives the server and counts every message it accepts by Message-ID). The relay kills the server at
a chosen step of the Nth SMTP transaction; the server is started again on the same database.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from comms import email_actions, migrate
from comms.access import Actor
from comms.db import make_engine, make_sessionmaker
from comms.email_outbox import resolve_unconfirmed
from comms.models import (
    Contact,
    ContactEmail,
    Conversation,
    EmailMessage,
    OutboxEntry,
    StaffUser,
    TimelineItem,
)
from comms.services import Services
from routing.bus import InProcessBus
from tests.conftest import make_settings
from tests.helpers import seed_practice
from tests.ports import free_port
from tests.test_crash_safety import Server

MAILS = 12
LEASE_SECONDS = 1.5  # short, so an interrupted hand-off is looked at again within the test
DRAIN_TIMEOUT = 60.0


class TrappingRelay:
    """The practice's relay; at the Nth transaction it does something nasty.

    at_mail: the server is killed when MAIL FROM arrives (before any of the message was handed over).
    after_dot: the relay takes the whole message, then the server is killed before it hears "250".
    hang: the relay takes the whole message and never answers (until `release`).
    """

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.mode: str | None = None
        self.nth = 0
        self.mails = 0
        self.kill: Callable[[], None] = lambda: None
        self.sprung = asyncio.Event()
        self.release = asyncio.Event()
        self.trapped: str | None = None

    def arm(self, mode: str, nth: int, kill: Callable[[], None] = lambda: None) -> None:
        self.mode, self.nth, self.kill = mode, nth, kill

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mails += 1
        if self.mode == "at_mail" and self.mails == self.nth:
            self.kill()
            self.sprung.set()
            return "421 4.3.0 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message_id = str(message_from_bytes(content)["Message-ID"]).strip("<>")
        self.accepted.append(message_id)
        if self.mode in ("after_dot", "hang") and len(self.accepted) == self.nth:
            self.trapped = message_id
            if self.mode == "after_dot":
                self.kill()
            self.sprung.set()
            if self.mode == "hang":
                await self.release.wait()
        return "250 2.0.0 queued"


class Rig:
    def __init__(
        self, services: Services, relay: TrappingRelay, server: Server, actor: Actor, conversations: list[int]
    ) -> None:
        self.services, self.relay, self.server, self.actor = services, relay, server, actor
        self.conversations = conversations

    async def queue(self, n: int) -> dict[int, str]:
        """Queue e-mails through the one action staff use; item id → its Message-ID."""
        ids = {}
        for i in range(n):
            out = await email_actions.send_email(
                self.services,
                self.actor,
                self.conversations[i % len(self.conversations)],
                f"Crash test {i:02d}: your lab results are in. Call us to go through them.",
                f"Results {i:02d}",
            )
            ids[out.id] = str(out.meta["message_id"])
        return ids

    async def states(self) -> dict[int, str]:
        async with self.services.read() as s:
            return {row.item_id: row.state for row in await s.scalars(select(OutboxEntry))}

    async def settled(self, timeout: float = DRAIN_TIMEOUT) -> dict[int, str]:
        """Until every row is done or waiting for staff; a timeout names the rows still open."""
        deadline = time.monotonic() + timeout
        while True:
            states = await self.states()
            if all(state in ("done", "review") for state in states.values()):
                return states
            if time.monotonic() > deadline:
                async with self.services.read() as s:
                    rows = await s.scalars(select(OutboxEntry).where(OutboxEntry.state.not_in(["done"])))
                    open_rows = [(r.item_id, r.state, r.attempts, r.last_error) for r in rows]
                raise AssertionError(
                    f"never settled: {open_rows}\n--- server log ---\n{self.server.output()}"
                )
            await asyncio.sleep(0.2)

    async def until(self, check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{self.server.output()}"
            await asyncio.sleep(0.005)

    async def statuses(self) -> dict[int, str | None]:
        async with self.services.read() as s:
            rows = await s.scalars(select(TimelineItem).where(TimelineItem.kind == "email"))
            return {row.id: row.status for row in rows}


async def _patient(services: Services, practice_id: int, location_id: int, name: str, address: str) -> int:
    async with services.unit() as unit:
        contact = Contact(practice_id=practice_id, first_name=name, last_name="Patient")
        contact.emails.append(ContactEmail(address=address))
        unit.session.add(contact)
        await unit.session.flush()
        conversation = Conversation(contact_id=contact.id, location_id=location_id)
        unit.session.add(conversation)
        await unit.session.flush()
        return conversation.id


@pytest.fixture
async def rig(db_settings: dict[str, Any], tmp_path: Path) -> AsyncIterator[Rig]:
    """A migrated, seeded database; the relay listening; the server configured but not started."""
    relay = TrappingRelay()
    loop = asyncio.get_running_loop()
    relay_server = await loop.create_server(lambda: SMTP(relay, hostname="relay.test"), "127.0.0.1", 0)
    relay_port = relay_server.sockets[0].getsockname()[1]
    port = free_port()
    sections: dict[str, dict[str, Any]] = {
        "database": dict(db_settings),
        "server": {"public_base_url": f"http://127.0.0.1:{port}"},
        "smtp": {
            "listen_port": 0,
            "relay_host": "127.0.0.1",
            "relay_port": relay_port,
            "starttls": False,
            "send_lease_seconds": LEASE_SECONDS,
            "message_id_domain": "practice.test",
        },
        "storage": {"media_dir": str(tmp_path / "media")},
    }
    settings = make_settings(**sections)
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    services = Services(settings, make_sessionmaker(engine), InProcessBus())
    practice = await seed_practice(services)
    async with services.read() as s:
        admin = await s.scalar(select(StaffUser).where(StaffUser.email == practice.admin))
    assert admin is not None
    actor = Actor(admin.id, practice.practice_id, "admin", None, "test-session")
    conversations = [
        await _patient(services, practice.practice_id, practice.loc_a, "Ann", "ann@example.org"),
        await _patient(services, practice.practice_id, practice.loc_b, "Bo", "bo@example.net"),
        await _patient(services, practice.practice_id, practice.loc_a, "Cy", "cy@example.com"),
    ]
    config = tmp_path / "frontdesk.toml"
    config.write_text(_toml(sections), encoding="utf-8")
    server = Server(config, port, tmp_path / "server")
    try:
        yield Rig(services, relay, server, actor, conversations)
    finally:
        relay.release.set()
        server.stop()
        relay_server.close()
        await engine.dispose()


def _toml(sections: dict[str, dict[str, Any]]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return f'"{v}"' if isinstance(v, str) else repr(v)

    return "".join(
        f"[{name}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in section.items())
        for name, section in sections.items()
    )


def _assert_each_accepted_once(rig: Rig, queued: dict[int, str]) -> None:
    counts = Counter(rig.relay.accepted)
    lost = [mid for mid in queued.values() if counts[mid] == 0]
    doubled = {mid: n for mid, n in counts.items() if n > 1}
    assert not lost and not doubled, f"lost: {lost}; sent more than once: {doubled}"
    assert sorted(counts) == sorted(queued.values())


@pytest.mark.parametrize("mode", ["at_mail", "after_dot"])
async def test_kill_9_mid_handoff_then_restart_loses_none_and_doubles_none(rig: Rig, mode: str) -> None:
    await rig.server.start()
    rig.relay.arm(mode, nth=5, kill=rig.server.kill)
    queued = await rig.queue(MAILS)
    await asyncio.wait_for(rig.relay.sprung.wait(), 30)
    at_kill = len(rig.relay.accepted)
    assert 0 < at_kill < MAILS, f"the kill should land part-way through: {at_kill} of {MAILS} accepted"
    await rig.server.start()
    states = await rig.settled()
    _assert_each_accepted_once(rig, queued)
    statuses = await rig.statuses()
    trapped = [item for item, mid in queued.items() if mid == rig.relay.trapped]
    if mode == "at_mail":
        # The relay never had the fifth message: it was sent again after the restart, same Message-ID.
        assert set(states.values()) == {"done"}
        assert set(statuses.values()) == {"sent"}
    else:
        # The relay had the whole message but the server never heard "250": it is not sent again on
        # the server's own; staff see it as unconfirmed, every other e-mail as sent.
        assert [item for item, state in states.items() if state == "review"] == trapped
        assert statuses.pop(trapped[0]) == "unconfirmed"
        assert set(statuses.values()) == {"sent"}


async def test_an_answer_that_never_comes_is_left_to_staff_and_the_rest_go_on(rig: Rig) -> None:
    """The same uncertainty without a crash: the sender gives up on the answer, not on the outbox."""
    await rig.server.start()
    rig.relay.arm("hang", nth=2)
    queued = await rig.queue(5)
    await asyncio.wait_for(rig.relay.sprung.wait(), 30)
    states = await rig.settled(timeout=20 * LEASE_SECONDS)
    _assert_each_accepted_once(rig, queued)
    [trapped] = [item for item, mid in queued.items() if mid == rig.relay.trapped]
    assert states[trapped] == "review" and list(states.values()).count("review") == 1

    # Staff decide to send it again: the patient gets the same message (same Message-ID) once more.
    rig.relay.release.set()
    rig.relay.mode = None
    await resolve_unconfirmed(rig.services, rig.actor, trapped, "resend")
    await rig.until(lambda: len(rig.relay.accepted) == 6, "the resend to reach the relay", timeout=20)
    assert rig.relay.accepted[-1] == queued[trapped]
    states = await rig.settled()
    assert set(states.values()) == {"done"}
    assert (await rig.statuses())[trapped] == "sent"
    async with rig.services.read() as s:
        stored = await s.scalar(select(EmailMessage.message_id).where(EmailMessage.item_id == trapped))
    assert stored == queued[trapped]
