"""Intake form contracts: a template version's definition (sections and fields), staff requests to fill
one in, and what the patient's page sends back (answers, by field key)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FieldKind = Literal["text", "date", "phone", "email", "choice", "checkbox", "signature", "file"]
FormStatus = Literal["sent", "opened", "in_progress", "completed", "expired"]
# The contact record fields an answer may fill in when the form is completed.
ContactField = Literal[
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "address_line1",
    "address_line2",
    "address_city",
    "address_region",
    "address_postal_code",
    "insurance_carrier",
    "insurance_member_id",
    "insurance_group_number",
    "insurance_card",
]
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MAX_OPTION = 100  # characters in one choice option
Answer = str | bool | int | None  # text-like kinds: str; checkbox: bool; signature and file: an upload id


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _clean(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


def _named(value: str) -> str:
    """A template's name is tidied where it is stored (comms.one_line), which refuses controls first:
    collapsing it here would turn a C1 control Python counts as a space (NEL) into one unseen."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class ShowIf(_Strict):
    """Show a field only when an earlier field has this value (a checkbox: true or false)."""

    field: str = Field(pattern=KEY_PATTERN)
    equals: str | bool


class FormField(_Strict):
    key: str = Field(pattern=KEY_PATTERN, description="the answer's name; unique in the form")
    label: str = Field(min_length=1, max_length=200)
    kind: FieldKind
    required: bool = False
    help: str | None = Field(None, max_length=500)
    options: list[str] = Field(default_factory=list, max_length=50, description="a choice's options")
    show_if: ShowIf | None = None
    maps_to: ContactField | None = Field(None, description="completing the form updates this contact field")

    @field_validator("label")
    @classmethod
    def _trim_label(cls, value: str) -> str:
        return _clean(value)

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str]) -> list[str]:
        cleaned = [_clean(v) for v in value]
        if any(len(v) > MAX_OPTION for v in cleaned):
            # Cutting it short would change what the admin wrote without a word; say so instead.
            raise ValueError(f"an option is longer than {MAX_OPTION} characters")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("options must differ from each other")
        return cleaned


class FormSection(_Strict):
    title: str = Field(min_length=1, max_length=200)
    fields: list[FormField] = Field(min_length=1, max_length=100)

    @field_validator("title")
    @classmethod
    def _trim_title(cls, value: str) -> str:
        return _clean(value)


class FormDefinition(_Strict):
    """What a template version asks; frozen once the version is published."""

    sections: list[FormSection] = Field(min_length=1, max_length=30)


class FormTemplateIn(_Strict):
    """A new template: its name and the definition of its first (draft) version."""

    name: str = Field(min_length=1, max_length=200)
    definition: FormDefinition

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        return _named(value)


class FormTemplatePatch(_Strict):
    """Rename or archive a template (an archived one can no longer be sent)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    archived: bool | None = None

    @field_validator("name")
    @classmethod
    def _patch_name_not_blank(cls, value: str | None) -> str | None:
        return None if value is None else _named(value)


class FormVersionIn(_Strict):
    """The definition of the template's draft version (a new draft when the latest is published)."""

    definition: FormDefinition


class FormVersionOut(_Strict):
    id: int
    template_id: int
    version: int
    status: Literal["draft", "published"]
    definition: FormDefinition
    published_at: dt.datetime | None
    created_at: dt.datetime


class FormTemplateOut(_Strict):
    id: int
    name: str
    archived: bool
    published_version_id: int | None = Field(description="the newest published version, what gets sent")
    versions: list[FormVersionOut]
    created_at: dt.datetime


class FormRequestIn(_Strict):
    """Send the thread's patient a form (the newest published version of a template) by text or e-mail."""

    template_id: int = Field(ge=1)
    channel: Literal["sms", "email"] = Field("sms", description="how the link goes: a text or an e-mail")
    expires_in_days: int | None = Field(None, ge=1, le=90, description="default: forms.link_days")


class FormUploadOut(_Strict):
    id: int
    field: str
    content_type: str
    size: int
    url: str = Field(description="staff-only URL of the file (each fetch audited)")


class FormRequestOut(_Strict):
    id: int
    conversation_id: int
    contact_id: int
    location_id: int
    item_id: int | None
    template_id: int
    template_name: str
    version_id: int
    version: int
    status: FormStatus
    expires_at: dt.datetime
    opened_at: dt.datetime | None
    completed_at: dt.datetime | None
    reminders_sent: int
    created_at: dt.datetime


class FormRequestDetail(FormRequestOut):
    """A request with what the patient answered (staff only, audited)."""

    patient_name: str
    location_name: str
    definition: FormDefinition
    answers: dict[str, Answer]
    uploads: list[FormUploadOut]
    contact_updates: list[str] = Field(description="contact fields the completed form changed")


class AnswersIn(_Strict):
    """The patient's answers so far (a draft) or in full (a submission), by field key."""

    answers: dict[str, Answer] = Field(max_length=500)


class AnswersOut(_Strict):
    status: FormStatus
    errors: dict[str, str] = Field(description="field key → what is wrong (those answers were not saved)")
