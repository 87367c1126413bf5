"""Send later: a scheduled text goes when it is due, through the carrier sandbox, and a restart loses none.

The first test runs the server in-process beside the sandbox (as tests/test_texting.py does); the second
schedules through a real `frontdesk serve` subprocess, stops it, lets the time pass while nothing runs,
and starts it again on the same database (the rig of tests/test_crash_safety.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import aiohttp

from comms.models import utcnow
from telephony.sandbox import SANDBOX_STORE
from telephony.sandbox.store import Message
from tests.carrier import start_pair
from tests.helpers import PASSWORD, browser, sign_in
from tests.test_crash_safety import Rig, rig  # noqa: F401  (the subprocess rig fixture)

PATIENT_A = "+12025550170"  # seeded patient at the North location (tests.helpers.seed_practice)


def _outbound(store: Any) -> list[Message]:
    return [m for m in store.messages.values() if m.direction == "outbound-api"]


async def _until(check: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _schedule(
    http: aiohttp.ClientSession, base: str, csrf: str, conv: int, body: str, at: dt.datetime
) -> int:
    async with http.post(
        f"{base}/api/v1/conversations/{conv}/messages",
        json={"body": body, "send_at": at.isoformat()},
        headers={"X-CSRF-Token": csrf},
    ) as resp:
        item = await resp.json()
        assert resp.status == 201, item
        assert item["status"] == "scheduled"
        return int(item["id"])


async def _status(http: aiohttp.ClientSession, base: str, conv: int, item_id: int) -> str:
    async with http.get(f"{base}/api/v1/conversations/{conv}/items") as resp:
        assert resp.status == 200
        return next(i["status"] for i in await resp.json() if i["id"] == item_id)


async def test_a_scheduled_text_goes_when_due_and_not_before(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path)
    store = carrier.sandbox_app[SANDBOX_STORE]
    p = carrier.practice
    async with browser() as north:
        session = await sign_in(north, carrier.base, p.staff_a)
        # On a whole second: the carrier's timestamps are whole seconds, like Twilio's RFC 2822 dates.
        due = (utcnow() + dt.timedelta(seconds=3.5)).replace(microsecond=0)
        item_id = await _schedule(
            north, carrier.base, session["csrf_token"], p.conv_a, "Bring your X-rays", due
        )
        later_id = await _schedule(
            north,
            carrier.base,
            session["csrf_token"],
            p.conv_a,
            "See you next year",
            due + dt.timedelta(hours=1),
        )
        while True:  # every look taken before it was due found the carrier with nothing
            seen, now = list(_outbound(store)), utcnow()
            if now >= due:
                break
            assert seen == []
            await asyncio.sleep(0.05)
        await _until(lambda: len(_outbound(store)) == 1, "the scheduled text at the carrier")
        [sent] = _outbound(store)
        assert sent.body == "Bring your X-rays" and sent.to == PATIENT_A
        assert sent.date_created >= due  # not a moment early
        assert sent.date_created < due + dt.timedelta(seconds=10)  # and promptly once due

        async def delivered() -> bool:
            return await _status(north, carrier.base, p.conv_a, item_id) == "delivered"

        deadline = time.monotonic() + 10
        while not await delivered():
            assert time.monotonic() < deadline, "the scheduled text never reached delivered"
            await asyncio.sleep(0.05)
        assert await _status(north, carrier.base, p.conv_a, later_id) == "scheduled"
    await asyncio.sleep(0.3)
    assert len(_outbound(store)) == 1  # sent once; the later one still waits


async def test_scheduled_texts_survive_a_restart_and_a_cancel_stays_canceled(rig: Rig) -> None:  # noqa: F811
    await rig.server.start()
    base = rig.server.base
    conv = rig.conversations[0]  # the North patient's conversation
    async with browser() as north:
        # No Origin header: this client is not a page of the server (its allowed origin is its own URL).
        async with north.post(
            f"{base}/api/v1/session", json={"email": "north@test.example", "password": PASSWORD}
        ) as resp:
            assert resp.status == 201
            csrf = (await resp.json())["csrf_token"]
        due = utcnow() + dt.timedelta(seconds=5)  # leaves time to stop the server before it
        kept = await _schedule(north, base, csrf, conv, "Your crown is ready", due)
        canceled = await _schedule(north, base, csrf, conv, "Ignore: canceled", due)
        far = await _schedule(north, base, csrf, conv, "Check-up next spring", due + dt.timedelta(days=90))
        async with north.post(
            f"{base}/api/v1/items/{canceled}/cancel", headers={"X-CSRF-Token": csrf}
        ) as resp:
            assert resp.status == 200
    assert utcnow() < due
    rig.server.stop()  # before anything is due

    # The time comes and goes while no server runs: nothing can send it.
    while utcnow() < due + dt.timedelta(seconds=1):
        await asyncio.sleep(0.1)
    assert rig.carried() == []

    await rig.server.start()
    await _until(lambda: len(rig.carried()) >= 1, "the scheduled text after the restart", timeout=30)
    await asyncio.sleep(1.0)  # time for a wrong second send, or the canceled one, to show up
    assert [m.body for m in rig.carried()] == ["Your crown is ready"]
    assert rig.carried()[0].date_created >= due
    items = await rig.items([kept, canceled, far])
    assert items[kept].carrier_sid == rig.carried()[0].sid
    assert items[canceled].status == "canceled"
    assert items[far].status == "scheduled"
