"""The waitlist in the browser: staff add the thread's patient from the side panel, the entry turns
"offered" live when a matching time is cancelled, and Remove takes them off; each entry shows the
last day it stays on the list."""

from __future__ import annotations

from typing import Any

from tests.browser import chromium, post_json, signed_in_page
from tests.helpers import PASSWORD, new_conversation
from tests.schedule_helpers import at, next_weekday, seed_calendar
from web.keys import SERVICES


async def test_add_to_waitlist_from_the_panel_and_see_the_offer_live(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    services = server.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    other = await new_conversation(services, p.practice_id, p.loc_a, "Ola Other", "+12025550122")
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.get_by_role("button", name="Patient details").click()
        entries = page.get_by_test_id("waitlist-entries")
        await entries.get_by_text("Not on the waitlist.").wait_for(timeout=5000)

        await page.get_by_role("button", name="Add to waitlist").click()
        await page.get_by_label("Appointment type").select_option(label="Cleaning")
        await page.get_by_label("Latest date").fill(str(monday))
        await page.get_by_role("button", name="Add", exact=True).click()
        await entries.locator('li[data-state="waiting"]', has_text="Cleaning").wait_for(timeout=5000)
        # The entry ends after its last date (well before the default 90 days): staff see when.
        until = f"On the list until {monday:%b} {monday.day}"
        assert await entries.get_by_test_id("waitlist-expiry").inner_text() == until
        await page.locator(".timeline .item", has_text="Added to the waitlist: Cleaning").wait_for(
            timeout=5000
        )

        status, booked = await post_json(
            page,
            f"/api/v1/conversations/{other}/appointments",
            {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 11)},
        )
        assert status == 201
        status, _ = await post_json(
            page, f"/api/v1/appointments/{booked['id']}/status", {"status": "cancelled"}
        )
        assert status == 200
        # The offer reaches the thread live, and the panel's entry follows it.
        await page.locator(".timeline .item", has_text="Waitlist: offered Cleaning with Dr Rivera").wait_for(
            timeout=5000
        )
        await entries.locator('li[data-state="offered"]', has_text="offered a time").wait_for(timeout=5000)

        await entries.get_by_role("button", name="Remove from the waitlist: Cleaning").click()
        await entries.get_by_text("Not on the waitlist.").wait_for(timeout=5000)
        await page.locator(".timeline .item", has_text="Removed from the waitlist").wait_for(timeout=5000)


async def test_an_expired_entry_stays_in_the_panel_tagged_and_staff_renew_it(served_on_port: Any) -> None:
    import datetime as dt

    from sqlalchemy import update

    from comms import waitlist
    from comms.models import utcnow
    from comms.waitlist_expiry import expire_due
    from comms.waitlist_models import WaitlistEntry
    from schemas.waitlist import WaitlistIn
    from tests.schedule_helpers import staff_actor

    server, p = served_on_port, served_on_port.practice
    services = server.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    nora = await staff_actor(services, p, p.staff_a, p.loc_a)
    body = WaitlistIn(type_id=cal.type_id, earliest=monday - dt.timedelta(days=3), latest=monday)
    entry = await waitlist.add_entry(services, nora, p.conv_a, body)
    async with services.unit() as unit:  # its days ran out, as if made long ago
        await unit.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry.id)
            .values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
    assert await expire_due(services, utcnow()) == 1
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.get_by_role("button", name="Patient details").click()
        entries = page.get_by_test_id("waitlist-entries")
        expired = entries.locator('li[data-state="expired"]', has_text="Cleaning")
        await expired.wait_for(timeout=5000)
        assert await expired.locator(".tag.expired").inner_text() == "expired"
        assert "offered nothing until renewed" in await expired.get_by_test_id("waitlist-expiry").inner_text()
        await expired.get_by_role("button", name="Renew on the waitlist: Cleaning").click()
        await entries.locator('li[data-state="waiting"]', has_text="Cleaning").wait_for(timeout=5000)
        until = f"On the list until {monday:%b} {monday.day}"
        assert await entries.get_by_test_id("waitlist-expiry").inner_text() == until
        await page.locator(".timeline .item", has_text="Waitlist entry renewed").wait_for(timeout=5000)
        assert page.errors == []
