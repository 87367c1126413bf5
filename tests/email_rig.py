"""The e-mail test rig: the real app with its SMTP listener, a real relay that keeps what it is given."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage as Message
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from comms import migrate
from comms.db import make_engine
from comms.models import TimelineItem
from tests.conftest import make_settings
from tests.helpers import ORIGIN, seed_practice
from web.app import create_app
from web.keys import SERVICES, SMTP_PORT

PATIENT = "pat.garcia@example.org"


class Relay:
    """A real SMTP server standing in for the practice's mail relay; it keeps what it is given."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 OK"


async def start_mail(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path, port: int | None = None, **smtp: Any
) -> tuple[Any, asyncio.Server]:
    """The app (listener on a free port, sender to a local relay) on a migrated, seeded store.

    With `port`, the app serves there and its own page's Origin is allowed (for a real browser).
    """
    relay = Relay()
    loop = asyncio.get_running_loop()
    relay_server = await loop.create_server(lambda: SMTP(relay), "127.0.0.1", 0)
    relay_port = relay_server.sockets[0].getsockname()[1]
    settings = make_settings(
        db_settings,
        server={"allowed_origins": [ORIGIN]}
        if port is None
        else {"public_base_url": f"http://127.0.0.1:{port}"},
        storage={"media_dir": str(tmp_path / "media")},
        smtp={
            "listen_port": 0,
            "max_message_bytes": 200_000,
            "relay_host": "127.0.0.1",
            "relay_port": relay_port,
            "starttls": False,
            "message_id_domain": "practice.test",
            **smtp,
        },
    )
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    server = await aiohttp_server(app) if port is None else await aiohttp_server(app, port=port)
    server.practice = await seed_practice(app[SERVICES])
    server.relay = relay
    server.base = str(server.make_url("")).rstrip("/")
    return server, relay_server


async def send_in(
    mail: Any, message: Message | bytes, to: str | list[str] = "north@practice.test", sender: str = PATIENT
) -> None:
    """A patient's mail client handing a message to our listener over SMTP."""
    await aiosmtplib.send(
        message,
        hostname="127.0.0.1",
        port=mail.app[SMTP_PORT],
        sender=sender,
        recipients=[to] if isinstance(to, str) else to,
    )


def patient_mail(subject: str, body: str, **headers: str) -> Message:
    m = Message()
    m["From"], m["To"], m["Subject"] = f"Pat Garcia <{PATIENT}>", "north@practice.test", subject
    for key, value in headers.items():
        m[key.replace("_", "-")] = value
    m.set_content(body)
    return m


async def emails(mail: Any) -> list[TimelineItem]:
    async with mail.app[SERVICES].read() as s:
        return list(
            await s.scalars(
                select(TimelineItem).where(TimelineItem.kind == "email").order_by(TimelineItem.id)
            )
        )


async def wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    for _ in range(int(timeout / 0.05)):
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")
