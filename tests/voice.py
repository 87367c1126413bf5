"""Helpers for phone tests: signed voice webhooks as Twilio sends them, and staff softphone sessions."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from tests.carrier import ACCOUNT_SID, AUTH_TOKEN
from tests.helpers import ORIGIN, browser, recv_frame, sign_in

ALWAYS_OPEN = {
    day: [{"opens": "00:00", "closes": "23:59:59"}]
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
API_KEY_SID = "SK" + "2" * 32
API_KEY_SECRET = "api-key-secret-0123456789-abcdefghijkl"
TWIML_APP_SID = "AP" + "3" * 32


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


async def hook(base: str, path: str, params: dict[str, str], *, token: str = AUTH_TOKEN) -> tuple[int, str]:
    """POST a voice webhook signed exactly as Twilio signs it; (status, body)."""
    url = base + path
    form = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", **params}
    signature = RequestValidator(token).compute_signature(url, form)
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=form, headers={"X-Twilio-Signature": signature}) as resp,
    ):
        return resp.status, await resp.text()


@dataclass
class Desk:
    """A signed-in staff member with the inbox open: socket subscribed, presence reported."""

    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse
    user_id: int
    csrf: str
    events: list[dict[str, Any]] = field(default_factory=list)

    async def api(self, method: str, url: str, body: Any = None) -> Any:
        headers = {"Origin": ORIGIN, "X-CSRF-Token": self.csrf}
        async with self.http.request(method, url, json=body, headers=headers) as resp:
            data = await resp.json() if resp.status != 204 else None
            assert resp.status < 300, (resp.status, data)
            return data

    async def event(self, check: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """The first event (seen before or arriving now) that passes `check`."""
        deadline = time.monotonic() + timeout
        for seen in self.events:
            if check(seen):
                return seen
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no such event; saw {[e.get('type') for e in self.events]}"
            frame = await recv_frame(self.ws, remaining)
            if frame.get("type") != "event":
                continue
            self.events.append(frame["event"])
            if check(frame["event"]):
                return frame["event"]

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


async def open_desk(base: str, email: str, *, on_duty: bool = True) -> Desk:
    http = browser()
    session = await sign_in(http, base, email)
    ws = await http.ws_connect(f"{base}/ws", headers={"Origin": ORIGIN})
    await ws.send_json({"id": 1, "type": "subscribe"})
    await recv_frame(ws)
    await ws.send_json({"id": 2, "type": "presence", "state": "online"})
    desk = Desk(http, ws, int(session["user_id"]), str(session["csrf_token"]))
    await desk.event(lambda e: e.get("type") == "presence.changed" and e.get("user_id") == desk.user_id)
    if on_duty:
        await desk.api("PUT", f"{base}/api/v1/phone/duty", {"on_duty": True})
    return desk


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
