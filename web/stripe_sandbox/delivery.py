"""Sending events to the webhook endpoint as Stripe does: JSON body, signed header, retried on failure."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from web.stripe_sandbox.signing import header

log = logging.getLogger(__name__)


class Deliveries:
    """One queue, delivered in order by one task; every attempt is kept for tests to read."""

    def __init__(self, endpoint: str | None, secret: str, retries: int = 3, retry_delay: float = 0.2) -> None:
        self.endpoint = endpoint
        self.secret = secret
        self.retries = retries
        self.retry_delay = retry_delay
        self.attempts: list[tuple[str, int]] = []  # (event id, HTTP status or 0 for no answer)
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    def send(self, event: dict[str, Any]) -> None:
        if self.endpoint is None:
            return
        self._idle.clear()
        self._queue.put_nowait(event)

    async def drained(self) -> None:
        """Every queued event has been delivered (or given up on)."""
        await self._idle.wait()

    async def post(self, event: dict[str, Any]) -> int:
        """One delivery attempt now, signed now; the endpoint's HTTP status (0: it did not answer)."""
        assert self._http is not None and self.endpoint is not None
        payload = json.dumps(
            event, indent=2
        )  # Stripe sends pretty-printed JSON; the bytes are what is signed
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": header(payload, self.secret),
        }
        try:
            async with self._http.post(self.endpoint, data=payload.encode(), headers=headers) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.attempts.append((str(event["id"]), status))
        return status

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._task = asyncio.create_task(self._run(), name="stripe-sandbox-webhooks")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            for attempt in range(self.retries + 1):
                status = await self.post(event)
                if 200 <= status < 300:
                    break
                if attempt < self.retries:
                    await asyncio.sleep(self.retry_delay * 2**attempt)
            else:
                log.warning("stripe sandbox: gave up delivering %s", event["id"])
            if self._queue.empty():
                self._idle.set()
