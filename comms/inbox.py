"""The conversation list and the moves staff make on a thread: assign, close, reopen, snooze, read."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, replace
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, CompoundSelect, Select, and_, func, or_, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit, list_rows
from comms.access import Actor
from comms.errors import InvalidRequest, NotFound
from comms.models import (
    Contact,
    Conversation,
    ConversationRead,
    OptOut,
    StaffLocation,
    StaffUser,
    Team,
    TeamMember,
    TimelineItem,
    utcnow,
)
from comms.notifications import notify
from comms.services import Services, Unit
from comms.summaries import conversation_state
from comms.timeline import add_activity, conversation_for
from routing.audience import Audience
from schemas.inbox import (
    ConversationPage,
    ConversationState,
    ConversationUpdated,
    Status,
    ThreadSummary,
)
from schemas.inbox import ConversationRead as ConversationReadEvent

MAX_PAGE = 100
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class ListFilter:
    """What the list shows; every field narrows it, None means "any"."""

    status: Status | None = "open"
    assignee: str = "anyone"  # "me", "unassigned", "anyone" or a staff id
    unread: bool = False
    channel: str | None = None
    location_id: int | None = None
    team_id: int | None = None


def encode_cursor(at: dt.datetime, conv_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{conv_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, conv_id = raw.rsplit("|", 1)
        moment = dt.datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(conv_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidRequest("cursor is not one this server issued") from None


def _conditions(actor: Actor, flt: ListFilter) -> list[ColumnElement[bool]]:
    """The filter as WHERE terms on conversations (and the actor's read marker, for "unread")."""
    read = ConversationRead
    terms: list[ColumnElement[bool]] = []
    if flt.location_id is not None:
        actor.require_location(flt.location_id)
        terms.append(Conversation.location_id == flt.location_id)
    elif actor.locations is not None:
        terms.append(Conversation.location_id.in_(sorted(actor.locations)))
    now = utcnow()
    if flt.status == "open":
        terms.append(
            or_(
                Conversation.status == "open",
                and_(Conversation.status == "snoozed", Conversation.snoozed_until <= now),
            )
        )
    elif flt.status == "snoozed":
        terms += [Conversation.status == "snoozed", Conversation.snoozed_until > now]
    elif flt.status == "closed":
        terms.append(Conversation.status == "closed")
    if flt.assignee == "me":
        terms.append(Conversation.assignee_id == actor.user_id)
    elif flt.assignee == "unassigned":
        terms.append(Conversation.assignee_id.is_(None))
    elif flt.assignee.isdigit():
        terms.append(Conversation.assignee_id == int(flt.assignee))
    elif flt.assignee != "anyone":
        raise InvalidRequest("assignee must be me, unassigned, anyone or a staff id")
    if flt.team_id is not None:
        terms.append(Conversation.team_id == flt.team_id)
    if flt.unread:
        terms.append(Conversation.last_inbound_id > func.coalesce(read.last_read_item_id, 0))
    if flt.channel:
        terms.append(Conversation.channels.contains(f",{flt.channel},"))
    return terms


def _read_join(actor: Actor) -> ColumnElement[bool]:
    read = ConversationRead
    return and_(read.conversation_id == Conversation.id, read.user_id == actor.user_id)


def _filtered(actor: Actor, flt: ListFilter) -> Select[Conversation, Contact, TimelineItem]:
    return _narrowed(
        select(Conversation, Contact, TimelineItem)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(TimelineItem, TimelineItem.id == Conversation.last_item_id),
        actor,
        flt,
    )


def _narrowed(query: Select[*Ts], actor: Actor, flt: ListFilter) -> Select[*Ts]:
    """The filter applied to a query over conversations (joined to this staff member's read marker)."""
    return query.outerjoin(ConversationRead, _read_join(actor)).where(*_conditions(actor, flt))


NEWEST_FIRST = (Conversation.last_item_at.desc(), Conversation.id.desc())


def _per_location_ids(
    actor: Actor, flt: ListFilter, keyset: list[ColumnElement[bool]], most: int
) -> CompoundSelect[int] | None:
    """For a staff member of several locations: each location's newest `most` ids, united.

    `location_id IN (a, b)` sorted by time makes the database sort every conversation of those
    locations (seconds at 100,000); one ordered index range per location stops after `most` rows.
    """
    if flt.location_id is not None or actor.locations is None or len(actor.locations) < 2:
        return None
    branches = [
        select(Conversation.id)
        .outerjoin(ConversationRead, _read_join(actor))
        .where(*_conditions(actor, replace(flt, location_id=location)), *keyset)
        .order_by(*NEWEST_FIRST)
        .limit(most)
        .subquery()
        for location in sorted(actor.locations)
    ]
    return union_all(*(select(branch.c.id) for branch in branches))


async def _unread_counts(session: AsyncSession, user_id: int, conversation_ids: list[int]) -> dict[int, int]:
    if not conversation_ids:
        return {}
    read = ConversationRead
    rows = await session.execute(
        select(TimelineItem.conversation_id, func.count())
        .outerjoin(read, and_(read.conversation_id == TimelineItem.conversation_id, read.user_id == user_id))
        .where(
            TimelineItem.conversation_id.in_(conversation_ids),
            TimelineItem.direction == "in",
            TimelineItem.id > func.coalesce(read.last_read_item_id, 0),
        )
        .group_by(TimelineItem.conversation_id)
    )
    return {conv_id: count for conv_id, count in rows}


async def list_conversations(
    services: Services, actor: Actor, flt: ListFilter, cursor: str | None = None, limit: int = 50
) -> ConversationPage:
    """One page, newest activity first, continued by an opaque keyset cursor (no OFFSET scans)."""
    limit = max(1, min(limit, MAX_PAGE))
    keyset: list[ColumnElement[bool]] = []
    if cursor:
        at, conv_id = decode_cursor(cursor)
        keyset.append(
            or_(
                Conversation.last_item_at < at,
                and_(Conversation.last_item_at == at, Conversation.id < conv_id),
            )
        )
    query = _narrowed(list_rows.columns_select(), actor, flt).where(*keyset)
    ids = _per_location_ids(actor, flt, keyset, limit + 1)
    if ids is not None:
        query = query.where(Conversation.id.in_(ids))
    query = query.order_by(*NEWEST_FIRST).limit(limit + 1)
    async with services.read() as session:
        rows = (await session.execute(query)).all()
        page = rows[:limit]
        found = await list_rows.addresses(session, [list_rows.contact_id(r) for r in page])
    items = [list_rows.page_item(row, found) for row in page]
    next_cursor = encode_cursor(*list_rows.keyset_of(page[-1])) if len(rows) > limit else None
    return ConversationPage(items=items, next_cursor=next_cursor)


async def get_conversation(services: Services, actor: Actor, conversation_id: int) -> ThreadSummary:
    """One summary (for a thread's header), with this staff member's unread count; the read is audited."""
    async with services.unit() as unit:
        session = unit.session
        row = (
            await session.execute(
                _filtered(actor, ListFilter(status=None)).where(Conversation.id == conversation_id)
            )
        ).first()
        if row is None:
            raise NotFound("no such conversation")
        unread = await _unread_counts(session, actor.user_id, [conversation_id])
        conv, contact, last = row
        phones = [p.e164 for p in contact.phones]
        blocked = await session.scalar(
            select(OptOut.id).where(OptOut.practice_id == contact.practice_id, OptOut.e164.in_(phones[:1]))
        )
        audit.record(session, actor, "view", "conversation", conv.id, {"summary": True})
    return ThreadSummary(
        **conversation_state(conv, contact, last).model_dump(),
        unread=unread.get(conv.id, 0),
        opted_out=blocked is not None,
    )


async def publish_state(unit: Unit, conv: Conversation) -> ConversationState:
    """Queue a conversation.updated event carrying the state every viewer shares, and return it."""
    contact = await unit.session.get(Contact, conv.contact_id)
    last = await unit.session.get(TimelineItem, conv.last_item_id) if conv.last_item_id else None
    if contact is None:
        raise NotFound("the conversation's contact is gone")
    state = conversation_state(conv, contact, last)
    unit.publish(
        ConversationUpdated(location_id=conv.location_id, conversation=state),
        Audience.location(conv.location_id),
    )
    return state


async def _staff_name(session: AsyncSession, user_id: int) -> str:
    name = await session.scalar(select(StaffUser.name).where(StaffUser.id == user_id))
    return name or "someone"


async def assign(
    services: Services,
    actor: Actor,
    conversation_id: int,
    assignee_id: int | None,
    note: str | None = None,
    team_id: int | None = None,
) -> ConversationState:
    """Hand the thread to a staff member who may see its location, to a team, or to nobody, with a note."""
    async with services.unit() as unit:
        s = unit.session
        conv = await conversation_for(unit, actor, conversation_id)
        if assignee_id is not None:
            await _check_assignee(s, actor, assignee_id, conv.location_id)
        team_members: list[int] = []
        team_name = None
        if team_id is not None:
            team = await s.get(Team, team_id)
            if team is None or team.practice_id != actor.practice_id:
                raise InvalidRequest("no such team")
            team_name = team.name
            team_members = list(
                await s.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id))
            )
        previous = (conv.assignee_id, conv.team_id)
        conv.assignee_id, conv.team_id = assignee_id, team_id
        who = await _staff_name(s, assignee_id) if assignee_id else None
        target = " and ".join(x for x in (who, f"team {team_name}" if team_name else None) if x) or "nobody"
        body = f"Assigned to {target}" + (f": {note}" if note else "")
        item = await add_activity(
            unit,
            conv,
            body,
            {"action": "assign", "from": previous[0], "to": assignee_id, "team": team_id},
            author_id=actor.user_id,
        )
        notified = {assignee_id} if assignee_id is not None else set(team_members)
        for user_id in sorted(u for u in notified if u is not None and u != actor.user_id):
            await notify(unit, user_id, "assigned", actor.user_id, conversation_id=conv.id, item_id=item.id)
        audit.record(
            s,
            actor,
            "assign",
            "conversation",
            conv.id,
            {"from": previous[0], "to": assignee_id, "from_team": previous[1], "team": team_id},
        )
        return await publish_state(unit, conv)


