"""Fetch MMS media from the carrier once, with the account's credentials, within size and type limits."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from comms import media
from comms.services import Services
from routing.waits import wait_set

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0


class MediaFetcher:
    """Background worker: pending media rows become files, or a recorded reason why not."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        twilio = self.services.settings.twilio
        # The carrier's media URLs need the account's credentials (sent only to that host: aiohttp drops
        # Authorization on a redirect to another origin, such as Twilio's storage).
        headers = {
            "Authorization": aiohttp.encode_basic_auth(twilio.account_sid or "", twilio.auth_token or "")
        }
        timeout = aiohttp.ClientTimeout(total=60, sock_connect=10)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            self._session = session
            while True:
                try:
                    pending = await media.due(self.services)
                    for row in pending:
                        await self.fetch(row)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("media fetch pass failed")
                    pending = []
                if not pending:
                    await wait_set(self._wake, POLL_SECONDS)
                    self._wake.clear()

    async def fetch(self, row: media.PendingMedia) -> None:
        """Stream the file, stopping at the size limit; only allowed types are kept."""
        assert self._session is not None
        limit = self.services.settings.twilio.max_media_bytes
        try:
            async with self._session.get(row.url) as resp:
                if resp.status >= 400:
                    retry = resp.status >= 500 or resp.status == 429
                    await media.record(
                        self.services,
                        row.id,
                        state="pending" if retry else "failed",
                        error=f"carrier answered {resp.status}",
                    )
                    return
                content_type = (resp.content_type or row.content_type).lower()
                if not media.allowed(content_type):
                    await media.record(
                        self.services,
                        row.id,
                        state="refused",
                        error=f"file type {content_type[:60]} is not accepted",
                    )
                    return
                if resp.content_length is not None and resp.content_length > limit:
                    await media.record(self.services, row.id, state="refused", error="file is too large")
                    return
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data.extend(chunk)
                    if len(data) > limit:
                        await media.record(self.services, row.id, state="refused", error="file is too large")
                        return
        except (aiohttp.ClientError, TimeoutError) as exc:
            await media.record(
                self.services, row.id, state="pending", error=f"fetch failed: {exc.__class__.__name__}"
            )
            return
        digest = await asyncio.to_thread(
            media.store_bytes, self.services.settings.storage.media_dir, bytes(data)
        )
        await media.record(
            self.services, row.id, state="stored", content_type=content_type, size=len(data), digest=digest
        )
