"""Carrier error codes in words staff understand, and what each means for retrying."""

from __future__ import annotations

from dataclasses import dataclass

# Seconds before the next try, by attempts made so far (1 → 2 s, 2 → 10 s, ...).
BACKOFF_SECONDS = (2, 10, 30, 120, 600, 1800)


@dataclass(frozen=True)
class CarrierError:
    words: str
    retry: bool  # worth another automatic attempt
    opted_out: bool = False
    max_attempts: int | None = None  # a cap below the configured one ("retry a little")


ERRORS: dict[str, CarrierError] = {
    "21610": CarrierError(
        "The patient has opted out of texts (replied STOP). They must text START first.",
        retry=False,
        opted_out=True,
    ),
    "21211": CarrierError("This is not a valid phone number. Check the patient's number.", retry=False),
    "21614": CarrierError("This number cannot receive texts (not a mobile number).", retry=False),
    "30003": CarrierError(
        "The patient's phone is unreachable (off or out of coverage).", retry=True, max_attempts=3
    ),
    "30004": CarrierError("The message was blocked by the patient's phone or carrier.", retry=False),
    "30005": CarrierError("This number does not exist or is no longer in service.", retry=False),
    "30006": CarrierError("This is a landline or a number that cannot receive texts.", retry=False),
    "30007": CarrierError(
        "The carrier filtered this message as possible spam. Rephrase it, or call instead.", retry=False
    ),
    "30008": CarrierError("The carrier reported an unknown delivery error.", retry=True, max_attempts=3),
}


def describe(code: str | None) -> str | None:
    """Staff-facing words for a carrier code; unknown codes still say what happened."""
    if not code:
        return None
    known = ERRORS.get(code)
    return known.words if known else f"The carrier could not deliver this message (error {code})."


def retryable(code: str | None) -> bool:
    """Whether another automatic attempt could succeed (a phone out of coverage comes back)."""
    known = ERRORS.get(code or "")
    return bool(known and known.retry)


def attempt_limit(code: str | None, configured: int) -> int:
    """How many attempts in all a text failing with this code gets: the configured most, or fewer."""
    known = ERRORS.get(code or "")
    cap = known.max_attempts if known is not None and known.max_attempts is not None else configured
    return min(cap, configured)


def opts_out(code: str | None) -> bool:
    """The carrier says the patient unsubscribed: record it as if they had texted STOP to us."""
    known = ERRORS.get(code or "")
    return bool(known and known.opted_out)


def backoff_seconds(attempts: int) -> int:
    """Wait before the next try, growing with the attempts already made."""
    return BACKOFF_SECONDS[min(max(attempts, 1) - 1, len(BACKOFF_SECONDS) - 1)]
