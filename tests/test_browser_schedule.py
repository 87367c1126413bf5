"""The schedule view in the browser: a location's day by provider and its week by day, in the
location's time; a booking made elsewhere appears while it is open; a visit opens its thread."""

from __future__ import annotations

from typing import Any

from tests.browser import chromium, post_json, signed_in_page
from tests.helpers import PASSWORD, new_conversation
from tests.schedule_helpers import at, next_weekday, seed_calendar
from web.keys import SERVICES


async def test_day_and_week_views_stay_live_and_open_the_thread(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    services = server.app[SERVICES]
    cal = await seed_calendar(services, p)
    other = await new_conversation(services, p.practice_id, p.loc_a, "Ola Other", "+12025550122")
    monday = next_weekday(0)
    tuesday = next_weekday(1)
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        book = f"/api/v1/conversations/{p.conv_a}/appointments"
        for provider, day, hour in ((cal.provider_id, monday, 9), (cal.other_provider_id, monday, 10)):
            body = {"provider_id": provider, "type_id": cal.type_id, "starts_at": at(day, hour)}
            assert (await post_json(page, book, body))[0] == 201
        body = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(tuesday, 14)}
        assert (await post_json(page, f"/api/v1/conversations/{other}/appointments", body))[0] == 201

        await page.get_by_test_id("open-schedule").click()
        dialog = page.get_by_test_id("schedule")
        grid = dialog.get_by_test_id("schedule-grid")
        await dialog.get_by_label("Date").fill(str(monday))
        rivera = grid.get_by_role("region", name="Dr Rivera")
        chen = grid.get_by_role("region", name="Dr Chen")
        await rivera.get_by_text("9:00 AM\u20139:30 AM Pat Patient0").wait_for(timeout=5000)
        await chen.get_by_text("10:00 AM\u201310:30 AM Pat Patient0").wait_for(timeout=5000)
        assert await rivera.locator("li.visit").count() == 1  # Tuesday's visit is not on Monday

        await dialog.get_by_label("View").select_option("week")
        await grid.locator("li.visit").nth(2).wait_for(timeout=5000)
        columns = grid.locator("section.schedule-column")
        assert await columns.count() == 7
        assert await columns.nth(0).locator("li.visit").count() == 2
        assert (
            await columns.nth(1).locator("li.visit", has_text="2:00 PM\u20132:30 PM Ola Other").count() == 1
        )
        assert "Dr Rivera" in await columns.nth(1).inner_text()

        # A booking made elsewhere shows up while the schedule is open.
        body = {"provider_id": cal.other_provider_id, "type_id": cal.type_id, "starts_at": at(tuesday, 11)}
        assert (await post_json(page, f"/api/v1/conversations/{other}/appointments", body))[0] == 201
        await (
            columns.nth(1)
            .locator("li.visit", has_text="11:00 AM\u201311:30 AM Ola Other")
            .wait_for(timeout=5000)
        )

        await dialog.get_by_label("Provider").select_option(label="Dr Chen")
        await grid.locator("li.visit").nth(1).wait_for(timeout=5000)
        await grid.locator("li.visit", has_text="9:00 AM").wait_for(state="detached", timeout=5000)
        assert await grid.locator("li.visit").count() == 2

        await grid.get_by_role("button", name="11:00 AM\u201311:30 AM Ola Other").click()
        await dialog.wait_for(state="detached", timeout=5000)
        await page.locator(".thread-head h2", has_text="Ola Other").wait_for(timeout=5000)
        assert page.errors == [] and page.dialogs == []
