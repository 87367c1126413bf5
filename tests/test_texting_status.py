"""Status callbacks in every order, repeated, through the real signed webhook: each ends where it should."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from comms.carrier_errors import ERRORS
from comms.models import Conversation, TimelineItem
from tests.carrier import ACCOUNT_SID, start_pair
from tests.sms_helpers import new_sid, post_signed
from web.keys import SERVICES

# What the carrier reports over one message's life, in its true order, and where each life ends.
LIVES: dict[str, tuple[list[str], str, str | None]] = {
    "delivered": (["queued", "sending", "sent", "delivered"], "delivered", None),
    "read": (["queued", "sending", "sent", "delivered", "read"], "read", None),
    "undelivered": (["queued", "sending", "sent", "undelivered"], "undelivered", "30005"),
    "failed": (["queued", "sending", "failed"], "failed", "30006"),
}


def _orders(steps: list[str]) -> list[tuple[str, ...]]:
    """Every permutation, each with one callback repeated (a different one each time, at once or
    later), plus every callback twice in the permuted order."""
    orders: list[tuple[str, ...]] = []
    for n, order in enumerate(itertools.permutations(steps)):
        repeat = n % len(order)
        again = n % 2 == 0
        where = repeat + 1 if again else len(order)
        orders.append((*order[:where], order[repeat], *order[where:]))
    orders.append(tuple(steps) * 2)
    orders.append(tuple(reversed(steps)) * 2)
    return orders


async def test_every_order_of_every_life_ends_in_its_final_state(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path)
    services = carrier.app[SERVICES]
    plans: list[tuple[int, str, tuple[str, ...], str, str | None, bool]] = []
    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, carrier.practice.conv_b)
        assert conversation is not None
        for life, (steps, final, code) in LIVES.items():
            for n, order in enumerate(_orders(steps)):
                sid = new_sid()
                # Half know their carrier id already; the rest learn it from the callback's ?item=.
                known = n % 2 == 0
                row = TimelineItem(
                    conversation_id=conversation.id,
                    kind="sms",
                    direction="out",
                    body=f"{life} {n}",
                    status="queued" if known else "sending",
                    carrier_sid=sid if known else None,
                    meta={"to": "+12025550171"},
                )
                unit.session.add(row)
                await unit.session.flush()
                plans.append((row.id, sid, order, final, code, known))
    assert len(plans) == (24 + 2) + (120 + 2) + (24 + 2) + (6 + 2)
    url = f"{carrier.base}/twilio/sms/status"
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as http:

        async def play(item_id: int, sid: str, order: tuple[str, ...], code: str | None, known: bool) -> None:
            target = url if known else f"{url}?item={item_id}"
            async with gate:
                for status in order:
                    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID}
                    if code and status in ("failed", "undelivered"):
                        params["ErrorCode"] = code
                    answer, _ = await post_signed(http, target, params)
                    assert answer == 204

        await asyncio.gather(*(play(i, sid, order, code, known) for i, sid, order, _, code, known in plans))
    async with services.read() as s:
        ids = [plan[0] for plan in plans]
        rows = {row.id: row for row in await s.scalars(select(TimelineItem).where(TimelineItem.id.in_(ids)))}
    wrong = [
        (order, rows[item_id].status, final)
        for item_id, _, order, final, _, _ in plans
        if rows[item_id].status != final
    ]
    assert not wrong, f"{len(wrong)} ended wrong, e.g. {wrong[:3]}"
    for item_id, sid, _, _, code, _ in plans:
        row = rows[item_id]
        assert row.carrier_sid == sid
        assert row.error_code == code
        if code:
            assert row.meta["error"] == ERRORS[code].words
