"""The reports view in the browser: open it from the header, change the range, read the charts, and
follow a drill-down from a figure to the conversation behind it."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.analytics_seed import seed_activity
from tests.browser import TABLETS, chromium, no_horizontal_overflow, signed_in_page
from tests.helpers import PASSWORD
from web.keys import SERVICES


async def _range(page: Any, start: str, end: str) -> None:
    reports = page.get_by_role("region", name="Reports")
    await reports.get_by_label("From", exact=True).fill(start)
    await reports.get_by_label("To", exact=True).fill(end)
    await reports.get_by_role("button", name="Show", exact=True).click()
    await page.locator(".reports[data-state=ready]").wait_for(timeout=10000)


def tile(page: Any, figure: str) -> Any:
    return page.locator(f'.tile[data-figure="{figure}"] .value')


async def test_dashboard_range_charts_and_drill_down(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    seeded = await seed_activity(server.app[SERVICES], p)
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await page.get_by_role("button", name="Reports").click()
        reports = page.get_by_role("region", name="Reports")
        await reports.get_by_role("heading", name="How did we do").wait_for(timeout=5000)
        await page.locator(".reports[data-state=ready]").wait_for(timeout=10000)
        assert await reports.get_by_label("Location").input_value() == str(p.loc_a)

        await _range(page, "2026-03-02", "2026-03-13")
        await tile(page, "calls").filter(has_text="8").wait_for(timeout=5000)
        assert await tile(page, "missed").inner_text() == "4"
        assert await tile(page, "unanswered").inner_text() == "1"
        assert await tile(page, "responded").first.inner_text() == "45 min"  # median 2700 s
        # The calls chart has a bar per day and series; Friday 6 March had one answered, one missed.
        calls_chart = page.get_by_role("img", name="Calls by day: Answered 3, Missed 4")
        await calls_chart.wait_for(timeout=3000)
        assert await calls_chart.locator("rect.bar").count() == 24
        friday = calls_chart.locator('rect[data-label="3/6"]')
        assert [await b.get_attribute("data-value") for b in await friday.all()] == ["1", "1"]
        staff_chart = page.get_by_role("img", name="Conversations handled: Nora North 8, Ada Admin 3")
        await staff_chart.wait_for(timeout=3000)
        # A bar drills down to that day: Friday's missed call was c9's.
        await friday.and_(page.locator('[data-series="missed"]')).click()
        drill = page.get_by_test_id("drill-list")
        await page.get_by_role("heading", name="Missed, 3/6: 1 conversation").wait_for(timeout=5000)
        assert await drill.locator("li").all_inner_texts() == ["Pat c9"]
        links = page.locator(".exports a")
        assert await links.count() == 8
        assert "table=staff" in (await links.nth(4).get_attribute("href") or "")
        assert await tile(page, "booked").inner_text() == "0"  # no appointments in this store

        # A shorter range changes every figure.
        await _range(page, "2026-03-02", "2026-03-03")
        await tile(page, "calls").filter(has_text="2").wait_for(timeout=5000)
        assert await tile(page, "missed").inner_text() == "0"

        # Drill down from "not recovered" to the two conversations, and open one in the inbox.
        await _range(page, "2026-03-02", "2026-03-13")
        await page.locator('.tile[data-figure="unrecovered"]').click()
        drill = page.get_by_test_id("drill-list")
        await drill.wait_for(timeout=5000)
        items = drill.locator("li")
        assert sorted(await items.all_inner_texts()) == ["Pat c8", "Pat k9"]
        await drill.get_by_role("button", name="Pat c8").click()
        await page.locator(".thread-head h2", has_text="Pat c8").wait_for(timeout=5000)
        assert await reports.is_hidden()
        assert await page.get_by_role("button", name="Reports").is_visible()

        # Staff drill-down: the admin's three conversations.
        await page.get_by_role("button", name="Reports").click()
        await page.locator(f'button[data-staff="{seeded.admin}"]').click()
        await drill.locator("li").nth(2).wait_for(timeout=5000)
        assert await drill.locator("li").count() == 3
        await no_horizontal_overflow(page)
        for tablet in TABLETS:  # the charts scale down; nothing scrolls sideways
            await page.set_viewport_size(tablet)
            await no_horizontal_overflow(page)
        assert page.errors == [] and page.dialogs == []


async def test_audit_report_for_admins_only(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        north = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await north.click(f'li[data-conversation="{p.conv_a}"]')  # reading the thread is audited
        await north.locator(".thread-head h2", has_text="Pat Patient0").wait_for(timeout=5000)
        await north.get_by_role("button", name="Reports").click()
        await north.locator(".reports[data-state=ready]").wait_for(timeout=10000)
        assert await north.get_by_role("region", name="Audit report").count() == 0

        admin = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await admin.get_by_role("button", name="Reports").click()
        audit = admin.get_by_role("region", name="Audit report")
        table = audit.get_by_test_id("audit-table")
        await table.locator("tr[data-entry]").first.wait_for(timeout=10000)
        await audit.get_by_label("Staff member").select_option(label="Nora North")
        await audit.get_by_label("Action").select_option("view")
        await audit.get_by_role("button", name="Filter").click()
        await audit.locator("table[data-state=ready]").wait_for(timeout=5000)
        # The filtered page replaces the whole list: wait until no other staff member's entry is left.
        others = table.locator("tr[data-entry]", has_not_text="Nora North")
        await expect(others).to_have_count(0, timeout=10000)
        row = table.locator("tr[data-entry]", has_text="conversation")
        await row.first.wait_for(timeout=5000)
        for shown in await table.locator("tr[data-entry]").all_inner_texts():
            assert "Nora North" in shown and "view" in shown, shown
        text = await row.first.inner_text()
        assert "Nora North" in text and "Pat Patient0" in text
        href = await audit.get_by_role("link", name="Export CSV").get_attribute("href") or ""
        assert "action=view" in href and "staff_id=" in href
        # Following the patient narrows the report to their records.
        await row.first.get_by_role("button", name="Pat Patient0").click()
        await admin.wait_for_function(
            "() => document.querySelector('input[name=patient_id]').value !== ''", timeout=5000
        )
        assert north.errors == [] and admin.errors == []


async def _waitlist_fill(services: Any, p: Any, conversation_id: int) -> None:
    """One appointment booked on 4 March by a waiting patient who took a freed slot."""
    import datetime as dt

    from comms.schedule_models import Appointment, AppointmentType, Provider
    from comms.waitlist_models import WaitlistEntry, WaitlistOffer
    from tests.analytics_seed import utc

    async with services.unit() as unit:
        s = unit.session
        provider = Provider(practice_id=p.practice_id, name="Dr. Dent")
        kind = AppointmentType(practice_id=p.practice_id, name="Cleaning", duration_minutes=30)
        s.add_all([provider, kind])
        await s.flush()
        starts = utc("2026-03-09 15:00")
        booked = Appointment(
            location_id=p.loc_a,
            provider_id=provider.id,
            contact_id=1,
            type_id=kind.id,
            conversation_id=conversation_id,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=30),
            busy_until=starts + dt.timedelta(minutes=30),
            status="scheduled",
            booked_by_id=None,
            created_at=utc("2026-03-04 14:00"),
        )
        entry = WaitlistEntry(
            contact_id=1,
            conversation_id=conversation_id,
            location_id=p.loc_a,
            type_id=kind.id,
            earliest=dt.date(2026, 3, 1),
            latest=dt.date(2026, 3, 31),
            state="booked",
            expires_at=utc("2026-04-01 04:00"),
        )
        s.add_all([booked, entry])
        await s.flush()
        s.add(
            WaitlistOffer(
                entry_id=entry.id,
                provider_id=provider.id,
                type_id=kind.id,
                starts_at=starts,
                token_sha256="f" * 64,
                batch=1,
                state="taken",
                expires_at=utc("2026-03-04 16:00"),
                appointment_id=booked.id,
            )
        )


async def test_waitlist_fills_tile_and_its_drill_down(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    seeded = await seed_activity(server.app[SERVICES], p)
    await _waitlist_fill(server.app[SERVICES], p, seeded.conv["c3"])
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await page.get_by_role("button", name="Reports").click()
        await page.locator(".reports[data-state=ready]").wait_for(timeout=10000)
        await _range(page, "2026-03-02", "2026-03-13")
        await tile(page, "waitlist_fills").filter(has_text="1").wait_for(timeout=5000)
        assert await tile(page, "booked").inner_text() == "1"
        await page.locator('.tile[data-figure="waitlist_fills"]').click()
        await page.get_by_role("heading", name="Waitlist fills: 1 conversation").wait_for(timeout=5000)
        assert await page.get_by_test_id("drill-list").locator("li").all_inner_texts() == ["Pat c3"]
        await _range(page, "2026-03-05", "2026-03-13")  # booked on the 4th: not this range's fill
        await tile(page, "waitlist_fills").filter(has_text="0").wait_for(timeout=5000)
        assert page.errors == [] and page.dialogs == []
