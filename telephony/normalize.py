"""Twilio form posts → our models. Pure: no I/O, tested on recorded payloads."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from comms.errors import InvalidRequest
from schemas.twilio import InboundMedia, InboundSms, SmsStatus

MAX_MEDIA = 10  # Twilio delivers at most 10 media items per message


def _field(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if value is None:
        raise InvalidRequest(f"webhook is missing {name}")
    return value


def inbound_sms(form: Mapping[str, str]) -> InboundSms:
    """An inbound message; MediaUrlN/MediaContentTypeN pairs become media items, checked against NumMedia."""
    raw_count = form.get("NumMedia", "0") or "0"
    if not raw_count.isdigit() or int(raw_count) > MAX_MEDIA:
        raise InvalidRequest("NumMedia must be a number from 0 to 10")
    media = []
    for index in range(int(raw_count)):
        url = _field(form, f"MediaUrl{index}")
        if not url.startswith("https://") and not url.startswith("http://"):
            raise InvalidRequest(f"MediaUrl{index} is not an http(s) URL")
        media.append(InboundMedia(url=url, content_type=form.get(f"MediaContentType{index}", "")))
    opt_out = (form.get("OptOutType") or "").upper() or None
    try:
        return InboundSms(
            message_sid=_field(form, "MessageSid"),
            account_sid=_field(form, "AccountSid"),
            from_number=_field(form, "From"),
            to_number=_field(form, "To"),
            body=form.get("Body", ""),
            media=tuple(media),
            opt_out_type=opt_out if opt_out in ("STOP", "START", "HELP") else None,
        )
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise InvalidRequest(f"webhook has invalid fields: {fields}") from None


def sms_status(form: Mapping[str, str]) -> SmsStatus:
    """A status callback; unknown statuses are refused rather than guessed at."""
    try:
        return SmsStatus(
            message_sid=_field(form, "MessageSid"),
            status=_field(form, "MessageStatus").lower(),
            error_code=form.get("ErrorCode") or None,
        )
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise InvalidRequest(f"status callback has invalid fields: {fields}") from None
