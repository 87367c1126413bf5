"""Call routing rules and the TwiML for each step: pure functions, tested directly."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from pydantic import ValidationError

from routing.call_routing import choose_option, holiday_on, is_open, render, ring_targets
from schemas.voice import Holiday, MenuOption, OpenInterval, VoiceConfig, identity, user_of
from telephony import voice_twiml as twiml

NY = "America/New_York"
UTC = dt.UTC

# Twilio's verbs and nouns with the attributes we may use (from Twilio's TwiML reference).
TWIML = {
    "Response": set(),
    "Say": {"voice", "language", "loop"},
    "Play": {"loop", "digits"},
    "Pause": {"length"},
    "Gather": {
        "action",
        "method",
        "timeout",
        "numDigits",
        "finishOnKey",
        "input",
        "speechTimeout",
        "hints",
        "language",
        "actionOnEmptyResult",
        "partialResultCallback",
        "profanityFilter",
        "speechModel",
    },
    "Record": {
        "action",
        "method",
        "timeout",
        "finishOnKey",
        "maxLength",
        "playBeep",
        "trim",
        "transcribe",
        "transcribeCallback",
        "recordingStatusCallback",
        "recordingStatusCallbackEvent",
        "recordingStatusCallbackMethod",
    },
    "Dial": {
        "action",
        "method",
        "timeout",
        "hangupOnStar",
        "timeLimit",
        "callerId",
        "record",
        "answerOnBridge",
        "ringTone",
        "recordingStatusCallback",
        "recordingStatusCallbackEvent",
        "recordingStatusCallbackMethod",
        "trim",
    },
    "Client": {"url", "method", "statusCallbackEvent", "statusCallback", "statusCallbackMethod"},
    "Identity": set(),
    "Parameter": {"name", "value"},
    "Number": {
        "sendDigits",
        "url",
        "method",
        "statusCallbackEvent",
        "statusCallback",
        "statusCallbackMethod",
    },
    "Queue": {"url", "method", "reservationSid", "postWorkActivitySid"},
    "Conference": {
        "muted",
        "beep",
        "startConferenceOnEnter",
        "endConferenceOnExit",
        "waitUrl",
        "waitMethod",
        "maxParticipants",
        "record",
        "trim",
        "statusCallbackEvent",
        "statusCallback",
        "statusCallbackMethod",
        "participantLabel",
        "recordingStatusCallback",
        "recordingStatusCallbackEvent",
        "recordingStatusCallbackMethod",
    },
    "Enqueue": {"action", "method", "waitUrl", "waitUrlMethod", "workflowSid"},
    "Leave": set(),
    "Hangup": set(),
    "Redirect": {"method"},
    "Reject": {"reason"},
}
PARENTS = {
    "Response": {None},
    "Client": {"Dial"},
    "Number": {"Dial"},
    "Queue": {"Dial"},
    "Conference": {"Dial"},
    "Identity": {"Client"},
    "Parameter": {"Client"},
}


def assert_twiml(document: str) -> ET.Element:
    """Parses as XML, and names only Twilio verbs and nouns, each with its own attributes and parent."""
    root = ET.fromstring(document)
    assert root.tag == "Response"

    def walk(node: ET.Element, parent: str | None) -> None:
        assert node.tag in TWIML, f"not a TwiML verb or noun: {node.tag}"
        assert set(node.attrib) <= TWIML[node.tag], f"{node.tag} {set(node.attrib) - TWIML[node.tag]}"
        allowed = PARENTS.get(
            node.tag, {"Response", "Gather"} if node.tag in ("Say", "Play", "Pause") else {"Response"}
        )
        assert parent in allowed, f"{node.tag} inside {parent}"
        for child in node:
            walk(child, node.tag)

    walk(root, None)
    return root


def _config(**values: object) -> VoiceConfig:
    return VoiceConfig.model_validate(values)


def test_business_hours_follow_the_local_clock_across_dst() -> None:
    config = VoiceConfig()  # weekdays 8:00-17:00
    # 2026-03-09 is the Monday after US clocks went forward: 8:30 local is 12:30 UTC, not 13:30.
    assert is_open(config, NY, dt.datetime(2026, 3, 9, 12, 30, tzinfo=UTC))
    assert not is_open(config, NY, dt.datetime(2026, 3, 9, 11, 30, tzinfo=UTC))  # 7:30 local
    # 2026-11-02, the Monday after they went back: 8:30 local is 13:30 UTC.
    assert is_open(config, NY, dt.datetime(2026, 11, 2, 13, 30, tzinfo=UTC))
    assert not is_open(config, NY, dt.datetime(2026, 11, 2, 12, 30, tzinfo=UTC))
    assert not is_open(config, NY, dt.datetime(2026, 11, 2, 22, 0, tzinfo=UTC))  # 17:00 local: closed
    assert not is_open(config, NY, dt.datetime(2026, 11, 7, 15, 0, tzinfo=UTC))  # Saturday


def test_holidays_close_the_office_by_local_date() -> None:
    config = _config(holidays=[{"date": "2026-12-25", "name": "Christmas"}])
    # 01:00 UTC on the 26th is still the 25th in New York.
    late = dt.datetime(2026, 12, 26, 1, 0, tzinfo=UTC)
    assert holiday_on(config, NY, late) == Holiday(date=dt.date(2026, 12, 25), name="Christmas")
    assert not is_open(config, NY, dt.datetime(2026, 12, 25, 15, 0, tzinfo=UTC))
    assert is_open(config, NY, dt.datetime(2026, 12, 24, 15, 0, tzinfo=UTC))


def test_split_days_and_bad_intervals() -> None:
    config = _config(
        hours={"mon": [{"opens": "08:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:00"}]}
    )
    assert not is_open(config, NY, dt.datetime(2026, 12, 7, 17, 30, tzinfo=UTC))  # 12:30 lunch
    assert is_open(config, NY, dt.datetime(2026, 12, 7, 18, 30, tzinfo=UTC))
    with pytest.raises(ValidationError):
        OpenInterval(opens=dt.time(17), closes=dt.time(8))


def test_menu_choice_by_key_words_or_spoken_number() -> None:
    config = _config(
        menu_enabled=True,
        menu_options=[
            {"digit": "1", "label": "Appointments", "words": ["appointment", "appointments", "book"]},
            {"digit": "2", "label": "Billing", "words": ["billing", "pay a bill"]},
        ],
    )
    assert choose_option(config, "2", None).label == "Billing"  # type: ignore[union-attr]
    assert choose_option(config, "9", None) is None
    assert choose_option(config, None, "I'd like to book a cleaning").label == "Appointments"  # type: ignore[union-attr]
    assert choose_option(config, None, "I want to pay a bill").label == "Billing"  # type: ignore[union-attr]
    assert choose_option(config, None, "Two.").label == "Billing"  # type: ignore[union-attr]
    assert choose_option(config, None, "umm") is None
    with pytest.raises(ValidationError):
        _config(menu_enabled=True, menu_options=[])
    with pytest.raises(ValidationError):
        _config(menu_options=[{"digit": "1", "label": "a"}, {"digit": "1", "label": "b"}])


def test_ring_targets_are_on_duty_online_and_free() -> None:
    assert ring_targets([1, 2, 3, 4], on_duty=[1, 2, 3], online=[2, 3, 4], busy=[3]) == [2]
    assert ring_targets(range(30), on_duty=range(30), online=range(30), busy=[]) == list(range(10))
    assert render("Caller number {position} at {location}, {unknown}", position=2, location="North") == (
        "Caller number 2 at North, {unknown}"
    )
    assert identity(12) == "staff_12" and user_of("client:staff_12") == 12
    assert user_of("+12025550100") is None and user_of("client:staff_x") is None


def test_every_step_is_valid_twiml() -> None:
    config = _config(
        menu_enabled=True,
        menu_options=[MenuOption(digit="1", label="Front", words=("front",)).model_dump()],
        record_calls=True,
        hold_music_url="https://music.example/hold.mp3",
    )
    urls = twiml.Urls("https://fd.example/twilio/voice", 7)
    documents = [
        twiml.menu(config, urls, 1, greet="Hello", again=True),
        twiml.ring(config, urls, [1, 2], {"call_id": "7"}, greet="Hi"),
        twiml.enqueue(3, urls, greet="Please wait"),
        twiml.queue_wait(config, 2, 10),
        twiml.queue_wait(config, 2, 10_000),
        twiml.hold_music(config),
        twiml.voicemail(config, urls, prompt="Leave a message"),
        twiml.say_then_hang_up("Bye"),
        twiml.hang_up(),
        twiml.reject(),
        twiml.say_then_menu("We are at 1 Main St.", urls, 2),
        twiml.dial_patient(config, urls, "+12025550100", "+12025550143"),
        twiml.dequeue(config, 3, twiml.Urls("https://fd.example/twilio/voice", 0), by=5),
        twiml.conference(config, urls, "call-7", staff=True, end_on_exit=True),
        twiml.say_only("Connecting you now."),
    ]
    for document in documents:
        assert_twiml(document)
    ring = assert_twiml(documents[1])
    clients = ring.findall("./Dial/Client")
    assert [c.findtext("Identity") for c in clients] == ["staff_1", "staff_2"]
    assert clients[0].find("Parameter").attrib == {"name": "call_id", "value": "7"}  # type: ignore[union-attr]
    assert ring.find("Dial").attrib["action"] == "https://fd.example/twilio/voice/dial?call=7"  # type: ignore[union-attr]
    assert ring.find("Say").text == "Hi"  # type: ignore[union-attr]
    assert assert_twiml(documents[4]).find("Leave") is not None  # waited too long: leave the queue
