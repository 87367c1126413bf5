"""Summaries of conversations and contacts as the inbox list and events show them."""

from __future__ import annotations

import datetime as dt

from comms.models import Contact, Conversation, TimelineItem, utcnow
from schemas.inbox import ContactBrief, ConversationState, ItemPreview, Status

PREVIEW_CHARS = 160


def contact_brief(contact: Contact) -> ContactBrief:
    return ContactBrief(
        id=contact.id,
        name=contact.display_name,
        is_unknown=contact.is_unknown,
        household_id=contact.household_id,
        phones=[p.e164 for p in contact.phones],
        emails=[e.address for e in contact.emails],
    )


def conversation_state(conv: Conversation, contact: Contact, last: TimelineItem | None) -> ConversationState:
    preview = None
    if last is not None:
        preview = ItemPreview(
            id=last.id,
            kind=last.kind,
            direction=last.direction,
            body=last.body[:PREVIEW_CHARS],
            created_at=last.created_at,
        )
    return ConversationState(
        id=conv.id,
        location_id=conv.location_id,
        status=effective_status(conv),
        assignee_id=conv.assignee_id,
        team_id=conv.team_id,
        snoozed_until=conv.snoozed_until if conv.status == "snoozed" else None,
        last_item_at=conv.last_item_at,
        last_inbound_id=conv.last_inbound_id,
        channels=[c for c in conv.channels.split(",") if c],
        contact=contact_brief(contact),
        last_item=preview,
    )


def effective_status(conv: Conversation) -> Status:
    return status_now(conv.status, conv.snoozed_until)


def status_now(status: str, snoozed_until: dt.datetime | None) -> Status:
    """A snooze that has run out reads as open; nothing has to wake it up."""
    if status == "snoozed" and snoozed_until is not None and snoozed_until <= utcnow():
        return "open"
    return status  # type: ignore[return-value]
