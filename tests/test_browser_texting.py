"""Texting in the staff UI: composer with segments, delivery ticks, STOP banner, MMS thumbnail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.browser import chromium, signed_in_page
from tests.carrier import start_pair
from tests.helpers import PASSWORD

PATIENT_A, NORTH_NUMBER = "+12025550170", "+12025550143"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


async def _text_in(sandbox: str, body: str, media: list[dict[str, str]] | None = None) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox}/sandbox/inbound",
            json={"from": PATIENT_A, "to": NORTH_NUMBER, "body": body, "media": media or []},
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def test_text_from_composer_stop_banner_and_picture(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    pair = await start_pair(db_settings, aiohttp_server, tmp_path)
    p = pair.practice
    async with chromium() as browser:
        page = await signed_in_page(browser, pair.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        try:
            await page.wait_for_selector("textarea[name=body]", timeout=5000)
        finally:
            assert page.errors == []
        assert await page.get_by_label("Channel", exact=True).input_value() == "sms"
        await page.fill("textarea[name=body]", "See you Friday 😀")
        await page.get_by_test_id("segments").filter(has_text="1 segment (UCS-2)").wait_for(timeout=1000)
        await page.click("form.composer button[type=submit]")
        await page.locator('.item.out[data-status="delivered"] .body', has_text="See you Friday").wait_for(
            timeout=5000
        )
        assert "✓✓ delivered" in await page.locator('.item.out[data-status="delivered"]').inner_text()

        await _text_in(
            pair.sandbox,
            "https://evil.example <b>pic</b>",
            [{"content_type": "image/png", "data_base64": PNG}],
        )
        thumb = page.locator(".timeline .thumb img")
        await thumb.wait_for(timeout=5000)
        assert await thumb.evaluate("img => img.complete && img.naturalWidth === 1")
        assert (
            await page.locator(".timeline .item.in .body").last.inner_text()
            == "https://evil.example <b>pic</b>"
        )

        await _text_in(pair.sandbox, "STOP")
        await page.get_by_test_id("opted-out").wait_for(state="visible", timeout=3000)
        assert await page.locator("select[name=channel] option[value=sms]").is_disabled()
        assert page.dialogs == []
