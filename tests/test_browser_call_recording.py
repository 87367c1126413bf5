"""A recorded call in the browser: the caller hears the announcement, staff answer in the softphone, and
when the call ends its recording's player appears on the call item without a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.browser import chromium, signed_in_page
from tests.carrier import start_pair
from tests.helpers import PASSWORD
from tests.voice import ALWAYS_OPEN, API_KEY_SECRET, API_KEY_SID, TWIML_APP_SID, open_desk

PATIENT, NORTH = "+12025550170", "+12025550143"
CONSENT = "This call may be recorded for quality and training."


async def test_the_recording_player_appears_on_the_call_item_live(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    twilio = {"api_key_sid": API_KEY_SID, "api_key_secret": API_KEY_SECRET, "twiml_app_sid": TWIML_APP_SID}
    pair = await start_pair(
        db_settings,
        aiohttp_server,
        tmp_path,
        twilio=twilio,
        sections={"recording": {"enabled": True}},  # the practice records; the location says nothing
        api_keys={API_KEY_SID: API_KEY_SECRET},
        twiml_app_sid=TWIML_APP_SID,
        voice_time_scale=0.05,
    )
    p = pair.practice
    admin_api = await open_desk(pair.base, p.admin, on_duty=False)
    await admin_api.api("PUT", f"{pair.base}/api/v1/locations/{p.loc_a}/voice", {"hours": ALWAYS_OPEN})
    await admin_api.close()
    async with chromium() as browser:
        north = await signed_in_page(browser, pair.base, p.staff_a, PASSWORD)
        await north.get_by_test_id("duty").click()
        await north.get_by_test_id("phone-status").filter(has_text="Ready for calls").wait_for(timeout=15000)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{pair.sandbox}/sandbox/phones/{PATIENT}/calls", json={"to": NORTH}) as r:
                assert r.status == 200, await r.text()
                sid = (await r.json())["call_sid"]
            await north.get_by_test_id("answer").filter(has_text="Answer").wait_for(timeout=15000)
            await north.get_by_test_id("answer").click()
            await north.get_by_test_id("active-call").wait_for(timeout=15000)
            summary = north.get_by_test_id("call-summary").filter(has_text="by Nora North")
            await summary.wait_for(timeout=15000)
            assert await summary.get_by_label("Play the recording").count() == 0  # not while it lasts
            async with http.get(f"{pair.sandbox}/sandbox/calls/{sid}") as r:
                heard = [h.get("text") for h in (await r.json())["heard"] if h["verb"] == "Say"]
            assert heard[-1] == CONSENT  # said before the softphone rang
            async with http.post(f"{pair.sandbox}/sandbox/calls/{sid}/hangup", json={}) as r:
                assert r.status == 200
        await north.get_by_test_id("active-call").wait_for(state="detached", timeout=15000)
        ended = north.get_by_test_id("call-summary").filter(has_text="recorded")
        player = ended.get_by_label("Play the recording")
        await player.wait_for(timeout=20000)  # fetched from the carrier and stored, then posted live
        src = await player.get_attribute("src")
        assert src is not None and src.startswith("/api/v1/media/")
        status, kind = await north.evaluate(
            "src => fetch(src).then(r => [r.status, r.headers.get('content-type')])", src
        )
        assert status == 200 and kind in ("audio/wav", "audio/x-wav")
        assert north.errors == [] and north.dialogs == []
