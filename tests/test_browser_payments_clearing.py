"""A bank debit still clearing, in the browser: the patient panel says "clearing: $X" apart from the open
balance, live, and the billing desk's open list keeps the request, marked clearing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser import chromium, signed_in_page
from tests.helpers import PASSWORD
from tests.payments_rig import start_payments
from tests.test_payments import _ask, _link
from tests.test_payments_delayed import _pay_by_bank
from tests.voice import open_desk


async def test_a_clearing_bank_debit_shows_apart_from_the_open_balance(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    rig = await start_payments(db_settings, aiohttp_server, tmp_path)
    p = rig.carrier.practice
    desk = await open_desk(rig.base, p.staff_a, on_duty=False)
    try:
        await _ask(desk, rig, 2500)  # still owed
        banked = await _ask(desk, rig, 9000)
    finally:
        await desk.close()
    async with chromium() as browser:
        staff = await signed_in_page(browser, rig.base, p.staff_a, PASSWORD)
        await staff.click(f'li[data-conversation="{p.conv_a}"]')
        await staff.get_by_role("button", name="Patient details").click()
        balance = staff.get_by_test_id("patient-balance")
        await balance.filter(has_text="$115.00 (2 open requests)").wait_for(timeout=5000)
        assert await staff.get_by_test_id("patient-clearing").is_hidden()

        await _pay_by_bank(rig, await _link(rig, banked["id"]), "000123456789")
        await balance.filter(has_text="$25.00 (1 open request)").wait_for(timeout=5000)
        clearing = staff.get_by_test_id("patient-clearing")
        await clearing.filter(has_text="clearing: $90.00").wait_for(timeout=5000)

        await staff.get_by_test_id("open-payments-button").click()
        listing = staff.get_by_test_id("open-payments")
        row = listing.locator(f'tbody tr[data-request="{banked["id"]}"]')
        await row.wait_for(timeout=5000)
        assert (
            "$90.00 clearing" in await row.inner_text()
            and "clearing" in await row.locator("td.clearing").inner_text()
        )
        assert (
            await listing.get_by_test_id("open-total").inner_text() == "2 open, $25.00 due, $90.00 clearing"
        )
        assert staff.errors == [] and staff.dialogs == []
