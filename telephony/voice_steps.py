"""A call-flow `Step` → the TwiML document that makes it happen."""

from __future__ import annotations

from comms.call_flow import Step
from config.settings import RecordingSettings
from schemas.voice import VoiceConfig
from telephony import voice_twiml as twiml


def effective(config: VoiceConfig, recording: RecordingSettings) -> VoiceConfig:
    """The location's set-up with the practice's recording choice where the location left it open."""
    return config.with_recording(recording.enabled, recording.announcement)


def render(step: Step, base: str, recording: RecordingSettings) -> str:
    """TwiML for one step; `base` is the public URL of the voice webhooks (…/twilio/voice)."""
    urls = twiml.Urls(base, step.call_id)
    config = effective(step.config, recording)
    match step.kind:
        case "menu":
            return twiml.menu(config, urls, step.attempt, greet=step.greet, again=step.again)
        case "ring":
            return twiml.ring(config, urls, step.staff_ids, step.params, greet=step.greet)
        case "queue":
            return twiml.enqueue(step.location_id, urls, greet=step.greet)
        case "voicemail":
            prompt = " ".join(part for part in (step.greet, step.text) if part)
            return twiml.voicemail(config, urls, prompt=prompt)
        case "message":
            return twiml.say_then_menu(step.text, urls, step.attempt)
        case "goodbye":
            return twiml.say_then_hang_up(step.text)
        case "reject":
            return twiml.reject()
        case "dial":
            return twiml.dial_patient(config, urls, step.text, step.params["caller_id"])
        case "dequeue":
            return twiml.dequeue(config, step.location_id, twiml.Urls(base, 0), by=int(step.params["by"]))
        case "join":
            return twiml.conference(config, urls, step.text, staff=True, end_on_exit=True)
        case _:
            return twiml.hang_up()
