"""Calendar set-up in the browser (admins): add an appointment type, a provider with a working week,
a reminder with a preview of its text, and a provider's calendar-feed link; staff do not see it. Time
off per provider and holidays per location: listed, added (with validation), removed, slots following."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from tests.browser import admin_menu, chromium, open_admin_tool, signed_in_page
from tests.helpers import PASSWORD
from tests.schedule_helpers import next_weekday, seed_calendar
from web.keys import SERVICES

NY = ZoneInfo("America/New_York")


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


async def _slots(page: Any, location_id: int, type_id: int, day: dt.date, provider_id: int) -> list[str]:
    query = f"type_id={type_id}&provider_id={provider_id}&date_from={day}&date_to={day}"
    return [
        s["local_start"][11:16] for s in await _get(page, f"/api/v1/locations/{location_id}/slots?{query}")
    ]


async def test_admin_sets_time_off_and_holidays(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    cal = await seed_calendar(server.app[SERVICES], p)
    monday, tuesday = next_weekday(0), next_weekday(1)
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await open_admin_tool(page, "Calendar set-up")
        dialog = page.get_by_test_id("calendar-setup")
        assert "09:00" in await _slots(page, p.loc_a, cal.type_id, monday, cal.provider_id)

        # Time off for Dr Rivera, on North's wall clock: wrong entries are explained, not sent.
        await dialog.get_by_role("button", name="Time off for Dr Rivera").click()
        away = dialog.get_by_role("group", name="Time off for Dr Rivera")
        await away.get_by_text("No time off coming up.").wait_for(timeout=5000)
        await away.get_by_role("button", name="Add time off").click()
        await (
            away.get_by_role("alert")
            .filter(has_text="Choose when the time off starts")
            .wait_for(timeout=3000)
        )
        await away.get_by_label("Away from").fill(f"{monday}T12:00")
        await away.get_by_label("Back at").fill(f"{monday}T09:00")
        await away.get_by_role("button", name="Add time off").click()
        await away.get_by_role("alert").filter(has_text="must end after it starts").wait_for(timeout=3000)
        await away.get_by_label("Away from").fill(f"{monday}T09:00")
        await away.get_by_label("Back at").fill(f"{monday}T12:00")
        await away.get_by_label("Reason").fill("Conference")
        await away.get_by_role("button", name="Add time off").click()
        row = away.get_by_test_id("time-off-list").locator("li", has_text="Conference")
        await row.wait_for(timeout=5000)
        assert await away.get_by_role("alert").inner_text() == ""
        [entry] = await _get(page, f"/api/v1/providers/{cal.provider_id}/time-off")
        starts = dt.datetime.fromisoformat(entry["starts_at"].replace("Z", "+00:00"))
        assert starts == dt.datetime.combine(monday, dt.time(9), tzinfo=NY)
        morning = await _slots(page, p.loc_a, cal.type_id, monday, cal.provider_id)
        assert morning and min(morning) == "12:00"  # the slots follow at once
        await row.get_by_role("button", name="Remove time off").click()
        await away.get_by_text("No time off coming up.").wait_for(timeout=5000)
        assert await _get(page, f"/api/v1/providers/{cal.provider_id}/time-off") == []
        assert "09:00" in await _slots(page, p.loc_a, cal.type_id, monday, cal.provider_id)

        # A holiday at North closes the day; the same date twice is refused in words.
        north = dialog.get_by_role("group", name="Holidays at North")
        await north.get_by_text("No holidays.").wait_for(timeout=5000)
        await north.get_by_role("button", name="Add holiday").click()
        await north.get_by_role("alert").filter(has_text="Choose the date").wait_for(timeout=3000)
        holiday = north.get_by_test_id(f"holidays-{p.loc_a}").locator(
            "li", has_text=f"{tuesday} · Founders' day"
        )
        for _ in range(2):
            await north.get_by_label("Date").fill(str(tuesday))
            await north.get_by_label("Holiday name").fill("Founders' day")
            await north.get_by_role("button", name="Add holiday").click()
            await holiday.wait_for(timeout=5000)
        await north.get_by_role("alert").filter(has_text="already a holiday").wait_for(timeout=5000)
        assert await holiday.count() == 1
        assert await _slots(page, p.loc_a, cal.type_id, tuesday, cal.provider_id) == []
        south = dialog.get_by_role("group", name="Holidays at South")
        assert await south.get_by_text("No holidays.").count() == 1
        await holiday.get_by_role("button", name="Remove holiday").click()
        await north.get_by_text("No holidays.").wait_for(timeout=5000)
        assert await _slots(page, p.loc_a, cal.type_id, tuesday, cal.provider_id) != []
        assert page.errors == [] and page.dialogs == []
