"""The e-mail sender: drains the outbox's e-mail rows through the configured SMTP relay, never twice.

The message is built once, when staff send it, and kept (raw) with its Message-ID, so every attempt
hands the relay the same bytes. Each claimed row is re-checked right before the end-of-data marker
(comms/email_smtp.py); a row whose lease ran out is judged by that checkpoint (comms/email_outbox.py):
sent again only when the earlier hand-off provably never completed, otherwise left to staff.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

from sqlalchemy import select

from comms import email_outbox, media, outbox
from comms.email_build import build_email
from comms.email_listener import code_trace
from comms.email_smtp import Abandoned, HandoffUnknown, NotHandedOff, hand_off
from comms.models import EmailMessage, TimelineItem
from comms.outbox import Claimed
from comms.services import Services
from routing.waits import wait_set

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 2.0
CLAIM_LIMIT = 5  # few at a time: each send extends its own lease, the rest wait unclaimed


class EmailSender:
    """One per process; several processes share the outbox safely through row claims."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.token = secrets.token_hex(8)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A message was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error(
                    "e-mail sender pass failed (%s); retrying\n%s", exc.__class__.__name__, code_trace(exc)
                )
                worked = False
            if not worked:
                await wait_set(self._wake, IDLE_POLL_SECONDS)
                self._wake.clear()

    async def run_once(self) -> bool:
        """Claim what is due and deliver it; True when there was work."""
        lease = self.services.settings.smtp.send_lease_seconds
        claimed = await outbox.claim_due(self.services, "email", self.token, lease, limit=CLAIM_LIMIT)
        for entry in claimed:
            await self._deliver(entry)
        return bool(claimed)

    async def _deliver(self, entry: Claimed) -> None:
        smtp = self.services.settings.smtp
        lease = smtp.send_lease_seconds
        if entry.uncertain and await email_outbox.reached_handoff(self.services, entry):
            await email_outbox.mark_unconfirmed(
                self.services, entry.item_id, self.token, "the hand-off was interrupted after the last line"
            )
            return
        raw = await self._raw(entry)
        if raw is None:
            await self._fail(entry, "the message to send is missing", retry=False)
            return
        if not await outbox.still_mine(self.services, entry.item_id, self.token, lease):
            return  # our lease ran out meanwhile: another sender holds (and sends) it now

        async def checkpoint() -> bool:
            return await email_outbox.begin_handoff(
                self.services, entry.item_id, self.token, entry.attempts, lease
            )

        try:
            await hand_off(
                raw,
                sender=entry.from_addr,
                recipient=entry.to_addr,
                cfg=smtp,
                timeout=min(30.0, lease * 0.8),  # an answer after the lease would be judged "unknown"
                checkpoint=checkpoint,
            )
        except Abandoned:
            return
        except NotHandedOff as exc:
            await self._fail(entry, exc.message, retry=exc.retry)
            return
        except HandoffUnknown as exc:
            log.warning("e-mail item %s: no answer after the hand-off (%s)", entry.item_id, exc)
            await email_outbox.mark_unconfirmed(
                self.services, entry.item_id, self.token, f"no answer after the last line ({exc})"
            )
            return
        await email_outbox.record_handed_off(self.services, entry.item_id, self.token, entry.attempts)

    async def _fail(self, entry: Claimed, message: str, *, retry: bool) -> None:
        outcome = await outbox.record_failure(
            self.services,
            entry.item_id,
            self.token,
            None,
            message,
            retry=retry,
            max_attempts=self.services.settings.smtp.max_send_attempts,
        )
        if outcome == "failed":
            log.warning("e-mail item %s failed: %s", entry.item_id, message)

    async def _raw(self, entry: Claimed) -> bytes | None:
        """The bytes kept when the message was queued; older rows are built now, dated when queued."""
        smtp = self.services.settings.smtp
        async with self.services.read() as s:
            item = await s.get(TimelineItem, entry.item_id)
            record = await s.scalar(select(EmailMessage).where(EmailMessage.item_id == entry.item_id))
        if item is None or record is None:
            return None
        if record.raw_sha256:
            path = media.path_for(self.services.settings.storage.media_dir, record.raw_sha256)
            return await asyncio.to_thread(_read, path)
        parent = item.meta.get("in_reply_to")
        message, _ = build_email(
            from_addr=entry.from_addr,
            from_name=smtp.from_name,
            to=[entry.to_addr],
            subject=str(item.meta.get("subject") or record.subject),
            text=item.body,
            in_reply_to=str(parent) if parent else None,
            references=[str(r) for r in item.meta.get("references", [])],
            domain=smtp.message_id_domain,
            date=item.created_at,
        )
        del message["Message-ID"]
        message["Message-ID"] = f"<{record.message_id}>"
        return message.as_bytes()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
