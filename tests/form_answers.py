"""Intake test data for the record an intake fills: a template whose answers map to the address and
the insurance, and a patient's full answers to it."""

from __future__ import annotations

from typing import Any

RECORD_FORM: dict[str, Any] = {
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
                {"key": "dob", "label": "Date of birth", "kind": "date", "maps_to": "date_of_birth"},
                {"key": "mail", "label": "E-mail", "kind": "email", "maps_to": "email"},
                {"key": "street", "label": "Street address", "kind": "text", "maps_to": "address_line1"},
                {"key": "unit", "label": "Apartment or suite", "kind": "text", "maps_to": "address_line2"},
                {"key": "city", "label": "City", "kind": "text", "maps_to": "address_city"},
                {
                    "key": "state",
                    "label": "State",
                    "kind": "choice",
                    "options": ["DC", "MD", "VA"],
                    "maps_to": "address_region",
                },
                {"key": "zip", "label": "ZIP code", "kind": "text", "maps_to": "address_postal_code"},
            ],
        },
        {
            "title": "Insurance",
            "fields": [
                {
                    "key": "insurer",
                    "label": "Insurance company",
                    "kind": "choice",
                    "options": ["Delta Dental", "Cigna"],
                    "maps_to": "insurance_carrier",
                },
                {"key": "member", "label": "Member ID", "kind": "text", "maps_to": "insurance_member_id"},
                {
                    "key": "group",
                    "label": "Group number",
                    "kind": "text",
                    "maps_to": "insurance_group_number",
                },
                {"key": "card", "label": "Photo of your card", "kind": "file", "maps_to": "insurance_card"},
                {"key": "sign", "label": "Your signature", "kind": "signature", "required": True},
            ],
        },
    ]
}


def record_answers(card: int, sign: int, **changes: Any) -> dict[str, Any]:
    """A patient's full answers to RECORD_FORM (with their uploads' ids)."""
    answers: dict[str, Any] = {
        "first": "Ana",
        "last": "Ng",
        "dob": "1990-04-23",
        "mail": "ana.new@example.com",
        "street": "12 Elm Street",
        "unit": "Apt 3",
        "city": "Washington",
        "state": "DC",
        "zip": "20001",
        "insurer": "Delta Dental",
        "member": "DD-4471",
        "group": "G-20",
        "card": card,
        "sign": sign,
    }
    return {**answers, **changes}
