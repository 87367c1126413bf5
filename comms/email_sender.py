"""The e-mail sender: drains the outbox's e-mail rows through the configured SMTP relay.

Each message keeps the Message-ID chosen when it was queued, so a resend after a crash is the same
message to the patient's mail client (which threads and de-duplicates on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import aiosmtplib
from sqlalchemy import select

from comms import outbox
from comms.email_build import build_email
from comms.models import EmailMessage, TimelineItem
from comms.outbox import Claimed
from comms.services import Services

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 2.0


class EmailSender:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.token = secrets.token_hex(8)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                claimed = await outbox.claim_due(
                    self.services, "email", self.token, self.services.settings.twilio.send_lease_seconds
                )
                for entry in claimed:
                    await self._deliver(entry)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("e-mail sender pass failed; retrying")
                claimed = []
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)
                self._wake.clear()

    async def _deliver(self, entry: Claimed) -> None:
        smtp = self.services.settings.smtp
        async with self.services.read() as s:
            item = await s.get(TimelineItem, entry.item_id)
            record = await s.scalar(select(EmailMessage).where(EmailMessage.item_id == entry.item_id))
            parent = None
            if item is not None and item.meta.get("in_reply_to"):
                parent = str(item.meta["in_reply_to"])
        if item is None or record is None:
            return
        message, _generated = build_email(
            from_addr=entry.from_addr,
            from_name=smtp.from_name,
            to=[entry.to_addr],
            subject=str(item.meta.get("subject") or record.subject),
            text=item.body,
            in_reply_to=parent,
            references=(parent,) if parent else (),
            domain=smtp.message_id_domain,
        )
        del message["Message-ID"]
        message["Message-ID"] = f"<{record.message_id}>"
        try:
            await aiosmtplib.send(
                message,
                hostname=smtp.relay_host,
                port=smtp.relay_port,
                username=smtp.username,
                password=smtp.password,
                start_tls=smtp.starttls and not smtp.implicit_tls,
                use_tls=smtp.implicit_tls,
                timeout=30,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await outbox.record_failure(
                self.services,
                entry.item_id,
                self.token,
                None,
                f"the mail server refused the address: {exc}",
                retry=False,
                max_attempts=1,
            )
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            await outbox.record_failure(
                self.services,
                entry.item_id,
                self.token,
                None,
                f"mail server answered {exc.code}",
                retry=not permanent,
                max_attempts=self.services.settings.twilio.max_send_attempts,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await outbox.record_failure(
                self.services,
                entry.item_id,
                self.token,
                None,
                f"could not reach the mail server ({exc.__class__.__name__})",
                retry=True,
                max_attempts=self.services.settings.twilio.max_send_attempts,
            )
        else:
            await outbox.record_sent(self.services, entry.item_id, self.token, None, "sent")
