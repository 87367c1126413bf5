"""The audit report: for admins, who read or changed which patient's records, filtered and exported.

Audit rows name a record (a contact, conversation, item, call, media or recording) by type and id;
the patient behind each is found here, through the record's conversation. Reading the report is
itself audited (it shows which patients were looked at).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.models import AuditEntry, Contact, Conversation, Media, StaffUser, TimelineItem
from comms.services import Services
from comms.voice_models import Call, Recording
from schemas.analytics import AuditPage, AuditQuery, AuditRow

MAX_EXPORT = 100_000


def _ids(query: Select[Any]) -> Any:
    """A subquery of ids as text, to compare with audit_log.record_id (stored as text)."""
    return query.with_only_columns(cast(query.selected_columns[0], String)).scalar_subquery()


def _patient_records(practice_id: int, patient_id: int) -> Any:
    """Audit rows about one patient: their contact, and each record hanging off their conversations."""
    conversations = (
        select(Conversation.id)
        .join(Contact)
        .where(Conversation.contact_id == patient_id, Contact.practice_id == practice_id)
    )
    items = select(TimelineItem.id).where(TimelineItem.conversation_id.in_(conversations))
    calls = select(Call.id).where(Call.conversation_id.in_(conversations))
    media = select(Media.id).where(Media.item_id.in_(items))
    recordings = select(Recording.id).where(Recording.call_id.in_(calls))
    entry = AuditEntry
    return or_(
        (entry.record_type == "contact") & (entry.record_id == str(patient_id)),
        (entry.record_type == "conversation") & entry.record_id.in_(_ids(conversations)),
        (entry.record_type == "timeline_item") & entry.record_id.in_(_ids(items)),
        (entry.record_type == "call") & entry.record_id.in_(_ids(calls)),
        (entry.record_type == "media") & entry.record_id.in_(_ids(media)),
        (entry.record_type == "recording") & entry.record_id.in_(_ids(recordings)),
    )


def _filtered(actor: Actor, q: AuditQuery) -> Select[AuditEntry]:
    query = select(AuditEntry)
    if q.staff_id is not None:
        query = query.where(AuditEntry.actor_id == q.staff_id)
    if q.patient_id is not None:
        query = query.where(_patient_records(actor.practice_id, q.patient_id))
    if q.action is not None:
        query = query.where(AuditEntry.action == q.action)
    if q.since is not None:
        query = query.where(AuditEntry.at >= q.since)
    if q.until is not None:
        query = query.where(AuditEntry.at < q.until)
    if q.before_id is not None:
        query = query.where(AuditEntry.id < q.before_id)
    return query.order_by(AuditEntry.id.desc())


def _numeric(rows: Iterable[AuditEntry], record_type: str) -> set[int]:
    return {int(r.record_id) for r in rows if r.record_type == record_type and r.record_id.isdigit()}


async def _patients(session: AsyncSession, rows: list[AuditEntry]) -> dict[tuple[str, str], int]:
    """(record type, record id) → the patient's contact id, resolved a few queries per page."""
    by_conversation: dict[tuple[str, str], int] = {}
    lookups: list[tuple[str, Any]] = [
        ("conversation", select(Conversation.id, Conversation.id)),
        ("timeline_item", select(TimelineItem.id, TimelineItem.conversation_id)),
        ("call", select(Call.id, Call.conversation_id)),
        (
            "media",
            select(Media.id, TimelineItem.conversation_id).join(
                TimelineItem, TimelineItem.id == Media.item_id
            ),
        ),
        ("recording", select(Recording.id, Call.conversation_id).join(Call, Call.id == Recording.call_id)),
    ]
    for record_type, query in lookups:
        wanted = _numeric(rows, record_type)
        if wanted:
            key = query.selected_columns[0]
            for record_id, conversation_id in await session.execute(query.where(key.in_(sorted(wanted)))):
                by_conversation[(record_type, str(record_id))] = conversation_id
    linked = await session.execute(
        select(Conversation.id, Conversation.contact_id).where(
            Conversation.id.in_(sorted(set(by_conversation.values())))
        )
    )
    contacts = {conversation_id: contact_id for conversation_id, contact_id in linked}
    found = {k: contacts[c] for k, c in by_conversation.items() if c in contacts}
    for contact_id in _numeric(rows, "contact"):
        found[("contact", str(contact_id))] = contact_id
    return found


async def _rows(session: AsyncSession, actor: Actor, entries: list[AuditEntry]) -> list[AuditRow]:
    patients = await _patients(session, entries)
    contact_ids = sorted(set(patients.values()))
    names: dict[int, str] = {}
    if contact_ids:
        for contact in await session.scalars(
            select(Contact).where(Contact.id.in_(contact_ids), Contact.practice_id == actor.practice_id)
        ):
            names[contact.id] = contact.display_name
    staff_ids = sorted({e.actor_id for e in entries if e.actor_id is not None})
    people = await session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(staff_ids)))
    staff = {user_id: name for user_id, name in people}
    out = []
    for e in entries:
        patient = patients.get((e.record_type, e.record_id))
        if patient is not None and patient not in names:
            patient = None  # another practice's record (or gone): name nobody
        out.append(
            AuditRow(
                id=e.id,
                at=e.at,
                staff_id=e.actor_id,
                staff_name=staff.get(e.actor_id) if e.actor_id is not None else None,
                action=e.action,
                record_type=e.record_type,
                record_id=e.record_id,
                patient_id=patient,
                patient_name=names.get(patient) if patient is not None else None,
                remote_addr=e.remote_addr,
                detail=dict(e.detail or {}),
            )
        )
    return out


def _filters(q: AuditQuery) -> dict[str, Any]:
    """Which filters were used (ids only) for the report's own audit row."""
    return {
        k: v
        for k, v in q.model_dump(mode="json", exclude={"limit", "before_id"}).items()
        if v is not None and k in ("staff_id", "patient_id", "action", "since", "until")
    }


async def report(services: Services, actor: Actor, q: AuditQuery) -> AuditPage:
    """One page of the audit log, newest first; admins only, and the look is recorded."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        entries = list(await s.scalars(_filtered(actor, q).limit(q.limit + 1)))
        more = len(entries) > q.limit
        entries = entries[: q.limit]
        rows = await _rows(s, actor, entries)
        audit.record(s, actor, "view", "audit_log", "-", {"rows": len(rows), **_filters(q)})
    return AuditPage(entries=rows, next_before_id=rows[-1].id if more and rows else None)


async def export(services: Services, actor: Actor, q: AuditQuery) -> list[AuditRow]:
    """Every matching entry (up to MAX_EXPORT), newest first, for the CSV export; audited as an export."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        rows: list[AuditRow] = []
        before = q.before_id
        while len(rows) < MAX_EXPORT:
            page = q.model_copy(update={"before_id": before})
            entries = list(await s.scalars(_filtered(actor, page).limit(min(5000, MAX_EXPORT - len(rows)))))
            if not entries:
                break
            rows.extend(await _rows(s, actor, entries))
            before = entries[-1].id
        audit.record(s, actor, "export", "audit_log", "-", {"rows": len(rows), **_filters(q)})
    return rows
