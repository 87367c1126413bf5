"""Twilio voice webhook forms → `VoiceWebhook`. Pure: no I/O, tested on recorded payloads."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from comms.errors import InvalidRequest
from schemas.voice import VoiceWebhook

# Twilio's names for the fields we read, across every voice callback.
_FIELDS = {
    "CallSid": "call_sid",
    "AccountSid": "account_sid",
    "From": "from_",
    "To": "to",
    "CallStatus": "call_status",
    "Direction": "direction",
    "ParentCallSid": "parent_call_sid",
    "Digits": "digits",
    "SpeechResult": "speech_result",
    "DialCallStatus": "dial_call_status",
    "DialCallSid": "dial_call_sid",
    "QueueResult": "queue_result",
    "DequeueingCallSid": "dequeueing_call_sid",
    "RecordingSid": "recording_sid",
    "RecordingUrl": "recording_url",
    "RecordingStatus": "recording_status",
    "TranscriptionStatus": "transcription_status",
    "TranscriptionText": "transcription_text",
    "ConferenceSid": "conference_sid",
    "StatusCallbackEvent": "conference_event",
}
_NUMBERS = {
    "SequenceNumber": "sequence",
    "CallDuration": "call_duration",
    "DialCallDuration": "call_duration",
    "QueueTime": "queue_time",
    "QueuePosition": "queue_position",
    "RecordingDuration": "recording_duration",
}
# What our own pages add to a softphone's outgoing call (through the TwiML App) or a <Parameter>.
CUSTOM_PARAMS = ("action", "conversation_id", "location_id", "call_id")


def voice_webhook(form: Mapping[str, str]) -> VoiceWebhook:
    """Read one voice callback; a missing CallSid or a malformed field is refused, not guessed at."""
    values: dict[str, object] = {}
    for twilio, ours in _FIELDS.items():
        raw = form.get(twilio)
        if raw not in (None, ""):
            values[ours] = raw
    for twilio, ours in _NUMBERS.items():
        raw = form.get(twilio)
        if raw not in (None, ""):
            if not str(raw).isdigit() or len(str(raw)) > 9:
                raise InvalidRequest(f"webhook field {twilio} is not a number")
            values.setdefault(ours, int(str(raw)))
    if "call_sid" not in values and "conference_sid" in values and "recording_sid" in values:
        values["call_sid"] = values["conference_sid"]  # a conference's recording may name no call
    if "call_sid" not in values:
        raise InvalidRequest("webhook is missing CallSid")
    values["params"] = {k: str(form[k])[:100] for k in CUSTOM_PARAMS if form.get(k)}
    try:
        return VoiceWebhook.model_validate(values)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise InvalidRequest(f"webhook has invalid fields: {fields}") from None
