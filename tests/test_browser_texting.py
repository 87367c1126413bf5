"""Texting in the staff UI: composer with segments, delivery ticks, STOP banner, MMS thumbnail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from comms.models import utcnow
from tests.browser import chromium, signed_in_page
from tests.carrier import start_pair
from tests.helpers import PASSWORD, new_conversation
from web.keys import SERVICES

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
        await page.wait_for_function(
            "() => { const i = document.querySelector('.timeline .thumb img');"
            " return i.complete && i.naturalWidth === 1; }",
            timeout=5000,
        )
        assert (
            await page.locator(".timeline .item.in .body").last.inner_text()
            == "https://evil.example <b>pic</b>"
        )

        await _text_in(pair.sandbox, "STOP")
        await page.get_by_test_id("opted-out").wait_for(state="visible", timeout=3000)
        assert await page.locator("select[name=channel] option[value=sms]").is_disabled()
        assert page.dialogs == []


CARRIER_WORDS = {
    "+12025550005": "This number does not exist or is no longer in service.",
    "+12025550006": "This is a landline or a number that cannot receive texts.",
    "+12025550007": "The carrier filtered this message as possible spam. Rephrase it, or call instead.",
}


async def test_failed_texts_say_why_in_words(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    pair = await start_pair(db_settings, aiohttp_server, tmp_path)
    p, services = pair.practice, pair.app[SERVICES]
    threads = {
        number: await new_conversation(services, p.practice_id, p.loc_a, f"Fay {number[-1]}", number)
        for number in CARRIER_WORDS  # the sandbox fails texts to these numbers (MAGIC_OUTCOMES)
    }
    async with chromium() as browser:
        page = await signed_in_page(browser, pair.base, p.staff_a, PASSWORD)
        for number, words in CARRIER_WORDS.items():
            await page.click(f'li[data-conversation="{threads[number]}"]')
            await page.locator(".thread-head h2", has_text=f"Fay {number[-1]}").wait_for(timeout=3000)
            await page.fill("textarea[name=body]", "Your crown is ready")
            await page.click("form.composer button[type=submit]")
            failed = page.locator('.item.out.failed[data-status="undelivered"]')
            await failed.wait_for(timeout=5000)
            assert await failed.locator(".item-error").inner_text() == f"Not delivered: {words}"
            assert "not delivered" in await failed.locator(".item-status").inner_text()
        assert page.errors == [] and page.dialogs == []


async def test_pictures_open_in_an_accessible_viewer(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    pair = await start_pair(db_settings, aiohttp_server, tmp_path)
    p = pair.practice
    picture = {"content_type": "image/png", "data_base64": PNG}
    await _text_in(pair.sandbox, "two of the rash", [picture, picture])
    await _text_in(pair.sandbox, "and one more", [picture])
    async with chromium() as browser:
        page = await signed_in_page(browser, pair.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        thumbs = page.get_by_role("link", name="View picture")
        await thumbs.nth(2).wait_for(timeout=5000)
        hrefs = [await thumbs.nth(i).get_attribute("href") for i in range(3)]
        assert all(h and h.startswith("/api/v1/media/") for h in hrefs) and len(set(hrefs)) == 3

        await thumbs.nth(0).click()
        viewer = page.get_by_role("dialog", name="Picture")
        await viewer.wait_for(timeout=2000)
        image = viewer.get_by_role("img", name="Picture from the patient")
        await page.wait_for_function(
            "() => { const i = document.querySelector('dialog img');"
            " return i.complete && i.naturalWidth === 1; }",
            timeout=3000,
        )
        assert await image.get_attribute("src") == hrefs[0]
        assert await viewer.get_by_text("Picture 1 of 3").is_visible()
        assert await viewer.get_by_role("button", name="Previous picture").is_disabled()
        assert await viewer.get_by_role("button", name="Close").evaluate("el => el.closest('dialog').open")

        await page.keyboard.press("ArrowRight")
        await viewer.get_by_text("Picture 2 of 3").wait_for(timeout=1000)
        await viewer.get_by_role("button", name="Next picture").click()
        await viewer.get_by_text("Picture 3 of 3").wait_for(timeout=1000)
        assert await image.get_attribute("src") == hrefs[2]
        assert await viewer.get_by_role("button", name="Next picture").is_disabled()
        await page.keyboard.press("ArrowLeft")
        await viewer.get_by_text("Picture 2 of 3").wait_for(timeout=1000)

        # Escape closes it and focus returns to the picture that opened it.
        await page.keyboard.press("Escape")
        await viewer.wait_for(state="detached", timeout=2000)
        assert await thumbs.nth(0).evaluate("el => el === document.activeElement")
        # The close button does too.
        await thumbs.nth(1).click()
        await viewer.get_by_text("Picture 2 of 3").wait_for(timeout=2000)
        await viewer.get_by_role("button", name="Close").click()
        await viewer.wait_for(state="detached", timeout=2000)
        assert page.errors == [] and page.dialogs == []


async def test_a_text_being_retried_says_so_live_and_the_note_clears_once_sent(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    """Twilio answers the first send 429: the item shows "retrying…" and why, then "sent" without it."""
    from sqlalchemy import update

    from comms.models import OutboxEntry
    from tests.test_texting_webhooks import _pair_with_busy_twilio
    from web.keys import SMS_SENDER

    carrier, answers = await _pair_with_busy_twilio(db_settings, aiohttp_server, tmp_path, busy=1)
    p = carrier.practice
    async with chromium() as browser:
        page = await signed_in_page(browser, carrier.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.locator(".thread-head h2", has_text="Pat Patient0").wait_for(timeout=5000)
        await page.fill("textarea[name=body]", "Your crown is ready")
        await page.click("form.composer button[type=submit]")
        sent = page.locator(".item.out", has_text="Your crown is ready")
        note = sent.get_by_test_id("item-retrying")
        await note.wait_for(timeout=10000)
        assert await note.inner_text() == "Retrying… Twilio is busy (too many requests)."
        assert await sent.locator(".item-status").inner_text() == " · retrying…"
        assert await sent.get_attribute("data-status") == "pending"
        # Time passes: the retry falls due now rather than after the real backoff.
        async with carrier.app[SERVICES].unit() as unit:
            await unit.session.execute(update(OutboxEntry).values(next_attempt_at=utcnow()))
        carrier.app[SMS_SENDER].wake()
        await page.locator('.item.out[data-status="delivered"]', has_text="Your crown is ready").wait_for(
            timeout=10000
        )
        assert await note.count() == 0
        assert "delivered" in await sent.locator(".item-status").inner_text()
        assert answers == ["429", "taken"]
        assert page.errors == [] and page.dialogs == []
