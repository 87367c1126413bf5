"""The staff UI in Chromium: two staff see each other's moves live; a cut socket catches up; scope holds."""

from __future__ import annotations

from typing import Any

from tests.browser import chromium, signed_in_page
from tests.helpers import PASSWORD

LIVE_MS = 1000  # "appear for the other without reload within a second"


async def test_note_and_assignment_appear_live_and_missed_updates_catch_up(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        admin = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        north = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        south = await signed_in_page(browser, server.base, p.staff_b, PASSWORD)
        conv = f'li[data-conversation="{p.conv_a}"]'
        for page in (admin, north):
            await page.click(conv)
            await page.wait_for_selector("textarea[name=body]")
            await page.get_by_label("Channel", exact=True).select_option("note")

        # Each sees that the other has the same thread open (so they do not both answer).
        await (
            north.get_by_test_id("thread-presence")
            .filter(has_text="Ada Admin is viewing")
            .wait_for(timeout=3000)
        )
        await admin.get_by_test_id("thread-presence").filter(has_text="Nora North").wait_for(timeout=3000)

        await admin.fill("textarea[name=body]", "Patient asked for a call back")
        await admin.click("form.composer button[type=submit]")
        await north.locator(
            ".timeline .item.kind-note .body", has_text="Patient asked for a call back"
        ).wait_for(timeout=LIVE_MS)

        await admin.get_by_label("Assign to").select_option(label="Nora North")
        await north.locator(conv + " .assignee", has_text="Nora North").wait_for(timeout=LIVE_MS)
        await north.locator(".timeline .item.kind-activity", has_text="Assigned to Nora North").wait_for(
            timeout=LIVE_MS
        )

        # Cut north's socket and hold the reconnect back while admin keeps working.
        await north.evaluate("() => { frontdesk.live.retry = 60000; frontdesk.live.ws.close(); }")
        await north.get_by_test_id("connection").filter(has_text="reconnecting").wait_for(timeout=LIVE_MS)
        for text in ("first while away", "second while away"):
            await admin.fill("textarea[name=body]", text)
            await admin.click("form.composer button[type=submit]")
            await admin.locator(".timeline .body", has_text=text).wait_for(timeout=LIVE_MS)
        await north.evaluate("() => frontdesk.live.reconnectNow()")
        await (
            north.get_by_test_id("connection")
            .filter(has_text="back, 2 missed updates applied")
            .wait_for(timeout=3000)
        )
        await north.locator(".timeline .body", has_text="second while away").wait_for(timeout=LIVE_MS)
        bodies = await north.locator(".timeline .item.kind-note .body").all_text_contents()
        assert bodies[-2:] == ["first while away", "second while away"]

        # South works at the other location: none of this reached it.
        assert await south.locator(conv).count() == 0
        assert "while away" not in await south.content()
        assert north.dialogs == [] and south.dialogs == []
