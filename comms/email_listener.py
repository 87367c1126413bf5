"""The inbound SMTP listener (aiosmtpd on the app's own event loop): mail for our addresses only."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from comms.models import LocationEmail
from comms.services import Services

log = logging.getLogger(__name__)
Deliver = Callable[[bytes, list[str], str], Awaitable[object]]


class InboundHandler:
    """aiosmtpd hooks: refuse unknown recipients at RCPT, hand accepted data to the store."""

    def __init__(self, services: Services, deliver: Deliver) -> None:
        self.services = services
        self.deliver = deliver

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        async with self.services.read() as s:
            known = await s.scalar(
                select(LocationEmail.id).where(LocationEmail.address == address.strip().lower())
            )
        if known is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw or "").encode("utf-8", "surrogateescape")
        try:
            await self.deliver(data, list(envelope.rcpt_tos), str(envelope.mail_from or ""))
        except Exception as exc:
            # A temporary failure makes the sending server keep the message and try again: nothing lost.
            log.error(
                "storing an inbound e-mail failed (%s); answered 451 so the sender retries\n%s",
                exc.__class__.__name__,
                code_trace(exc),
            )
            return "451 4.3.0 Temporary failure storing the message; please retry"
        return "250 2.0.0 Message accepted"


def code_trace(exc: BaseException) -> str:
    """Where it failed, without the exception's message: database errors quote the row (PHI) in theirs."""
    return "".join(traceback.format_tb(exc.__traceback__))


async def start_listener(
    services: Services, deliver: Deliver, host: str, port: int, max_bytes: int
) -> asyncio.Server:
    """Listen on host:port in this event loop; aiosmtpd answers 552 to messages over max_bytes."""
    handler = InboundHandler(services, deliver)
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return SMTP(
            handler,
            data_size_limit=max_bytes,
            enable_SMTPUTF8=True,
            hostname="frontdesk",
            ident="Frontdesk ESMTP",
            timeout=60,
        )

    return await loop.create_server(factory, host, port)
