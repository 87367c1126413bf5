"""Review requests: a text with a short tracked link, clicks counted live on the thread's card, the same
destination for everyone, at most one per patient per period (whoever asks), admins set the page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from comms import reviews
from comms.models import OptOut, TimelineItem
from comms.review_models import ReviewClick, ReviewRequest
from tests.helpers import ORIGIN, new_conversation
from tests.payments_rig import PayRig, start_payments
from tests.voice import Desk, open_desk
from web.keys import SERVICES

REVIEW_PAGE = "https://reviews.example/north-dental"


@pytest.fixture
async def rig(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[PayRig]:
    yield await start_payments(db_settings, aiohttp_server, tmp_path)


async def _site(rig: PayRig, url: str = REVIEW_PAGE) -> None:
    admin = await open_desk(rig.base, rig.carrier.practice.admin, on_duty=False)
    try:
        await admin.api(
            "PUT", f"{rig.base}/api/v1/locations/{rig.carrier.practice.loc_a}/review-site", {"url": url}
        )
    finally:
        await admin.close()


async def _ask(desk: Desk, rig: PayRig, conversation_id: int) -> tuple[int, Any]:
    headers = {"Origin": ORIGIN, "X-CSRF-Token": desk.csrf}
    url = f"{rig.base}/api/v1/conversations/{conversation_id}/review-requests"
    async with desk.http.post(url, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_review_text_link_redirects_counts_clicks_live(rig: PayRig) -> None:
    p = rig.carrier.practice
    await _site(rig)
    desk = await open_desk(rig.base, p.staff_a, on_duty=False)
    try:
        status, out = await _ask(desk, rig, p.conv_a)
        assert status == 201 and out["clicks"] == 0 and out["source"] == "staff"
        async with rig.app[SERVICES].read() as s:
            token = await s.scalar(select(ReviewRequest.token))
            text = await s.scalar(select(TimelineItem.body).where(TimelineItem.kind == "sms"))
        assert (
            text
            == f"North: thank you for visiting us! Would you tell others how it went? {rig.base}/r/{token}"
        )
        assert token is not None and len(f"{rig.base}/r/{token}") - len(rig.base) < 16  # short
        async with aiohttp.ClientSession() as http:
            for _ in range(2):
                async with http.get(f"{rig.base}/r/{token}", allow_redirects=False) as resp:
                    assert resp.status == 302 and resp.headers["Location"] == REVIEW_PAGE
            async with http.get(f"{rig.base}/r/notatoken1", allow_redirects=False) as resp:
                assert resp.status == 404
        clicked = await desk.event(
            lambda e: (
                e["type"] == "timeline.item_updated"
                and e["item"]["kind"] == "review"
                and e["item"]["meta"]["clicks"] == 2
            )
        )
        assert clicked["item"]["status"] == "clicked"
        async with rig.app[SERVICES].read() as s:
            assert await s.scalar(select(func.count()).select_from(ReviewClick)) == 2
    finally:
        await desk.close()


async def test_one_request_per_patient_per_period_even_when_two_staff_ask_at_once(rig: PayRig) -> None:
    p = rig.carrier.practice
    await _site(rig)
    north = await open_desk(rig.base, p.staff_a, on_duty=False)
    admin = await open_desk(rig.base, p.admin, on_duty=False)
    try:
        results = await asyncio.gather(_ask(north, rig, p.conv_a), _ask(admin, rig, p.conv_a))
        assert sorted(status for status, _ in results) == [201, 409]
        refused = next(body for status, body in results if status == 409)
        assert "at most once every 180 days" in refused["error"]["message"]
        other = await new_conversation(
            rig.app[SERVICES], p.practice_id, p.loc_a, "Rae Reviewer", "+12025550199"
        )
        assert (await _ask(north, rig, other))[0] == 201  # another patient is asked as usual
        assert await reviews.request_review_after_visit(rig.app[SERVICES], p.conv_a) is None
        async with rig.app[SERVICES].read() as s:
            assert await s.scalar(select(func.count()).select_from(ReviewRequest)) == 2
    finally:
        await north.close()
        await admin.close()


async def test_no_page_no_request_stop_refuses_and_only_admins_set_the_page(rig: PayRig) -> None:
    p = rig.carrier.practice
    north = await open_desk(rig.base, p.staff_a, on_duty=False)
    south = await open_desk(rig.base, p.staff_b, on_duty=False)
    try:
        status, body = await _ask(north, rig, p.conv_a)
        assert status == 409 and "no review page" in body["error"]["message"]
        headers = {"Origin": ORIGIN, "X-CSRF-Token": north.csrf}
        url = f"{rig.base}/api/v1/locations/{p.loc_a}/review-site"
        async with north.http.put(url, json={"url": REVIEW_PAGE}, headers=headers) as resp:
            assert resp.status == 403
        async with north.http.put(url, json={"url": "javascript:alert(1)"}, headers=headers) as resp:
            assert resp.status == 422
        await _site(rig)
        assert (await north.api("GET", url))["url"] == REVIEW_PAGE
        assert (await _ask(south, rig, p.conv_a))[0] == 404  # not South's patient thread
        async with rig.app[SERVICES].unit() as unit:
            unit.session.add(OptOut(practice_id=p.practice_id, e164="+12025550170", source="keyword"))
        status, body = await _ask(north, rig, p.conv_a)
        assert status == 409 and "STOP" in body["error"]["message"]
        async with rig.app[SERVICES].read() as s:
            assert await s.scalar(select(func.count()).select_from(ReviewRequest)) == 0
            assert (
                await s.scalar(
                    select(func.count()).select_from(TimelineItem).where(TimelineItem.kind == "review")
                )
                == 0
            )
    finally:
        await north.close()
        await south.close()


def test_everyone_gets_the_same_link_text_no_gating() -> None:
    text = reviews.review_text("North", "https://fd.example/r/abc")
    assert not re.search(r"(?i)\b(rate|stars?|happy|unhappy|1-5|how many)\b", text)
