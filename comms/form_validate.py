"""Checking intake forms, with no I/O: a template definition is coherent, and a patient's answers fit the
version they answer (kinds, required fields, show-if conditions, uploads that belong to the field).

The patient's page runs the same rules as they type; these are the ones that decide what is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from comms.contacts import normalize_email
from comms.errors import InvalidRequest
from comms.one_line import has_controls
from comms.phones import to_e164
from schemas.forms import Answer, FormDefinition, FormField

MAX_TEXT = 2000
NAME_MOST = 100  # the contact record's limit
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2100, 12, 31)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Which kinds of field may fill which contact field (a state or an insurer may be picked from a list).
MAPS: dict[str, frozenset[str]] = {
    "first_name": frozenset({"text"}),
    "last_name": frozenset({"text"}),
    "date_of_birth": frozenset({"date"}),
    "email": frozenset({"email"}),
    "address_line1": frozenset({"text"}),
    "address_line2": frozenset({"text"}),
    "address_city": frozenset({"text"}),
    "address_region": frozenset({"text", "choice"}),
    "address_postal_code": frozenset({"text"}),
    "insurance_carrier": frozenset({"text", "choice"}),
    "insurance_member_id": frozenset({"text"}),
    "insurance_group_number": frozenset({"text"}),
    "insurance_card": frozenset({"file"}),
}
# The contact record's column sizes: a longer answer is refused as the patient types it.
LIMITS = {
    "first_name": NAME_MOST,
    "last_name": NAME_MOST,
    "address_line1": 200,
    "address_line2": 200,
    "address_city": 100,
    "address_region": 100,
    "address_postal_code": 20,
    "insurance_carrier": 200,
    "insurance_member_id": 64,
    "insurance_group_number": 64,
}
REQUIRED = "This is required."


def all_fields(definition: FormDefinition) -> list[FormField]:
    """The fields in the order the patient meets them."""
    return [f for section in definition.sections for f in section.fields]


def check_definition(definition: FormDefinition) -> None:
    """Refuse a definition the patient's page could not make sense of; the message names the field."""
    seen: dict[str, FormField] = {}
    mapped: set[str] = set()
    for f in all_fields(definition):
        if f.key in seen:
            raise InvalidRequest(f"two fields are named {f.key!r}")
        if f.kind == "choice" and not f.options:
            raise InvalidRequest(f"the choice {f.key!r} needs at least one option")
        if f.kind != "choice" and f.options:
            raise InvalidRequest(f"only a choice has options ({f.key!r} is a {f.kind})")
        if f.show_if is not None:
            target = seen.get(f.show_if.field)
            if target is None:
                raise InvalidRequest(f"{f.key!r} may only depend on a field before it")
            want = f.show_if.equals
            if target.kind == "checkbox" and not isinstance(want, bool):
                raise InvalidRequest(f"{f.key!r} depends on a checkbox: compare with true or false")
            if target.kind != "checkbox" and not isinstance(want, str):
                raise InvalidRequest(f"{f.key!r} depends on {target.key!r}: compare with a text value")
            if target.kind == "choice" and want not in target.options:
                raise InvalidRequest(f"{f.key!r} depends on an option {target.key!r} does not have")
            if target.kind in ("signature", "file"):
                raise InvalidRequest(f"{f.key!r} cannot depend on an upload")
        if f.maps_to is not None:
            if f.kind not in MAPS[f.maps_to]:
                raise InvalidRequest(f"{f.key!r} is a {f.kind} and cannot fill {f.maps_to}")
            if f.maps_to in mapped:
                raise InvalidRequest(f"two fields fill {f.maps_to}")
            mapped.add(f.maps_to)
            limit = LIMITS.get(f.maps_to)
            if limit is not None and any(len(option) > limit for option in f.options):
                # refused here, not when the patient picks it and cannot complete the form
                raise InvalidRequest(
                    f"an option of {f.key!r} is longer than the {limit} characters {f.maps_to} can hold"
                )
        if any(has_controls(option) for option in f.options):
            raise InvalidRequest(f"an option of {f.key!r} contains control characters")
        seen[f.key] = f


class FieldError(ValueError):
    """One answer that does not fit its field; the message is for the patient."""


