"""Form definitions and answers checked with no I/O: kinds, required fields, show-if, uploads that belong
to their field, and the Big List of Naughty Strings in every kind of field."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from pydantic import ValidationError

from comms.errors import InvalidRequest
from comms.form_validate import REQUIRED, all_fields, check_answers, check_definition, contact_fields
from schemas.forms import FormDefinition, FormField
from tests.conftest import testdata as shared_file

TODAY = dt.date(2026, 12, 2)


def intake() -> FormDefinition:
    return FormDefinition.model_validate(
        {
            "sections": [
                {
                    "title": "About you",
                    "fields": [
                        {
                            "key": "first",
                            "label": "First name",
                            "kind": "text",
                            "required": True,
                            "maps_to": "first_name",
                        },
                        {
                            "key": "last",
                            "label": "Last name",
                            "kind": "text",
                            "required": True,
                            "maps_to": "last_name",
                        },
                        {
                            "key": "dob",
                            "label": "Date of birth",
                            "kind": "date",
                            "required": True,
                            "maps_to": "date_of_birth",
                        },
                        {"key": "mail", "label": "E-mail", "kind": "email", "maps_to": "email"},
                        {"key": "cell", "label": "Mobile", "kind": "phone"},
                    ],
                },
                {
                    "title": "Insurance",
                    "fields": [
                        {"key": "insured", "label": "Do you have dental insurance?", "kind": "checkbox"},
                        {
                            "key": "carrier",
                            "label": "Insurer",
                            "kind": "choice",
                            "required": True,
                            "options": ["Delta", "Cigna", "Other"],
                            "show_if": {"field": "insured", "equals": True},
                        },
                        {
                            "key": "carrier_other",
                            "label": "Which?",
                            "kind": "text",
                            "required": True,
                            "show_if": {"field": "carrier", "equals": "Other"},
                        },
                        {
                            "key": "card",
                            "label": "Card photo",
                            "kind": "file",
                            "show_if": {"field": "insured", "equals": True},
                        },
                    ],
                },
                {
                    "title": "Consent",
                    "fields": [
                        {"key": "agree", "label": "I agree", "kind": "checkbox", "required": True},
                        {"key": "sign", "label": "Signature", "kind": "signature", "required": True},
                    ],
                },
            ]
        }
    )


def check(answers: dict[str, Any], uploads: dict[int, str] | None = None, final: bool = True) -> Any:
    return check_answers(intake(), answers, uploads or {}, final=final, today=TODAY)


FULL = {
    "first": "  Ana ",
    "last": "Ng",
    "dob": "1990-04-23",
    "mail": " Ana@Example.COM ",
    "cell": "(202) 555-0199",
    "insured": True,
    "carrier": "Other",
    "carrier_other": "Aetna",
    "card": 7,
    "agree": True,
    "sign": 8,
}


def test_a_complete_form_is_stored_normalized() -> None:
    out = check(FULL, {7: "card", 8: "sign"})
    assert out.errors == {}
    assert out.answers["first"] == "Ana"
    assert out.answers["mail"] == "ana@example.com"
    assert out.answers["cell"] == "+12025550199"
    assert contact_fields(intake(), out.answers) == {
        "first_name": "Ana",
        "last_name": "Ng",
        "date_of_birth": "1990-04-23",
        "email": "ana@example.com",
    }


def test_required_fields_are_named_only_on_submission() -> None:
    final = check({})
    assert final.errors == {
        "first": REQUIRED,
        "last": REQUIRED,
        "dob": REQUIRED,
        "agree": REQUIRED,
        "sign": REQUIRED,
    }
    draft = check({"first": "Ana"}, final=False)
    assert draft.errors == {} and draft.answers == {"first": "Ana", "insured": False, "agree": False}


def test_hidden_fields_are_neither_required_nor_kept() -> None:
    answers = {**FULL, "insured": False}
    out = check(answers, {7: "card", 8: "sign"})
    assert out.errors == {}
    assert "carrier" not in out.answers and "carrier_other" not in out.answers and "card" not in out.answers
    # a condition on a condition: carrier_other needs carrier == Other
    out = check({**FULL, "carrier": "Delta"}, {7: "card", 8: "sign"})
    assert "carrier_other" not in out.answers and out.errors == {}
    # shown and required
    out = check({**FULL, "carrier_other": ""}, {7: "card", 8: "sign"})
    assert out.errors == {"carrier_other": REQUIRED}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dob", "1990-02-30", "real date"),
        ("dob", "23/04/1990", "real date"),
        ("dob", "2030-01-01", "future"),
        ("dob", "1850-01-01", "year"),
        ("mail", "ana at example", "e-mail"),
        ("cell", "12", "phone"),
        ("carrier", "Kaiser", "options"),
        ("insured", "yes", "tick"),
        ("first", 12, "type"),
        ("first", "x" * 101, "under 100"),  # the record's limit for a name
        ("carrier_other", "x" * 2001, "under 2000"),
        ("first", "Ana\x00", "cannot be saved"),
        ("first", "\ud800", "cannot be saved"),
    ],
)
def test_a_bad_answer_gets_a_message_and_is_not_kept(key: str, value: Any, message: str) -> None:
    out = check({**FULL, key: value}, {7: "card", 8: "sign"}, final=False)
    assert message in out.errors[key]
    assert key not in out.answers
    assert out.answers["last"] == "Ng"  # the others still count


def test_an_upload_counts_only_for_its_own_field() -> None:
    out = check(FULL, {7: "sign", 8: "card"})  # swapped: each belongs to the other field
    assert set(out.errors) == {"card", "sign"}
    out = check({**FULL, "sign": True}, {7: "card", 8: "sign"})  # a bool is not an id
    assert "sign" in out.errors
    out = check({**FULL, "sign": 99}, {7: "card", 8: "sign"})  # someone else's upload
    assert "sign" in out.errors


def test_answers_to_questions_the_form_does_not_ask_are_refused() -> None:
    out = check({**FULL, "ssn": "123-45-6789"}, {7: "card", 8: "sign"})
    assert "_form" in out.errors and "ssn" not in out.answers


def _definition(*fields: dict[str, Any]) -> FormDefinition:
    return FormDefinition.model_validate({"sections": [{"title": "S", "fields": list(fields)}]})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            ({"key": "a", "label": "A", "kind": "text"}, {"key": "a", "label": "B", "kind": "text"}),
            "two fields",
        ),
        (({"key": "a", "label": "A", "kind": "choice"},), "at least one option"),
        (({"key": "a", "label": "A", "kind": "text", "options": ["x"]},), "only a choice"),
        (
            (
                {"key": "a", "label": "A", "kind": "text", "show_if": {"field": "b", "equals": "x"}},
                {"key": "b", "label": "B", "kind": "text"},
            ),
            "before it",
        ),
        (
            (
                {"key": "b", "label": "B", "kind": "checkbox"},
                {"key": "a", "label": "A", "kind": "text", "show_if": {"field": "b", "equals": "x"}},
            ),
            "true or false",
        ),
        (
            (
                {"key": "b", "label": "B", "kind": "choice", "options": ["x"]},
                {"key": "a", "label": "A", "kind": "text", "show_if": {"field": "b", "equals": "y"}},
            ),
            "option",
        ),
        (({"key": "a", "label": "A", "kind": "phone", "maps_to": "email"},), "cannot fill"),
        (({"key": "a", "label": "A", "kind": "file", "maps_to": "address_line1"},), "cannot fill"),
        (({"key": "a", "label": "A", "kind": "text", "maps_to": "insurance_card"},), "cannot fill"),
        (
            ({"key": "a", "label": "A", "kind": "choice", "options": ["x"], "maps_to": "address_city"},),
            "cannot fill",
        ),
        (
            (
                {"key": "a", "label": "A", "kind": "text", "maps_to": "first_name"},
                {"key": "b", "label": "B", "kind": "text", "maps_to": "first_name"},
            ),
            "two fields fill",
        ),
    ],
)
def test_an_incoherent_definition_is_refused(fields: tuple[dict[str, Any], ...], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_definition(_definition(*fields))


def test_the_intake_definition_is_coherent_and_keys_are_plain() -> None:
    check_definition(intake())
    assert [f.key for f in all_fields(intake())][:2] == ["first", "last"]
    with pytest.raises(ValidationError):
        _definition({"key": "Bad Key", "label": "A", "kind": "text"})
    with pytest.raises(ValidationError):
        _definition({"key": "a", "label": "   ", "kind": "text"})


def test_naughty_strings_in_every_kind_of_field_never_break_the_check() -> None:
    strings = [s for s in json.loads(shared_file("blns.json").read_text(encoding="utf-8")) if s.strip()]
    assert len(strings) > 400
    kept = 0
    for s in strings:
        for key in ("first", "dob", "mail", "cell", "carrier", "card"):
            out = check({"insured": True, key: s}, final=False)
            assert (key in out.answers) != (key in out.errors), (key, s)
            if key in out.answers:
                value = out.answers[key]
                assert isinstance(value, str)
                value.encode("utf-8")  # storable on PostgreSQL
                assert "\x00" not in value
                if key == "first":  # it fills the record's first name: one line
                    assert value == " ".join(s.split())
                    kept += 1
                else:
                    assert key in ("dob", "mail", "cell")  # never a choice outside its options, never a file
        # a naughty string as a key is refused, not stored
        out = check({s: "x"}, final=False)
        assert s not in out.answers
    assert kept > 400  # ordinary unicode, scripts and quotes are answers like any other


def test_address_and_insurance_answers_fit_the_records_columns_and_the_card_maps_by_its_upload() -> None:
    definition = _definition(
        {"key": "street", "label": "Street", "kind": "text", "maps_to": "address_line1"},
        {"key": "zip", "label": "ZIP", "kind": "text", "maps_to": "address_postal_code"},
        {
            "key": "state",
            "label": "State",
            "kind": "choice",
            "options": ["DC", "MD"],
            "maps_to": "address_region",
        },
        {"key": "member", "label": "Member ID", "kind": "text", "maps_to": "insurance_member_id"},
        {"key": "card", "label": "Card", "kind": "file", "maps_to": "insurance_card"},
        {"key": "unit", "label": "Unit", "kind": "text", "maps_to": "address_line2"},
    )
    check_definition(definition)
    answers = {
        "street": " 12 Elm St ",
        "zip": "20001",
        "state": "DC",
        "member": "M" * 64,
        "card": 5,
        "unit": "",
    }
    out = check_answers(definition, answers, {5: "card"}, final=True, today=TODAY)
    assert out.errors == {}
    assert contact_fields(definition, out.answers) == {
        "address_line1": "12 Elm St",
        "address_postal_code": "20001",
        "address_region": "DC",
        "insurance_member_id": "M" * 64,
        "insurance_card": 5,
    }  # an empty answer fills nothing
    too_long = check_answers(
        definition, {**answers, "zip": "2" * 21, "member": "M" * 65}, {5: "card"}, final=True, today=TODAY
    )
    assert set(too_long.errors) == {"zip", "member"} and "under 20 characters" in too_long.errors["zip"]


def test_a_choice_option_longer_than_the_record_column_it_fills_is_refused_when_the_admin_saves() -> None:
    definition = _definition(
        {"key": "state", "label": "State", "kind": "choice", "options": ["DC"], "maps_to": "address_region"},
        {"key": "plan", "label": "Plan", "kind": "choice", "options": ["Gold"]},
    )
    # The schema cuts options at 100 characters today, as long as address_region holds: a narrower
    # column (or a longer cut) would leave the patient with an option they cannot submit.
    definition.sections[0].fields[0].options.append("R" * 101)
    definition.sections[0].fields[1].options.append("P" * 101)  # fills nothing: no column to fit
    with pytest.raises(InvalidRequest, match=r"an option of 'state' is longer than the 100 characters"):
        check_definition(definition)
    definition.sections[0].fields[0].options.pop()
    check_definition(definition)
    definition.sections[0].fields[1].options.append("Silver\x00")
    with pytest.raises(InvalidRequest, match="an option of 'plan' contains control characters"):
        check_definition(definition)


def test_an_option_too_long_is_refused_in_words_not_cut_short() -> None:
    with pytest.raises(ValidationError, match="an option is longer than 100 characters"):
        FormField.model_validate({"key": "plan", "label": "Plan", "kind": "choice", "options": ["P" * 101]})
    # Exactly 100 after trimming is kept whole.
    field = FormField.model_validate(
        {"key": "plan", "label": "Plan", "kind": "choice", "options": [" " + "P" * 100]}
    )
    assert field.options == ["P" * 100]
