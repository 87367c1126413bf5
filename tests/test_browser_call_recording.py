"""A recorded call in the browser: the caller hears the announcement, staff answer in the softphone, see
that it is recorded, pause and resume the recording (a colleague's pause shows live too), and when the
call ends its recording's player appears on the call item without a reload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from telephony.sandbox import SANDBOX_VOICE
from tests.browser import chromium, signed_in_page
from tests.carrier import ACCOUNT_SID, AUTH_TOKEN, start_pair
from tests.helpers import PASSWORD
from tests.voice import ALWAYS_OPEN, API_KEY_SECRET, API_KEY_SID, TWIML_APP_SID, open_desk, until

PATIENT, NORTH = "+12025550170", "+12025550143"
# Keeps the softphone's live region and logs each change of what it says about the recording.
WATCH_LIVE_REGION = """() => {
  window.phoneLive = document.querySelector('[data-testid=phone-status]');
  const note = document.querySelector('[data-testid=phone-live-recording]');
  window.recordingHeard = [];
  new MutationObserver(() => window.recordingHeard.push(note.textContent))
    .observe(note, { childList: true, characterData: true, subtree: true });
}"""
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
    try:
        await _recorded_call(pair, admin_api)
    finally:
        await admin_api.close()


async def _recorded_call(pair: Any, admin_api: Any) -> None:
    p = pair.practice
    async with chromium() as browser:
        north = await signed_in_page(browser, pair.base, p.staff_a, PASSWORD)
        await north.evaluate(WATCH_LIVE_REGION)
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
            await _pause_and_resume(north, pair, admin_api, sid)
            async with http.get(f"{pair.sandbox}/sandbox/calls/{sid}") as r:
                heard = [h.get("text") for h in (await r.json())["heard"] if h["verb"] == "Say"]
            assert heard[-1] == CONSENT  # said before the softphone rang
            async with http.post(f"{pair.sandbox}/sandbox/calls/{sid}/hangup", json={}) as r:
                assert r.status == 200
        await north.get_by_test_id("active-call").wait_for(state="detached", timeout=15000)
        # One live region all along, its text set only on a change: each state is heard once, in order.
        assert await north.evaluate(
            "() => window.phoneLive === document.querySelector('[data-testid=phone-status]')"
        )
        heard = await north.evaluate("() => window.recordingHeard")
        assert heard == ["Recording", "Recording paused", "Recording", "Recording paused", "Recording", ""]
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


async def _pause_and_resume(north: Any, pair: Any, admin_api: Any, sid: str) -> None:
    """The softphone says the call is recorded; Pause and Resume reach the carrier and show live."""
    state = north.get_by_test_id("recording-state")
    toggle = north.get_by_test_id("recording-toggle")
    await state.filter(has_text="\u25cf Recording").wait_for(timeout=15000)
    live = north.get_by_test_id("phone-status")  # the header's live region says it for screen readers
    assert (await live.get_attribute("role"), await live.get_attribute("aria-live")) == ("status", "polite")
    assert await north.get_by_test_id("phone-live-recording").text_content() == "Recording"
    voice = pair.sandbox_app[SANDBOX_VOICE]

    async def take() -> Any:
        return voice.recording_now.get(sid)

    recording = await until(take, 10)
    assert recording.status == "in-progress"
    release = asyncio.Event()

    async def held(route: Any) -> None:  # the request waits here until the button has been seen
        await release.wait()
        await route.continue_()

    await north.route("**/api/v1/calls/*/recording", held)
    await toggle.filter(has_text="Pause recording").click()
    await north.locator("[data-testid=recording-toggle][disabled]").wait_for(timeout=5000)  # in flight
    release.set()
    await state.filter(has_text="Recording paused").wait_for(timeout=10000)
    assert await north.get_by_test_id("phone-live-recording").text_content() == "Recording paused"
    await north.unroute("**/api/v1/calls/*/recording", held)
    await toggle.filter(has_text="Resume recording").wait_for(timeout=10000)
    assert recording.status == "paused" and recording.skip_pause  # the sandbox's REST API was asked
    await toggle.click()
    await state.filter(has_text="\u25cf Recording").wait_for(timeout=10000)
    await toggle.filter(has_text="Pause recording").wait_for(timeout=10000)
    assert recording.status == "in-progress"

    # An admin pauses it from elsewhere: only the call.updated event can tell this page.
    [call] = await admin_api.api("GET", f"{pair.base}/api/v1/calls/active")
    control = f"{pair.base}/api/v1/calls/{call['id']}/recording"
    assert await admin_api.api("POST", control, {"action": "pause"}) == {"recording": "paused"}
    await state.filter(has_text="Recording paused").wait_for(timeout=10000)
    await toggle.filter(has_text="Resume recording").click()
    await state.filter(has_text="\u25cf Recording").wait_for(timeout=10000)
    assert recording.status == "in-progress"
    assert await north.get_by_test_id("active-call").get_by_role("alert").count() == 0  # no error shown

    # The carrier's recording ends early (stopped by REST): a pause now is refused, and says so in words.
    stop = f"{pair.sandbox}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}/Recordings/Twilio.CURRENT.json"
    auth = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN)}
    async with aiohttp.ClientSession() as http:
        async with http.post(stop, data={"Status": "stopped"}, headers=auth) as r:
            assert r.status == 200, await r.text()
    await toggle.filter(has_text="Pause recording").click()
    alert = north.get_by_test_id("active-call").get_by_role("alert")
    await alert.filter(has_text="Could not pause the recording: the carrier refused").wait_for(timeout=10000)
    assert await toggle.is_enabled()  # free to try again
    assert await state.text_content() == "\u25cf Recording"  # nothing changed on our side
