"""Calendar set-up in the browser (admins): add an appointment type, a provider with a working week,
a reminder with a preview of its text, and a provider's calendar-feed link; staff do not see it."""

from __future__ import annotations

from typing import Any

from tests.browser import admin_menu, chromium, open_admin_tool, signed_in_page
from tests.helpers import PASSWORD


async def _get(page: Any, path: str) -> Any:
    return await page.evaluate(f"() => fetch('{path}').then(r => r.json())")


async def test_admin_sets_up_the_calendar(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        staff = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        assert await admin_menu(staff).count() == 0
        assert await staff.locator("button.calendar-setup").count() == 0
        page = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await open_admin_tool(page, "Calendar set-up")
        dialog = page.get_by_test_id("calendar-setup")
        await dialog.get_by_test_id("setup-types").get_by_text("None yet.").wait_for(timeout=5000)

        types = dialog.get_by_role("form", name="Add an appointment type")
        await types.get_by_label("Type name").fill("Whitening")
        await types.get_by_label("Minutes", exact=True).fill("60")
        await types.get_by_label("Buffer minutes").fill("15")
        await types.get_by_label("Patients may book it online").check()
        await types.get_by_role("button", name="Add type").click()
        await (
            dialog.get_by_test_id("setup-types")
            .get_by_text("Whitening · 60 min + 15 min buffer · online")
            .wait_for(timeout=5000)
        )

        providers = dialog.get_by_role("form", name="Add a provider")
        await providers.get_by_label("Provider name").fill("Dr New")
        await providers.get_by_label("North").check()
        await providers.get_by_label("Fri").uncheck()
        await providers.get_by_label("From").fill("08:30")
        await providers.get_by_label("Until").fill("12:00")
        await providers.get_by_role("button", name="Add provider").click()
        row = dialog.get_by_test_id("setup-providers").locator("li", has_text="Dr New · North")
        await row.wait_for(timeout=5000)
        [provider] = await _get(page, f"/api/v1/locations/{p.loc_a}/providers")
        hours = (await _get(page, f"/api/v1/providers/{provider['id']}/hours"))["hours"]
        assert [h["weekday"] for h in hours] == ["mon", "tue", "wed", "thu"]
        assert {(h["starts"], h["ends"], h["location_id"]) for h in hours} == {
            ("08:30:00", "12:00:00", p.loc_a)
        }

        await row.get_by_role("button", name="New calendar link").click()
        link = dialog.get_by_label("Calendar feed for Dr New")
        await link.wait_for(timeout=5000)
        assert "/api/v1/feeds/provider.ics?token=" in await link.input_value()

        reminders = dialog.get_by_role("form", name="Add a reminder")
        await reminders.get_by_role("button", name="Preview").click()
        preview = dialog.get_by_test_id("reminder-preview")
        await preview.filter(has_text="Hi Pat, a reminder of your Cleaning with Dr Example on ").wait_for(
            timeout=5000
        )
        assert (
            "(1 text segment" in await preview.inner_text() or "text segments)" in await preview.inner_text()
        )
        await reminders.get_by_label("Message").fill("Hi {name}")
        await reminders.get_by_role("button", name="Add reminder").click()
        await dialog.get_by_role("alert").filter(has_text="unknown placeholder {name}").wait_for(timeout=5000)
        await reminders.get_by_label("Message").fill("See you {date} at {time}, {first_name}!")
        await reminders.get_by_label("How long before").fill("2")
        await reminders.get_by_label("Unit").select_option(label="hours")
        await reminders.get_by_role("button", name="Add reminder").click()
        await (
            dialog.get_by_test_id("setup-reminders")
            .get_by_text("2 hours before by text")
            .wait_for(timeout=5000)
        )
        rules = await _get(page, "/api/v1/reminder-rules")
        assert [(r["minutes_before"], r["quiet_from"], r["quiet_until"]) for r in rules] == [
            (120, "20:00:00", "08:00:00")
        ]
        assert page.errors == [] and page.dialogs == []
