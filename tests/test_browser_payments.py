"""Payments in a real browser: staff request a payment from the thread, the patient pays it on the
Stripe stand-in's Checkout page, and the staff thread shows "paid" (and the balance clears) without reload;
a review request's card counts the patient's click live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from comms.payment_models import PaymentRequest
from tests.browser import chromium, signed_in_page
from tests.helpers import PASSWORD
from tests.payments_rig import start_payments
from web.keys import SERVICES


async def test_staff_request_patient_pays_on_checkout_thread_shows_paid_live(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    rig = await start_payments(db_settings, aiohttp_server, tmp_path)
    p = rig.carrier.practice
    async with chromium() as browser:
        staff = await signed_in_page(browser, rig.base, p.staff_a, PASSWORD)
        await staff.click(f'li[data-conversation="{p.conv_a}"]')
        await staff.get_by_test_id("request-payment").click()
        dialog = staff.get_by_test_id("payment-dialog")
        await dialog.get_by_label("Amount ($)").fill("12")
        await dialog.get_by_label("What it is for").fill("Cleaning <b>copay</b>")
        await dialog.get_by_label("Amount ($)").fill("125.00")
        await dialog.get_by_role("button", name="Send payment request").click()
        await dialog.wait_for(state="detached", timeout=5000)
        card = staff.get_by_test_id("payment-card")
        await card.filter(has_text="$125.00 · Cleaning <b>copay</b>").wait_for(timeout=5000)
        status = staff.get_by_test_id("payment-status")
        assert await status.get_attribute("data-status") == "sent"
        await staff.get_by_role("button", name="Patient details").click()
        balance = staff.get_by_test_id("patient-balance")
        await balance.filter(has_text="$125.00 (1 open request)").wait_for(timeout=5000)
        await staff.get_by_test_id("open-payments-button").click()
        listing = staff.get_by_test_id("open-payments")
        row = listing.locator("tbody tr")
        await row.filter(has_text="Pat Patient0").wait_for(timeout=5000)
        assert "$125.00" in await row.inner_text() and "sent" in await row.inner_text()
        assert await listing.get_by_test_id("open-total").inner_text() == "1 open, $125.00 due"
        await staff.keyboard.press("Escape")
        await listing.wait_for(state="detached", timeout=3000)
        await staff.evaluate("() => { window.__notReloaded = true; }")

        async with rig.app[SERVICES].read() as s:
            token = await s.scalar(select(PaymentRequest.token))
        patient_context = await browser.new_context()
        patient = await patient_context.new_page()
        await patient.goto(f"{rig.base}/pay/{token}")
        assert "Amount due: $125.00" in await patient.inner_text("main")
        assert "Cleaning <b>copay</b>" in await patient.inner_text("main")
        await staff.locator('[data-testid=payment-status][data-status="opened"]').wait_for(timeout=5000)
        await patient.get_by_role("button", name="Pay $125.00").click()
        await patient.wait_for_url(f"{rig.stripe}/c/pay/*", timeout=5000)
        await patient.get_by_label("Card number").fill("4242 4242 4242 4242")
        await patient.get_by_role("button", name="Pay").click()
        await patient.wait_for_url(f"{rig.base}/pay/thanks", timeout=5000)

        await staff.locator('[data-testid=payment-status][data-status="paid"]').wait_for(timeout=10000)
        assert "paid" in await status.inner_text()
        await balance.filter(has_text="none").wait_for(timeout=5000)
        assert await staff.evaluate("() => window.__notReloaded === true")
        await staff.get_by_test_id("open-payments-button").click()
        await listing.get_by_text("Nothing is waiting to be paid.").wait_for(timeout=5000)
        await patient.goto(f"{rig.base}/pay/{token}")
        assert "Paid in full ($125.00). Thank you!" in await patient.inner_text("main")
        assert staff.errors == [] and staff.dialogs == []
        await patient_context.close()


async def test_staff_ask_for_a_review_and_the_card_counts_the_patients_click_live(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    import aiohttp

    from comms.review_models import ReviewRequest, ReviewSite

    rig = await start_payments(db_settings, aiohttp_server, tmp_path)
    p = rig.carrier.practice
    async with rig.app[SERVICES].unit() as unit:
        unit.session.add(ReviewSite(location_id=p.loc_a, url="https://reviews.example/north"))
    async with chromium() as browser:
        staff = await signed_in_page(browser, rig.base, p.staff_a, PASSWORD)
        await staff.click(f'li[data-conversation="{p.conv_a}"]')
        await staff.get_by_test_id("request-review").click()
        card = staff.get_by_test_id("review-card")
        await card.filter(has_text="link sent, not opened yet").wait_for(timeout=5000)
        async with rig.app[SERVICES].read() as s:
            token = await s.scalar(select(ReviewRequest.token))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{rig.base}/r/{token}", allow_redirects=False) as resp,
        ):
            assert resp.status == 302
        await card.filter(has_text="link opened once").wait_for(timeout=5000)
        await staff.get_by_test_id("request-review").click()  # asked already: refused in words
        await staff.get_by_text("at most once every 180 days").wait_for(timeout=5000)
        assert staff.errors == []
