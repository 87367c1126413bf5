"""E-mail as a cleanup context: the inbound SMTP listener and the outbound e-mail sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from comms.email_actions import receive_email
from comms.email_listener import start_listener
from comms.email_sender import EmailSender
from web.keys import EMAIL_SENDER, SERVICES, SETTINGS, SMTP_PORT

log = logging.getLogger(__name__)


async def mail_ctx(app: web.Application) -> AsyncIterator[None]:
    """Listener when enabled, sender when a relay is configured; both stop with the app."""
    settings, services = app[SETTINGS], app[SERVICES]
    smtp = settings.smtp
    quiet_smtp_logs(smtp.log_smtp_session)
    server = None
    if smtp.listen:

        async def deliver(raw: bytes, recipients: list[str], mail_from: str) -> object:
            return await receive_email(services, raw, recipients, mail_from)

        server = await start_listener(
            services, deliver, smtp.listen_host, smtp.listen_port, smtp.max_message_bytes
        )
        app[SMTP_PORT] = int(server.sockets[0].getsockname()[1])
        log.info("SMTP listener on %s:%s", smtp.listen_host, app[SMTP_PORT])
    task = None
    if smtp.relay_host:
        sender = EmailSender(services)
        app[EMAIL_SENDER] = sender
        task = asyncio.create_task(sender.run_forever(), name="email-sender")
    else:
        log.warning("smtp.relay_host is not set: e-mail replies are queued but not sent")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if server is not None:
        server.close()
        await server.wait_closed()


def quiet_smtp_logs(verbose: bool) -> None:
    """aiosmtpd logs every command (MAIL FROM:<patient@...>) at INFO: that is PHI, so WARNING unless asked."""
    logging.getLogger("mail.log").setLevel(logging.INFO if verbose else logging.WARNING)


def wake_email_sender(app: web.Application) -> None:
    """A reply was queued: the sender looks now rather than at its next poll."""
    sender = app.get(EMAIL_SENDER)
    if sender is not None:
        sender.wake()