async def _check_assignee(s: AsyncSession, actor: Actor, assignee_id: int, location_id: int) -> None:
    """Only an active colleague who works at the conversation's location can take it."""
    assignee = await s.get(StaffUser, assignee_id)
    if assignee is None or not assignee.active or assignee.practice_id != actor.practice_id:
        raise InvalidRequest("no such staff member")
    if assignee.role != "admin":
        allowed = await s.scalar(
            select(StaffLocation.user_id).where(
                StaffLocation.user_id == assignee_id, StaffLocation.location_id == location_id
            )
        )
        if allowed is None:
            raise InvalidRequest(f"{assignee.name} does not work at this location")


async def set_status(
    services: Services, actor: Actor, conversation_id: int, status: Status, snoozed_until: dt.datetime | None
) -> ConversationState:
    """Close, reopen, or snooze until a time in the future."""
    if status == "snoozed":
        if snoozed_until is None or snoozed_until.tzinfo is None:
            raise InvalidRequest("snoozing needs snoozed_until with a time zone")
        if snoozed_until <= utcnow():
            raise InvalidRequest("snoozed_until must be in the future")
    async with services.unit() as unit:
        s = unit.session
        conv = await conversation_for(unit, actor, conversation_id)
        conv.status = status
        conv.snoozed_until = snoozed_until if status == "snoozed" else None
        words = {"open": "Reopened", "closed": "Closed", "snoozed": "Snoozed"}[status]
        await add_activity(
            unit,
            conv,
            f"{words} by {await _staff_name(s, actor.user_id)}",
            {"action": status},
            author_id=actor.user_id,
        )
        audit.record(s, actor, status, "conversation", conv.id)
        return await publish_state(unit, conv)


