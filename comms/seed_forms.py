"""Demo intake form: a published new-patient template staff can send from any demo thread (and that a
new patient's first booking sends when forms.first_booking_template names it)."""

from __future__ import annotations

from comms.form_models import FormTemplate, FormTemplateVersion
from comms.form_validate import check_definition
from comms.models import utcnow
from comms.services import Services
from schemas.forms import FormDefinition


def _field(key: str, label: str, kind: str, **extra: object) -> dict[str, object]:
    return {"key": key, "label": label, "kind": kind, **extra}


NAME = "New patient intake"
NEW_PATIENT = {
    "sections": [
        {
            "title": "About you",
            "fields": [
                _field("first_name", "First name", "text", required=True, maps_to="first_name"),
                _field("last_name", "Last name", "text", required=True, maps_to="last_name"),
                _field("date_of_birth", "Date of birth", "date", required=True, maps_to="date_of_birth"),
                _field("email", "E-mail", "email", maps_to="email"),
                _field("street", "Street address", "text", maps_to="address_line1"),
                _field("unit", "Apartment, suite (optional)", "text", maps_to="address_line2"),
                _field("city", "City", "text", maps_to="address_city"),
                _field("state", "State", "text", maps_to="address_region"),
                _field("zip", "ZIP code", "text", maps_to="address_postal_code"),
            ],
        },
        {
            "title": "Insurance",
            "fields": [
                _field("insured", "I have dental insurance", "checkbox"),
                _field(
                    "insurer",
                    "Insurance company",
                    "choice",
                    required=True,
                    options=["Delta Dental", "Cigna", "MetLife", "Aetna", "Other"],
                    show_if={"field": "insured", "equals": True},
                    maps_to="insurance_carrier",
                ),
                _field(
                    "member_id",
                    "Member ID",
                    "text",
                    show_if={"field": "insured", "equals": True},
                    maps_to="insurance_member_id",
                ),
                _field(
                    "group_number",
                    "Group number",
                    "text",
                    show_if={"field": "insured", "equals": True},
                    maps_to="insurance_group_number",
                ),
                _field(
                    "card",
                    "Photo of the front of your insurance card",
                    "file",
                    show_if={"field": "insured", "equals": True},
                    maps_to="insurance_card",
                ),
            ],
        },
        {
            "title": "Consent",
            "fields": [
                _field("consent", "I have read and agree to the office policies", "checkbox", required=True),
                _field("signature", "Your signature", "signature", required=True),
            ],
        },
    ]
}


async def seed_forms(services: Services, practice_id: int) -> int:
    """The demo practice's published intake template; returns its id."""
    definition = FormDefinition.model_validate(NEW_PATIENT)
    check_definition(definition)
    async with services.unit() as unit:
        template = FormTemplate(practice_id=practice_id, name=NAME)
        unit.session.add(template)
        await unit.session.flush()
        unit.session.add(
            FormTemplateVersion(
                template_id=template.id,
                version=1,
                status="published",
                definition=definition.model_dump(mode="json"),
                published_at=utcnow(),
            )
        )
        return template.id
