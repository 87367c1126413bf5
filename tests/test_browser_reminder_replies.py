"""An unclear reply to a reminder, in the browser: the bell rings live with words that say what to do,
its notification opens the thread, and the reminder in the thread says its reply needs a look; marking
the alert handled there clears it for another staff member live, bell and thread alike."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from comms import appointments, reminders
from schemas.schedule import BookIn, ReminderRuleIn
from tests.browser import chromium, signed_in_page
from tests.helpers import PASSWORD
from tests.schedule_helpers import next_weekday, seed_calendar, staff_actor
from tests.test_browser_contacts import text_in
from web.keys import SERVICES

NY = ZoneInfo("America/New_York")


async def test_unclear_reply_to_a_reminder_rings_the_bell_live(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    services = server.app[SERVICES]
    cal = await seed_calendar(services, p)
    await reminders.save_rule(
        services, cal.admin, ReminderRuleIn(minutes_before=120, template="See you {time}.")
    )
    visit = dt.datetime.combine(next_weekday(2), dt.time(14), tzinfo=NY)
    nora = await staff_actor(services, p, p.staff_a, p.loc_a)
    body = BookIn(provider_id=cal.provider_id, type_id=cal.type_id, starts_at=visit)
    await appointments.book(services, nora, p.conv_a, body)
    assert await reminders.run_once(services, visit - dt.timedelta(hours=1)) == 1
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        reminder = page.locator("li.item.kind-sms", has_text="See you")
        await reminder.wait_for(timeout=5000)
        assert await reminder.get_by_test_id("reminder-reply").count() == 0
        ada = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await ada.click(f'li[data-conversation="{p.conv_a}"]')
        await ada.locator("li.item.kind-sms", has_text="See you").wait_for(timeout=5000)

        await text_in(services, "+12025550170", "who is this?")
        await page.get_by_test_id("bell").filter(has_text="1").wait_for(timeout=3000)
        await (
            reminder.get_by_test_id("reminder-reply")
            .filter(has_text="Patient's reply needs a look")
            .wait_for(timeout=3000)
        )
        await page.locator("li.item.kind-activity.alert", has_text="needs a look").wait_for(timeout=3000)
        await page.get_by_test_id("bell").click()
        await page.get_by_role("button", name="Reply to a reminder needs a look").click()
        await page.wait_for_function(
            "() => document.querySelector('[data-testid=bell]').ariaLabel === '0 unread notifications'",
            timeout=3000,
        )
        await ada.get_by_test_id("bell").filter(has_text="1").wait_for(timeout=3000)

        # Nora handles it from the thread: Ada's bell clears and her thread says who handled it.
        await page.locator("li.item.kind-activity.alert").get_by_test_id("mark-handled").click()
        await page.locator("li.item.kind-activity.alert.handled").wait_for(timeout=3000)
        handled = ada.locator("li.item.kind-activity.alert.handled").get_by_test_id("alert-handled")
        await handled.filter(has_text="handled by Nora North").wait_for(timeout=3000)
        assert await ada.get_by_test_id("mark-handled").count() == 0
        await ada.wait_for_function(
            "() => document.querySelector('[data-testid=bell]').ariaLabel === '0 unread notifications'",
            timeout=3000,
        )
        assert page.errors == [] and ada.errors == []
