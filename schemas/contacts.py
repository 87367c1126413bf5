"""Patient records on the wire: reading and editing a contact, merging, choosing the patient, CSV import."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_PHONES = 10
MAX_EMAILS = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhoneOut(_Strict):
    e164: str
    label: str


class HouseholdMember(_Strict):
    id: int
    name: str


class HouseholdOut(_Strict):
    """Patients who share a phone number; a text from it could be from any of them."""

    id: int
    name: str
    members: list[HouseholdMember]


class ContactConversation(_Strict):
    id: int
    location_id: int


class Address(_Strict):
    """A postal address; "" for a part nobody gave."""

    line1: str = Field("", max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field("", max_length=100)
    region: str = Field("", max_length=100, description="state, province or county")
    postal_code: str = Field("", max_length=20)


class Insurance(_Strict):
    """The patient's insurance as they or staff gave it; "" for a part nobody gave."""

    carrier: str = Field("", max_length=200)
    member_id: str = Field("", max_length=64)
    group_number: str = Field("", max_length=64)


class InsuranceOut(Insurance):
    card_url: str | None = Field(
        None, description="the card photo from an intake form (staff-only URL, each fetch audited)"
    )


class ContactOut(_Strict):
    id: int
    first_name: str
    last_name: str
    display_name: str
    date_of_birth: dt.date | None
    is_unknown: bool
    phones: list[PhoneOut] = Field(description="the first number is the one texts go to")
    emails: list[str]
    address: Address
    insurance: InsuranceOut
    household: HouseholdOut | None
    conversations: list[ContactConversation] = Field(
        description="only the conversations at locations this staff member may see"
    )


class ContactMatch(_Strict):
    """A patient record found by name, phone or e-mail (with or without a conversation)."""

    id: int
    name: str
    is_unknown: bool
    date_of_birth: dt.date | None
    phones: list[str]
    emails: list[str]


class PhoneIn(_Strict):
    number: str = Field(min_length=1, max_length=40, description="any common format; stored as E.164")
    label: str = Field("mobile", min_length=1, max_length=30)


class ContactUpdate(_Strict):
    """Fields to change; a field left out stays as it is, `phones` and `emails` replace the whole list."""

    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    date_of_birth: dt.date | None = Field(None, description="null clears it")
    phones: list[PhoneIn] | None = Field(None, max_length=MAX_PHONES)
    emails: list[str] | None = Field(None, max_length=MAX_EMAILS)
    address: Address | None = Field(None, description="replaces the whole address")
    insurance: Insurance | None = Field(None, description="replaces the insurance (the card photo stays)")


class MergeRequest(_Strict):
    merge_id: int = Field(ge=1, description="the duplicate record; it is folded into the one in the path")


class MergeResult(_Strict):
    contact: ContactOut
    conversations_moved: int = Field(description="conversations handed to the kept patient whole")
    conversations_folded: int = Field(description="conversations whose items joined the kept patient's")
    items_moved: int


class MoveItemRequest(_Strict):
    contact_id: int = Field(ge=1, description="a household member listed in the item's meta")
    include_later: bool = Field(False, description="also move later texts from the same number")


class MoveResult(_Strict):
    item_ids: list[int]
    from_conversation_id: int
    to_conversation_id: int


class ImportRequest(_Strict):
    """The JSON form of an import; the raw form is the CSV itself as `text/csv` (`?dry_run=true`)."""

    csv: str = Field(min_length=1, max_length=1024 * 1024)
    dry_run: bool = False


class RejectedRow(_Strict):
    line: int = Field(description="the line of the file where the row starts (the header is line 1)")
    reasons: list[str] = Field(description="what is wrong, by column; values are never echoed")


class ImportReport(_Strict):
    dry_run: bool
    encoding: Literal["utf-8", "cp1252"]
    delimiter: str
    columns: dict[str, str] = Field(description="our field -> the file's header it was read from")
    ignored_columns: list[str]
    rows: int = Field(description="data rows read (blank lines skipped)")
    accepted: int
    created: int = Field(description="patients stored: 0 on a dry run")
    sharing_phone: int = Field(description="accepted rows sharing a number with another patient")
    rejected: list[RejectedRow]


class TimelineItemMoved(_Strict):
    """An item left one conversation for another at the same location (staff chose who wrote it)."""

    type: Literal["timeline.item_moved"] = "timeline.item_moved"
    location_id: int
    item_id: int
    from_conversation_id: int
    to_conversation_id: int


class ConversationMerged(_Strict):
    """A duplicate's conversation was folded into another and no longer exists; lists drop it."""

    type: Literal["conversation.merged"] = "conversation.merged"
    location_id: int
    conversation_id: int
    into_conversation_id: int
