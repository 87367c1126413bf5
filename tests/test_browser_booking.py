"""Booking in the browser: the thread's Book dialog shows the location's open times, books one, and
the appointment item appears live (for a colleague too); a time taken meanwhile is refused in words;
the side panel lists the upcoming appointment and moves it through its lifecycle."""

from __future__ import annotations

from typing import Any

from tests.browser import chromium, post_json, signed_in_page
from tests.helpers import PASSWORD
from tests.schedule_helpers import at, next_weekday, seed_calendar
from web.keys import SERVICES


async def test_book_from_the_thread_and_see_it_live(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    cal = await seed_calendar(server.app[SERVICES], p)
    monday = next_weekday(0)
    async with chromium() as browser:
        colleague = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await colleague.click(f'li[data-conversation="{p.conv_a}"]')
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.get_by_role("button", name="Patient details").click()
        panel = page.get_by_test_id("upcoming-appointments")
        await panel.get_by_text("None booked.").wait_for(timeout=5000)

        await page.get_by_test_id("book-appointment").click()
        dialog = page.get_by_test_id("booking-dialog")
        await dialog.get_by_label("Provider").select_option(label="Dr Rivera")
        await dialog.get_by_label("Day").fill(str(monday))
        slots = dialog.get_by_test_id("slots")
        await slots.get_by_role("button", name="9:00 AM with Dr Rivera").wait_for(timeout=5000)
        assert await slots.get_by_role("button").count() == 31  # 9:00 to 16:30, every quarter hour

        # A colleague takes 9:00 meanwhile: the click is refused in words and the times are fresh.
        status, _ = await post_json(
            colleague,
            f"/api/v1/conversations/{p.conv_a}/appointments",
            {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 9)},
        )
        assert status == 201
        await slots.get_by_role("button", name="9:00 AM with Dr Rivera").click()
        await (
            dialog.get_by_role("alert")
            .filter(has_text="that time is already booked for this provider")
            .wait_for(timeout=5000)
        )
        await slots.get_by_role("button", name="10:00 AM with Dr Rivera").wait_for(timeout=5000)
        assert await slots.get_by_role("button", name="9:00 AM with Dr Rivera").count() == 0

        await slots.get_by_role("button", name="10:00 AM with Dr Rivera").click()
        await dialog.wait_for(state="detached", timeout=5000)
        # The dialog adds nothing itself: the item comes over the live connection, to both pages.
        for viewer in (page, colleague):
            item = viewer.locator(
                ".timeline .item.kind-appointment", has_text="Booked: Cleaning with Dr Rivera"
            )
            await item.filter(has_text="10:00 AM").wait_for(timeout=5000)
        await panel.locator("li", has_text="10:00 AM").wait_for(timeout=5000)
        assert await panel.locator("li[data-appointment]").count() == 2  # 9:00 (the colleague's) and 10:00

        ten = panel.locator("li", has_text="10:00 AM")
        await ten.get_by_role("button", name="Confirm").click()
        await page.locator(".timeline .item.kind-appointment", has_text="Confirmed: Cleaning").wait_for(
            timeout=5000
        )
        await panel.locator('li[data-status="confirmed"]', has_text="10:00 AM").wait_for(timeout=5000)
        await panel.locator("li", has_text="9:00 AM").get_by_role("button", name="Cancel").click()
        await colleague.locator(".timeline .item.kind-appointment", has_text="Cancelled: Cleaning").wait_for(
            timeout=5000
        )
        await panel.locator("li[data-appointment]").nth(1).wait_for(state="detached", timeout=5000)

        # Rescheduling from the panel opens the dialog on the visit's day; it needs confirming again.
        await panel.locator("li", has_text="10:00 AM").get_by_role("button", name="Reschedule").click()
        dialog = page.get_by_test_id("booking-dialog")
        assert await dialog.get_by_label("Day").input_value() == str(monday)
        await (
            dialog.get_by_test_id("slots")
            .get_by_role("button", name="2:00 PM with Dr Rivera", exact=True)
            .click()
        )
        await dialog.wait_for(state="detached", timeout=5000)
        moved = page.locator(
            ".timeline .item.kind-appointment", has_text="Rescheduled: Cleaning with Dr Rivera"
        )
        await moved.filter(has_text="2:00 PM").wait_for(timeout=5000)
        await panel.locator('li[data-status="scheduled"]', has_text="2:00 PM").wait_for(timeout=5000)
        assert page.errors == [] and colleague.errors == []
        assert page.dialogs == [] and colleague.dialogs == []
