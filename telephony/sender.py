"""The SMS sender: drains the durable outbox to Twilio, inside each number's rate, never twice.

A send whose outcome is unknown (timeout, dropped connection, a crash) keeps its row in `sending`;
when the lease runs out, the row is reconciled against Twilio's own list of messages before any resend.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from comms import carrier_errors, outbox
from comms.models import utcnow
from comms.outbox import Claimed
from comms.services import Services
from routing.waits import wait_set

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 1.0
# A rate slot further away than this is handed back rather than waited for while holding the lease.
MAX_WAIT_SECONDS = 2.0


class SmsSender:
    """One per process; several processes share the outbox safely through row claims."""

    def __init__(self, services: Services, client: Client) -> None:
        self.services = services
        self.client = client
        self.token = secrets.token_hex(8)
        self._wake = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        """A message was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMS sender pass failed; retrying")
                worked = False
            if not worked:
                await wait_set(self._wake, IDLE_POLL_SECONDS)
                self._wake.clear()

    async def run_once(self) -> bool:
        """Claim what is due and deliver it; True when there was work."""
        cfg = self.services.settings.twilio
        claimed = await outbox.claim_due(
            self.services, "sms", self.token, cfg.send_lease_seconds, mark_sending=False
        )
        for entry in claimed:
            await self._deliver(entry)
        return bool(claimed)

    async def _deliver(self, entry: Claimed) -> None:
        cfg = self.services.settings.twilio
        if entry.uncertain:
            if await self._reconcile(entry):
                return  # it reached Twilio (now recorded), or we cannot tell yet (still uncertain)
            if entry.attempts >= cfg.max_send_attempts:
                await self._fail(entry, None, f"Twilio did not take this text after {entry.attempts} tries")
                return
        slot = entry.reserved_slot
        if slot is None:
            rate = cfg.number_rates.get(entry.from_addr, cfg.segments_per_second)
            slot = await outbox.reserve_slot(self.services, entry.from_addr, entry.segments, rate)
        wait = (slot - utcnow()).total_seconds()
        if wait > MAX_WAIT_SECONDS:
            # Not ours to wait for while holding the lease: hand the row back, keeping its slot.
            await outbox.release(self.services, entry, self.token, slot)
            return
        if wait > 0:
            # Hold the row for the whole wait: a lease shorter than the wait would lapse mid-sleep, the row
            # would be taken for reconciling, and the number's texts would leave out of order.
            if not await outbox.still_mine(
                self.services, entry.item_id, self.token, wait + cfg.send_lease_seconds
            ):
                return
            await asyncio.sleep(wait)
        if not await outbox.still_mine(
            self.services, entry.item_id, self.token, cfg.send_lease_seconds, new_attempt=entry.uncertain
        ):
            return  # our lease ran out while we waited (another node holds it), or the patient opted out
        await self._send(entry)

    async def _send(self, entry: Claimed) -> None:
        cfg = self.services.settings.twilio
        callback = f"{self.services.settings.server.public_base_url}/twilio/sms/status?item={entry.item_id}"
        try:
            # Never wait on Twilio forever: a hung answer becomes "uncertain" and is reconciled later.
            message = await asyncio.wait_for(
                self.client.messages.create_async(
                    to=entry.to_addr, from_=entry.from_addr, body=entry.body, status_callback=callback
                ),
                cfg.send_lease_seconds,  # past the lease the outcome is unknown anyway: reconcile it
            )
        except TwilioRestException as exc:
            if exc.status >= 500:
                # A 5xx may come after Twilio accepted the message: reconcile before any resend.
                attempts = entry.attempts + (1 if entry.uncertain else 0)
                delay = carrier_errors.backoff_seconds(attempts)
                await outbox.defer_uncertain(
                    self.services,
                    entry.item_id,
                    self.token,
                    utcnow() + dt.timedelta(seconds=delay),
                    f"Twilio answered {exc.status}; checking whether it took the text",
                )
                return
            code = str(exc.code) if exc.code else None
            if exc.status == 429:
                await self._fail(entry, code, "Twilio is busy (too many requests); trying again", retry=True)
                return
            retry = carrier_errors.retryable(code)
            await self._fail(entry, code, f"Twilio refused: {exc.msg}", retry=retry)
            return
        except aiohttp.ClientConnectorError as exc:
            # Never connected: certainly not sent, safe to retry.
            log.warning("SMS item %s: cannot connect to Twilio (%s)", entry.item_id, exc.__class__.__name__)
            await self._fail(entry, None, "could not connect to Twilio", retry=True)  # staff read these words
            return
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Maybe sent: leave the lease to run out, then reconcile against Twilio before resending.
            log.warning(
                "SMS item %s: outcome unknown (%s); will reconcile", entry.item_id, exc.__class__.__name__
            )
            return
        self.sent += 1
        await outbox.record_sent(self.services, entry.item_id, self.token, message.sid, str(message.status))

    async def _fail(self, entry: Claimed, code: str | None, message: str, *, retry: bool = False) -> None:
        await outbox.record_failure(
            self.services,
            entry.item_id,
            self.token,
            code,
            message,
            retry=retry,
            max_attempts=self.services.settings.twilio.max_send_attempts,
        )

    async def _reconcile(self, entry: Claimed) -> bool:
        """Did an earlier attempt reach Twilio? True when found and recorded, or when we cannot tell yet.

        False only when Twilio's own list shows it never arrived: then, and only then, it may go again.
        """
        lease = self.services.settings.twilio.send_lease_seconds
        if entry.carrier_sid is not None:
            # A status callback already named the carrier's message: it reached Twilio.
            await outbox.record_sent(self.services, entry.item_id, self.token, entry.carrier_sid, "queued")
            return True
        try:
            recent: list[Any] = await asyncio.wait_for(
                self.client.messages.list_async(to=entry.to_addr, from_=entry.from_addr, limit=50), lease
            )
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            # TwilioException: a failed page of the list is not a TwilioRestException.
            log.warning("SMS item %s: cannot reconcile yet (%s)", entry.item_id, exc.__class__.__name__)
            # Still uncertain: it stays `sending` and is looked up again after another lease.
            await outbox.defer_uncertain(
                self.services,
                entry.item_id,
                self.token,
                utcnow() + dt.timedelta(seconds=lease),
                "checking with Twilio whether this text was sent",
            )
            return True
        since = entry.attempt_started_at - dt.timedelta(minutes=2)
        taken = await outbox.sids_in_use(self.services, [m.sid for m in recent], entry.item_id)
        taken.update(entry.earlier_sids)  # this item's own failed attempts are not this attempt
        for message in sorted(recent, key=lambda m: m.date_created or since):
            created = message.date_created
            if message.sid in taken:
                continue  # the same words sent for another of our items, or an earlier failed try
            if message.body == entry.body and (created is None or created >= since):
                await outbox.record_sent(
                    self.services, entry.item_id, self.token, message.sid, str(message.status)
                )
                return True
        return False
