"""The softphone in the browser: a call arrives, two staff see the call pop, one answers, the other's
ringing stops, and the timeline shows who answered — through the carrier sandbox, no Twilio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.browser import chromium, signed_in_page
from tests.carrier import start_pair
from tests.helpers import PASSWORD
from tests.voice import ALWAYS_OPEN, API_KEY_SECRET, API_KEY_SID, TWIML_APP_SID, open_desk

PATIENT, NORTH = "+12025550170", "+12025550143"


async def test_call_pop_on_two_screens_one_answers_the_other_stops_ringing(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    twilio = {"api_key_sid": API_KEY_SID, "api_key_secret": API_KEY_SECRET, "twiml_app_sid": TWIML_APP_SID}
    pair = await start_pair(
        db_settings,
        aiohttp_server,
        tmp_path,
        twilio=twilio,
        api_keys={API_KEY_SID: API_KEY_SECRET},
        twiml_app_sid=TWIML_APP_SID,
        voice_time_scale=0.05,
    )
    p = pair.practice
    admin_api = await open_desk(pair.base, p.admin, on_duty=False)
    await admin_api.api("PUT", f"{pair.base}/api/v1/locations/{p.loc_a}/voice", {"hours": ALWAYS_OPEN})
    await admin_api.close()
    async with chromium() as browser:
        admin = await signed_in_page(browser, pair.base, p.admin, PASSWORD)
        north = await signed_in_page(browser, pair.base, p.staff_a, PASSWORD)
        for page in (admin, north):
            await page.get_by_test_id("duty").click()
            await (
                page.get_by_test_id("phone-status").filter(has_text="Ready for calls").wait_for(timeout=15000)
            )
            assert "null" not in await page.locator("header.top").inner_text()  # no stray text in the header
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{pair.sandbox}/sandbox/phones/{PATIENT}/calls", json={"to": NORTH}) as r:
                assert r.status == 200, await r.text()
            for page in (admin, north):
                pop = page.get_by_test_id("call-pop")
                await pop.filter(has_text="Pat Patient0").wait_for(timeout=15000)
                await page.get_by_test_id("answer").filter(has_text="Answer").wait_for(timeout=15000)
            await north.get_by_test_id("answer").click()
            await north.get_by_test_id("active-call").wait_for(timeout=15000)
            await admin.get_by_test_id("call-pop").wait_for(state="detached", timeout=15000)
            # North's thread opened on answer; the call item says who took it.
            summary = north.get_by_test_id("call-summary").filter(has_text="by Nora North")
            await summary.wait_for(timeout=15000)
            await admin.click(f'li[data-conversation="{p.conv_a}"]')
            await admin.get_by_test_id("call-summary").filter(has_text="Nora North").wait_for(timeout=15000)
        # Off duty, the header says so once: on the button, not again in the status beside it.
        await admin.get_by_test_id("duty").click()
        off = admin.locator("[data-testid=duty][aria-pressed=false]").filter(has_text="Not taking calls")
        await off.wait_for(timeout=15000)
        assert (await admin.locator("header.top").inner_text()).count("Not taking calls") == 1
        assert await admin.get_by_test_id("phone-status").text_content() == ""
        for page in (admin, north):
            assert page.errors == [] and page.dialogs == []
