"""The missed-call text-back worker: decides each missed call's text (comms.missed_calls) and checks
the line type with the carrier's lookup first, so no text goes to a landline."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from comms import line_types, missed_calls
from comms.services import Services
from routing.waits import wait_set

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0
NOT_TEXTABLE = frozenset({"landline", "fixedVoip", "tollFree", "pager", "voicemail"})


class TextBack:
    """One per process; claims make it safe on several nodes."""

    def __init__(self, services: Services, client: Client, on_sent: Any = None) -> None:
        self.services = services
        self.client = client
        self.token = secrets.token_hex(8)
        self.on_sent = on_sent  # wakes the SMS sender
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                for call_id in await missed_calls.due(self.services):
                    await self.handle(call_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("text-back pass failed; retrying")
            await wait_set(self._wake, POLL_SECONDS)
            self._wake.clear()

    async def handle(self, call_id: int) -> str | None:
        """Decide one call's text-back; returns the outcome recorded (None when another node has it)."""
        claim = await missed_calls.claim(self.services, call_id, self.token)
        if claim is None:
            return None
        outcome = await missed_calls.precheck(self.services, claim)
        if outcome is None:
            kind = await self.line_type(claim.e164)
            if kind is None:
                outcome = "due"  # the lookup failed: try again on a later pass
            elif kind in NOT_TEXTABLE:
                outcome = f"skipped:{kind}"
            else:
                outcome = await missed_calls.send(self.services, claim)
        if outcome != "lost":
            await missed_calls.settle(self.services, claim, outcome)
        if outcome == "sent" and self.on_sent is not None:
            self.on_sent()
        return outcome

    async def line_type(self, e164: str) -> str | None:
        """mobile, landline, VoIP...: from the cache, else the carrier's Lookup (None when it fails)."""
        known = await line_types.cached(self.services, e164)
        if known is not None:
            return known
        try:
            found = await asyncio.wait_for(
                self.client.lookups.v2.phone_numbers(e164).fetch_async(fields="line_type_intelligence"),
                15,
            )
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("line type lookup failed (%s); will retry", exc.__class__.__name__)
            return None
        info: Any = found.line_type_intelligence or {}
        kind = str(info.get("type") or "unknown") if isinstance(info, dict) else "unknown"
        await line_types.remember(self.services, e164, kind)
        return kind