async def mark_read(services: Services, actor: Actor, conversation_id: int, item_id: int) -> int:
    """Move this staff member's read marker forward (never back); returns the marker."""
    async with services.unit() as unit:
        s = unit.session
        conv = await conversation_for(unit, actor, conversation_id)
        marker = min(item_id, conv.last_item_id or 0)
        sqlite = services.settings.database.is_sqlite
        insert = sqlite_insert if sqlite else pg_insert
        statement = insert(ConversationRead).values(
            conversation_id=conv.id, user_id=actor.user_id, last_read_item_id=marker, read_at=utcnow()
        )
        statement = statement.on_conflict_do_update(
            index_elements=["conversation_id", "user_id"],
            set_={
                "last_read_item_id": func.max(ConversationRead.last_read_item_id, marker)
                if sqlite
                else func.greatest(ConversationRead.last_read_item_id, marker),
                "read_at": utcnow(),
            },
        )
        await s.execute(statement)
        current = await s.scalar(
            select(ConversationRead.last_read_item_id).where(
                ConversationRead.conversation_id == conv.id, ConversationRead.user_id == actor.user_id
            )
        )
        marker = int(current or 0)
        unit.publish(
            ConversationReadEvent(conversation_id=conv.id, last_read_item_id=marker),
            Audience.staff(actor.user_id),
        )
        return marker
