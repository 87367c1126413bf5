"""TwiML for every step of a call, built with the twilio library's own builders. Pure: no I/O.

Every callback URL is absolute, under the configured public base URL, so the URL Twilio calls back is
exactly the one it signs and the one `telephony.signature` checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from routing.call_routing import render
from schemas.voice import VoiceConfig, identity

LEG_EVENTS = "initiated ringing answered completed"


def queue_name(location_id: int) -> str:
    return f"location-{location_id}"


def conference_name(call_id: int) -> str:
    return f"call-{call_id}"


@dataclass(frozen=True)
class Urls:
    """Where Twilio calls back for one call: every voice route, with the call's id in the query."""

    base: str  # the public base URL + "/twilio/voice"
    call_id: int

    def at(self, step: str, **query: object) -> str:
        return f"{self.base}/{step}?" + urlencode({"call": self.call_id, **query})


def _say(response: VoiceResponse, text: str) -> None:
    if text.strip():
        response.say(text)


def _consent(response: VoiceResponse, config: VoiceConfig) -> None:
    """The recording announcement, on a recorded call only (all-party consent states require it)."""
    if config.record_calls:
        _say(response, config.recording_announcement or "")


def _dial_recording(config: VoiceConfig, urls: Urls) -> dict[str, str]:
    """A <Dial>'s recording attributes: both sides from the answer, the file announced by callback."""
    if not config.record_calls:
        return {}
    return {
        "record": "record-from-answer-dual",
        "recording_status_callback": urls.at("recording", kind="call"),
        "recording_status_callback_method": "POST",
        "recording_status_callback_event": "completed",
    }


def menu(config: VoiceConfig, urls: Urls, attempt: int, *, greet: str, again: bool) -> str:
    """The phone tree: a Gather for one key or a few words; silence comes back to the menu route."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf speech",
        num_digits=1,
        timeout=config.menu_timeout_seconds,
        speech_timeout="auto",
        action=urls.at("menu", attempt=attempt),
        method="POST",
        hints=", ".join(w for o in config.menu_options for w in o.words) or None,
    )
    if greet:
        gather.say(greet)
    if again:
        gather.say("Sorry, I didn't catch that.")
    gather.say(config.menu_prompt)
    response.redirect(urls.at("menu", attempt=attempt), method="POST")  # no input: the same route decides
    return str(response)


def ring(
    config: VoiceConfig,
    urls: Urls,
    staff_ids: Sequence[int],
    params: dict[str, str],
    *,
    greet: str = "",
    caller_id: str | None = None,
) -> str:
    """Ring every listed softphone at once; the first to answer takes it; the Dial action decides next."""
    response = VoiceResponse()
    _say(response, greet)
    _consent(response, config)  # the caller hears it before any softphone can pick up
    dial = response.dial(
        action=urls.at("dial"),
        method="POST",
        timeout=config.ring_seconds,
        answer_on_bridge=True,
        caller_id=caller_id,
        **_dial_recording(config, urls),
    )
    for user_id in staff_ids:
        client = dial.client(status_callback_event=LEG_EVENTS, status_callback=urls.at("leg"), method="POST")
        client.identity(identity(user_id))
        for name, value in params.items():
            client.parameter(name=name, value=value)
    return str(response)


def enqueue(location_id: int, urls: Urls, *, greet: str = "") -> str:
    """Wait in the location's queue with hold music; the queue action decides what follows."""
    response = VoiceResponse()
    _say(response, greet)
    response.enqueue(
        queue_name(location_id),
        action=urls.at("queue-done"),
        method="POST",
        wait_url=urls.at("queue-wait"),
        wait_url_method="POST",
    )
    return str(response)


def queue_wait(config: VoiceConfig, position: int, waited: int) -> str:
    """One turn of the hold loop: the caller's position, then music; past the limit, leave to voicemail."""
    response = VoiceResponse()
    if waited >= config.queue_max_wait_seconds:
        response.leave()
        return str(response)
    _say(response, render(config.queue_message, position=position or 1))
    _hold_music(response, config)
    return str(response)


def _hold_music(response: VoiceResponse, config: VoiceConfig) -> None:
    if config.hold_music_url:
        response.play(config.hold_music_url)
    else:
        response.pause(length=10)


def hold_music(config: VoiceConfig) -> str:
    """What a caller on hold hears, looped by the conference until someone comes back."""
    response = VoiceResponse()
    if config.hold_music_url:
        response.play(config.hold_music_url, loop=0)
    else:
        response.say("Please hold. Someone will be with you shortly.")
        response.pause(length=20)
    return str(response)


