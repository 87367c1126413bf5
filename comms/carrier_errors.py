"""Carrier error codes in words staff understand, and what each means for retrying."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CarrierError:
    words: str
    retry: bool  # worth another automatic attempt
    opted_out: bool = False


ERRORS: dict[str, CarrierError] = {
    "21610": CarrierError(
        "The patient has opted out of texts (replied STOP). They must text START first.",
        retry=False,
        opted_out=True,
    ),
    "21211": CarrierError("This is not a valid phone number.", retry=False),
    "21614": CarrierError("This number cannot receive texts (not a mobile number).", retry=False),
    "30003": CarrierError("The patient's phone is unreachable (off or out of coverage).", retry=True),
    "30004": CarrierError("The message was blocked by the patient's phone or carrier.", retry=False),
    "30005": CarrierError("This number does not exist or is no longer in service.", retry=False),
    "30006": CarrierError("This is a landline or a number that cannot receive texts.", retry=False),
    "30007": CarrierError(
        "The carrier filtered this message as possible spam. Rephrase it, or call instead.", retry=False
    ),
    "30008": CarrierError("The carrier reported an unknown delivery error.", retry=True),
}


def describe(code: str | None) -> str | None:
    """Staff-facing words for a carrier code; unknown codes still say what happened."""
    if not code:
        return None
    known = ERRORS.get(code)
    return known.words if known else f"The carrier could not deliver this message (error {code})."


def retryable(code: str | None) -> bool:
    known = ERRORS.get(code or "")
    return bool(known and known.retry)
