"""A patient books on the location's booking page (no sign-in) and staff see the visit in the
schedule, with the patient's name, and the booking and its confirmation text in the new thread."""

from __future__ import annotations

from typing import Any

from comms import schedule_setup
from schemas.schedule import AppointmentTypeIn
from tests.browser import DESKTOP, chromium, signed_in_page
from tests.helpers import PASSWORD
from tests.schedule_helpers import next_weekday, seed_calendar
from web.keys import SERVICES


async def test_a_patient_books_online_and_staff_see_it_in_the_schedule(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    services = server.app[SERVICES]
    cal = await seed_calendar(services, p)
    await schedule_setup.add_type(
        services, cal.admin, AppointmentTypeIn(name="Checkup", duration_minutes=30, online=True)
    )
    monday = next_weekday(0)
    async with chromium() as browser:
        patient = await (await browser.new_context(viewport=DESKTOP)).new_page()
        errors: list[str] = []
        patient.on("pageerror", lambda exc: errors.append(str(exc)))
        await patient.goto(f"{server.base}/book/{p.loc_a}")
        await patient.get_by_role("heading", name="Book at North").wait_for(timeout=5000)
        await patient.get_by_label("With", exact=True).select_option(label="Dr Rivera")
        await patient.get_by_label("Day").fill(str(monday))
        slots = patient.get_by_test_id("public-slots")
        await slots.get_by_role("button", name="10:00 AM with Dr Rivera").click()
        assert await patient.get_by_test_id("chosen").inner_text() == "10:00 AM with Dr Rivera"
        await patient.get_by_label("First name").fill("Jo")
        await patient.get_by_label("Last name").fill("Online")
        await patient.get_by_label("Mobile number").fill("202-555-0191")
        await patient.get_by_role("button", name="Book", exact=True).click()
        booked = patient.get_by_test_id("booked")
        await booked.wait_for(timeout=5000)
        assert (await booked.inner_text()).startswith("Checkup with Dr Rivera at North, ")
        assert "10:00 AM" in await booked.inner_text()
        assert await patient.get_by_text("We've texted you: reply C to confirm.").count() == 1
        assert errors == []

        staff = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await staff.get_by_test_id("open-schedule").click()
        dialog = staff.get_by_test_id("schedule")
        await dialog.get_by_label("Date").fill(str(monday))
        visit = (
            dialog.get_by_test_id("schedule-grid").get_by_role("region", name="Dr Rivera").locator("li.visit")
        )
        await visit.filter(has_text="10:00 AM\u201310:30 AM Jo Online").wait_for(timeout=5000)
        assert "Checkup" in await visit.inner_text()
        await visit.get_by_role("button").click()
        await staff.locator(".thread-head h2", has_text="Jo Online").wait_for(timeout=5000)
        await staff.locator(
            ".timeline .item.kind-appointment", has_text="Booked online by the patient"
        ).wait_for(timeout=5000)
        await staff.locator(".timeline .item.kind-sms", has_text="Reply C to confirm").wait_for(timeout=5000)
        assert staff.errors == [] and staff.dialogs == []