def voicemail(config: VoiceConfig, urls: Urls, *, prompt: str) -> str:
    """Record a message after the tone; the recording and its transcription arrive by callback."""
    response = VoiceResponse()
    _say(response, prompt)
    response.record(
        action=urls.at("voicemail"),
        method="POST",
        max_length=config.voicemail_max_seconds,
        finish_on_key="#",
        play_beep=True,
        transcribe=config.transcribe_voicemail or None,
        transcribe_callback=urls.at("transcription") if config.transcribe_voicemail else None,
        recording_status_callback=urls.at("recording", kind="voicemail"),
        recording_status_callback_event="completed",
    )
    response.say("We did not receive a message. Goodbye.")
    response.hangup()
    return str(response)


def say_then_hang_up(text: str) -> str:
    response = VoiceResponse()
    _say(response, text)
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def reject() -> str:
    """Refuse a call we cannot route (an unknown number): busy tone, no charge for the caller."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)


def say_then_menu(text: str, urls: Urls, attempt: int) -> str:
    """A menu choice that is only information (opening hours, an address), then the menu again."""
    response = VoiceResponse()
    _say(response, text)
    response.redirect(urls.at("menu", attempt=attempt, again="0"), method="POST")
    return str(response)


def dial_patient(config: VoiceConfig, urls: Urls, patient: str, caller_id: str) -> str:
    """A staff member's outbound call from a thread, shown to the patient as the location's number.

    A <Say> here would be heard by the staff member (this TwiML runs on the softphone's leg): on a
    recorded call the patient hears the announcement through <Number url>, once they answer and
    before the two are connected.
    """
    response = VoiceResponse()
    dial = response.dial(
        action=urls.at("dial"),
        method="POST",
        caller_id=caller_id,
        answer_on_bridge=True,
        **_dial_recording(config, urls),
    )
    dial.number(
        patient,
        status_callback_event=LEG_EVENTS,
        status_callback=urls.at("leg"),
        status_callback_method="POST",
        url=urls.at("consent") if config.record_calls else None,
        method="POST" if config.record_calls else None,
    )
    return str(response)


def consent(config: VoiceConfig) -> str:
    """What the patient hears on answering a recorded outbound call, before staff are connected."""
    response = VoiceResponse()
    _consent(response, config)
    return str(response)


def dequeue(config: VoiceConfig, location_id: int, urls: Urls, *, by: int) -> str:
    """A staff softphone takes the caller waiting longest in the location's queue (the caller hears
    the recording announcement from the <Queue url> document, before the bridge)."""
    response = VoiceResponse()
    dial = response.dial(action=urls.at("agent-done"), method="POST", **_dial_recording(config, urls))
    dial.queue(queue_name(location_id), url=urls.at("queue-connect", by=by), method="POST")
    return str(response)


def conference(
    config: VoiceConfig, urls: Urls, name: str, *, staff: bool, end_on_exit: bool | None = None
) -> str:
    """Join the call's conference: the patient waits there on hold; staff start it when they join."""
    response = VoiceResponse()
    dial = response.dial(action=urls.at("agent-done" if staff else "conference-done"), method="POST")
    dial.conference(
        name,
        start_conference_on_enter=staff,
        end_conference_on_exit=end_on_exit if end_on_exit is not None else False,
        beep=False,
        wait_url=urls.at("hold-music"),
        wait_method="POST",
        status_callback=urls.at("conference"),
        status_callback_event="join leave end",
        status_callback_method="POST",
        # A held or transferred call goes on in the conference (the <Dial>'s recording ended with it).
        **_conference_recording(config, urls),
    )
    return str(response)


def _conference_recording(config: VoiceConfig, urls: Urls) -> dict[str, str]:
    if not config.record_calls:
        return {}
    return {
        "record": "record-from-start",
        "recording_status_callback": urls.at("recording", kind="call"),
        "recording_status_callback_method": "POST",
        "recording_status_callback_event": "completed",
    }


def say_only(text: str, config: VoiceConfig | None = None) -> str:
    """Words on one leg before it is bridged (allowed in a <Queue url> document), then the recording
    announcement if the call will be recorded."""
    response = VoiceResponse()
    _say(response, text)
    if config is not None:
        _consent(response, config)
    return str(response)
