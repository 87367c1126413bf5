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


async def test_refund_dialog_checks_the_amount_confirms_and_the_card_follows_live(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    """No window.prompt: an in-page dialog (labelled, keyboard-driven, Escape cancels, focus returns);
    a bank payment in processing shows as such on the card, live."""
    from tests.payments_rig import event, post_event, session_completed, signed
    from tests.test_payments import _link, _new_request, _pay

    rig = await start_payments(db_settings, aiohttp_server, tmp_path)
    p = rig.carrier.practice
    request_id = await _new_request(rig, 8000)
    await _pay(rig, await _link(rig, request_id))
    async with chromium() as browser:
        staff = await signed_in_page(browser, rig.base, p.staff_a, PASSWORD)
        await staff.click(f'li[data-conversation="{p.conv_a}"]')
        status = staff.get_by_test_id("payment-status")
        await staff.locator('[data-testid=payment-status][data-status="paid"]').wait_for(timeout=10000)
        opener = staff.get_by_role("button", name="Refund…")
        await opener.click()
        dialog = staff.get_by_role("dialog", name="Refund a payment")
        await dialog.wait_for(timeout=5000)
        full = dialog.get_by_label("All of it ($80.00)")
        assert await full.evaluate("el => el === document.activeElement")
        amount = dialog.get_by_label("Refund amount ($)")
        assert await amount.is_disabled()
        await staff.keyboard.press("Escape")  # cancels: nothing refunded, focus back on the card's button
        await dialog.wait_for(state="detached", timeout=3000)
        assert await opener.evaluate("el => el === document.activeElement")

        await opener.click()
        await dialog.get_by_label("Part of it").check()
        assert await amount.evaluate("el => el === document.activeElement")
        alert = dialog.get_by_role("alert").first
        for typed, said in (
            ("ten", "Enter the refund in dollars and cents, like 25.00."),
            ("80.01", "At most $80.00 can be refunded."),
            ("0", "Enter an amount above $0.00."),
        ):
            await amount.fill(typed)
            await dialog.get_by_role("button", name="Continue").click()
            assert await alert.inner_text() == said
            assert await amount.get_attribute("aria-invalid") == "true"
        await amount.fill("30")
        await dialog.get_by_role("button", name="Continue").click()
        question = dialog.get_by_test_id("refund-question")
        assert await question.inner_text() == "Refund $30.00 (a partial refund)? This cannot be undone."
        confirm = dialog.get_by_role("button", name="Refund $30.00")
        assert await confirm.evaluate("el => el === document.activeElement")
        await dialog.get_by_role("button", name="Back").click()
        assert await amount.input_value() == "30"
        await dialog.get_by_role("button", name="Continue").click()
        await confirm.click()
        await dialog.wait_for(state="detached", timeout=5000)
        await status.filter(has_text="$30.00 refunded").wait_for(timeout=10000)
        assert await status.get_attribute("data-status") == "paid"

        await opener.click()  # the rest: "All of it" now offers what is left
        await dialog.get_by_label("All of it ($50.00)").check()
        await dialog.get_by_role("button", name="Continue").click()
        assert "(the full refund)" in await dialog.get_by_test_id("refund-question").inner_text()
        await dialog.get_by_role("button", name="Refund $50.00").click()
        await staff.locator('[data-testid=payment-status][data-status="refunded"]').wait_for(timeout=10000)
        assert await staff.get_by_role("button", name="Refund…").count() == 0

        # A second request paid by a bank debit: the card says it is clearing, without reload.
        second = await _new_request(rig, 4500)
        unpaid = session_completed(second, "pi_bank", 4500, "cs_bank") | {"payment_status": "unpaid"}
        assert (await post_event(rig.base, *signed(event("checkout.session.completed", unpaid, "e_b"))))[
            0
        ] == 200
        clearing = staff.locator('[data-testid=payment-status][data-status="processing"]')
        await clearing.wait_for(timeout=10000)
        assert await clearing.inner_text() == "bank payment processing · $45.00 clearing"
        assert staff.errors == [] and staff.dialogs == []
