"""The patient-phone page's calls in a real browser: call the practice, press a key, say words, hang up."""

from __future__ import annotations

from tests.browser import chromium
from tests.voice_rig import PATIENT, PRACTICE, Make, Practice, make_voice

__all__ = ["make_voice"]


async def test_phone_page_calls_the_practice_and_answers_its_menu(make_voice: Make) -> None:
    practice = Practice(
        twiml={
            "/twilio/voice": '<Response><Gather action="/twilio/menu" numDigits="1" timeout="600">'
            "<Say>Press 2 for billing.</Say></Gather></Response>",
            "/twilio/menu": '<Response><Record timeout="600" action="/twilio/left"/></Response>',
        }
    )
    rig = await make_voice(practice, voice_time_scale=0.05)
    async with chromium() as browser:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{rig.base}/phone?phone={PATIENT.replace('+', '%2B')}")
        await page.get_by_label("Practice number").select_option(PRACTICE)
        await page.get_by_role("button", name="Call the practice").click()
        await page.get_by_label("What the caller hears").get_by_text("Press 2 for billing.").first.wait_for()
        await page.get_by_role("group", name="Keypad").get_by_role("button", name="2", exact=True).click()
        await rig.until(lambda: practice.on("/twilio/menu"))
        assert practice.on("/twilio/menu")[0]["Digits"] == "2"
        await page.get_by_role("status").filter(has_text="Listening for your message").wait_for()
        await page.get_by_label("Say into the phone").fill("Question about my bill")
        await page.get_by_role("button", name="Say", exact=True).click()
        await rig.until(
            lambda: any(e["type"] == "speech" for c in rig.voice.calls.values() for e in c.events)
        )
        await page.get_by_role("button", name="Hang up").click()
        await rig.until(lambda: practice.on("/twilio/left"))
        await page.get_by_role("status").filter(has_text="ended").wait_for()
        assert errors == []
    [left] = practice.on("/twilio/left")
    assert left["Digits"] == "hangup" and left.signed()
    [recording] = rig.voice.recordings.values()
    assert recording.transcript == "Question about my bill"
