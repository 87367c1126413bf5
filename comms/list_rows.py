"""The conversation list's page as plain columns, not ORM objects.

A page of 50 spent two thirds of its time loading 150 entities and their phone and e-mail collections
(and the garbage collector paid for them again later); the same page from columns is a few tuples.
The result is the same `ConversationOut` that `summaries.conversation_state` gives for an event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from comms.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    Conversation,
    ConversationRead,
    TimelineItem,
    display_name,
)
from comms.summaries import PREVIEW_CHARS, status_now
from schemas.inbox import ContactBrief, ConversationOut, ItemPreview

COLUMNS = (
    Conversation.id,
    Conversation.location_id,
    Conversation.status,
    Conversation.assignee_id,
    Conversation.team_id,
    Conversation.snoozed_until,
    Conversation.last_item_at,
    Conversation.last_inbound_id,
    Conversation.channels,
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.is_unknown,
    Contact.household_id,
    TimelineItem.id,
    TimelineItem.kind,
    TimelineItem.direction,
    func.substr(TimelineItem.body, 1, PREVIEW_CHARS),
    TimelineItem.created_at,
)
_INBOUND = aliased(TimelineItem)
# This staff member's unread count, counted for the page's rows only (the read marker is joined by the
# list's filter, as "unread" needs it too).
UNREAD = (
    select(func.count())
    .where(
        _INBOUND.conversation_id == Conversation.id,
        _INBOUND.direction == "in",
        _INBOUND.id > func.coalesce(ConversationRead.last_read_item_id, 0),
    )
    .scalar_subquery()
)
_LAST_ITEM_AT, _CONTACT_ID = 6, 9  # where these sit in COLUMNS


def contact_id(row: Row[Any]) -> int:
    return int(row[_CONTACT_ID])


def columns_select() -> Select[Any]:
    """The list's columns, joined as `inbox._filtered` joins the entities; the caller joins the read
    marker (`inbox._narrowed`), which the unread count reads."""
    return (
        select(*COLUMNS, UNREAD)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(TimelineItem, TimelineItem.id == Conversation.last_item_id)
    )


Addresses = tuple[list[str], list[str]]  # a contact's phones and e-mails


async def addresses(session: AsyncSession, contact_ids: Sequence[int]) -> dict[int, Addresses]:
    """Each contact's phones and e-mails in one statement, each in the order the contact keeps them."""
    found: dict[int, Addresses] = {c: ([], []) for c in contact_ids}
    if not contact_ids:
        return found
    ids = sorted(set(contact_ids))
    phones = select(
        ContactPhone.contact_id, literal(0).label("which"), ContactPhone.e164.label("value"), ContactPhone.id
    ).where(ContactPhone.contact_id.in_(ids))
    emails = select(ContactEmail.contact_id, literal(1), ContactEmail.address, ContactEmail.id).where(
        ContactEmail.contact_id.in_(ids)
    )
    both = union_all(phones, emails).subquery()
    rows = await session.execute(select(both.c.contact_id, both.c.which, both.c.value).order_by(both.c.id))
    for owner, which, value in rows:
        found[owner][which].append(value)
    return found


def keyset_of(row: Row[Any]) -> tuple[dt.datetime, int]:
    """Where the list continues after this row: its last activity and id."""
    return row[_LAST_ITEM_AT], int(row[0])


def page_item(row: Row[Any], found: dict[int, Addresses]) -> ConversationOut:
    """One list entry from one row of `columns_select` and its contact's addresses."""
    (conv_id, location_id, status, assignee_id, team_id, snoozed_until, last_item_at, last_inbound_id,
     channels, contact_id, first, last, is_unknown, household_id,
     item_id, kind, direction, preview, created_at, unread) = tuple(row)  # fmt: skip
    phones, emails = found[contact_id]
    return ConversationOut(
        id=conv_id,
        location_id=location_id,
        status=status_now(status, snoozed_until),
        assignee_id=assignee_id,
        team_id=team_id,
        snoozed_until=snoozed_until if status == "snoozed" else None,
        last_item_at=last_item_at,
        last_inbound_id=last_inbound_id,
        channels=[c for c in channels.split(",") if c],
        contact=ContactBrief(
            id=contact_id,
            name=display_name(first, last),
            is_unknown=is_unknown,
            household_id=household_id,
            phones=phones,
            emails=emails,
        ),
        last_item=None
        if item_id is None
        else ItemPreview(id=item_id, kind=kind, direction=direction, body=preview, created_at=created_at),
        unread=unread,
    )
