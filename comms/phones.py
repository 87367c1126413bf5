"""Phone numbers in one form everywhere: E.164, parsed by phonenumbers."""

from __future__ import annotations

import phonenumbers

from comms.errors import InvalidRequest

DEFAULT_REGION = "US"


def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """Normalize what a person typed (or a carrier sent) to E.164, or raise InvalidRequest."""
    text = (raw or "").strip()
    if not text:
        raise InvalidRequest("phone number is empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidRequest(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRequest("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str) -> str:
    """A number as staff read it: national format at home, international otherwise."""
    number = phonenumbers.parse(e164, None)
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == DEFAULT_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)