def _text(value: Answer, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise FieldError("Please type your answer.")
    if has_controls(value):  # C0 and C1 controls (NUL: PostgreSQL refuses it) and lone surrogates
        raise FieldError("This contains characters that cannot be saved.")
    text = value.strip()
    if len(text) > limit:
        raise FieldError(f"Please keep this under {limit} characters.")
    return text


def _date(value: Answer, f: FormField, today: dt.date) -> str:
    text = _text(value, 10)
    try:
        day = dt.date.fromisoformat(text) if _DATE.match(text) else None
    except ValueError:
        day = None
    if day is None:
        raise FieldError("Please enter a real date (year-month-day).")
    if not EARLIEST <= day <= LATEST:
        raise FieldError("Please check the year.")
    if f.maps_to == "date_of_birth" and day > today:
        raise FieldError("A date of birth cannot be in the future.")
    return day.isoformat()


def check_value(f: FormField, value: Answer, uploads: Mapping[int, str], today: dt.date) -> Answer:
    """The stored form of one non-empty answer, or FieldError saying what to fix."""
    if f.kind == "text":
        if f.maps_to in LIMITS:  # a record column holds one line: tabs and line breaks become spaces
            return _text(" ".join(_text(value).split()), LIMITS[f.maps_to])
        return _text(value, MAX_TEXT)
    if f.kind == "date":
        return _date(value, f, today)
    if f.kind == "phone":
        try:
            return to_e164(_text(value, 40))
        except InvalidRequest:
            raise FieldError("Please enter a phone number we can call, with its area code.") from None
    if f.kind == "email":
        try:
            return normalize_email(_text(value, 320))
        except InvalidRequest:
            raise FieldError("Please enter an e-mail address like name@example.com.") from None
    if f.kind == "choice":
        if value not in f.options:
            raise FieldError("Please pick one of the options.")
        if f.maps_to is not None and len(str(value)) > LIMITS.get(f.maps_to, MAX_TEXT):
            raise FieldError("This option cannot be saved: please tell the office.")
        return value
    if f.kind == "checkbox":
        if not isinstance(value, bool):
            raise FieldError("Please tick the box or leave it empty.")
        return value
    # signature, file: the id of an upload the patient made for this very field
    if isinstance(value, bool) or not isinstance(value, int) or uploads.get(value) != f.key:
        raise FieldError("Please upload this again." if f.kind == "file" else "Please sign again.")
    return value


def _empty(f: FormField, value: Answer) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    return f.kind == "checkbox" and value is False


@dataclass
class Checked:
    """Answers that fit (to store) and, by field key, what is wrong with the rest."""

    answers: dict[str, Answer] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def check_answers(
    definition: FormDefinition,
    answers: Mapping[str, Answer],
    uploads: Mapping[int, str],
    *,
    final: bool,
    today: dt.date,
) -> Checked:
    """Check answers against a version; `final` (a submission) also requires every shown required field.

    Hidden fields' answers are dropped, so a condition the patient changed leaves nothing behind.
    """
    out = Checked()
    fields = all_fields(definition)
    known = {f.key for f in fields}
    if any(key not in known for key in answers):
        out.errors["_form"] = "Some answers do not belong to this form. Please reload the page."
    shown: set[str] = set()
    for f in fields:
        value = answers.get(f.key)
        cond = f.show_if  # checked answers of earlier fields decide; a hidden field hides its dependants
        if cond is not None and not (cond.field in shown and out.answers.get(cond.field) == cond.equals):
            continue
        shown.add(f.key)
        if _empty(f, value):
            if final and f.required:
                out.errors[f.key] = REQUIRED
            elif f.kind == "checkbox":  # unticked is an answer: false (conditions can depend on it)
                out.answers[f.key] = False
            continue
        try:
            out.answers[f.key] = check_value(f, value, uploads, today)
        except FieldError as exc:
            out.errors[f.key] = str(exc)
    return out


def contact_fields(definition: FormDefinition, answers: Mapping[str, Answer]) -> dict[str, str | int]:
    """Contact field → value, for the answers of fields that fill one (checked answers only): text, or
    the card photo's upload id. An empty answer fills nothing (it never clears what the record has)."""
    out: dict[str, str | int] = {}
    for f in all_fields(definition):
        value = answers.get(f.key)
        if f.maps_to is None or isinstance(value, bool) or value is None or value == "":
            continue
        if isinstance(value, int) == (f.maps_to == "insurance_card"):
            out[f.maps_to] = value
    return out
