"""The audit report: for admins, who read or changed which patient's records, filtered and exported.

Audit rows name a record (a contact, conversation, item, call, media, recording, appointment,
payment, review or form request, form PDF, form upload) by type and id; the patient behind each is found
here, through the record's conversation or the patient it names. Reading the report is itself
audited (it shows which patients were looked at).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.form_models import FormRequest, FormUpload
from comms.models import AuditEntry, Contact, Conversation, Media, StaffUser, TimelineItem
from comms.payment_models import PaymentRequest
from comms.review_models import ReviewRequest
from comms.schedule_models import Appointment
from comms.services import Services
from comms.voice_models import Call, Recording
from comms.waitlist_models import WaitlistEntry, WaitlistOffer
from schemas.analytics import AuditPage, AuditQuery, AuditRow

MAX_EXPORT = 100_000


def _ids(query: Select[Any]) -> Any:
    """A subquery of ids as text, to compare with audit_log.record_id (stored as text)."""
    return query.with_only_columns(cast(query.selected_columns[0], String)).scalar_subquery()


# Records that are a patient's by their id (the contact itself, or a view of all their records of a kind).
CONTACT_TYPES = ("contact", "contact_appointments", "balance")
CONVERSATION_TYPES = ("conversation", "conversation_payments", "conversation_forms", "conversation_waitlist")


def _via_conversation() -> list[tuple[str, Any]]:
    """(record type, SELECT record id, its conversation id) for records hanging off a conversation."""
    return [
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


def _via_contact() -> list[tuple[str, Any]]:
    """(record type, SELECT record id, its contact id) for records that name their patient."""
    return [
        ("appointment", select(Appointment.id, Appointment.contact_id)),
        ("payment_request", select(PaymentRequest.id, PaymentRequest.contact_id)),
        ("review_request", select(ReviewRequest.id, ReviewRequest.contact_id)),
        ("form_request", select(FormRequest.id, FormRequest.contact_id)),
        ("form_pdf", select(FormRequest.id, FormRequest.contact_id)),  # its id is the form request's
        (
            "form_upload",
            select(FormUpload.id, FormRequest.contact_id).join(
                FormRequest, FormRequest.id == FormUpload.request_id
            ),
        ),
        ("waitlist_entry", select(WaitlistEntry.id, WaitlistEntry.contact_id)),
        (
            "waitlist_offer",
            select(WaitlistOffer.id, WaitlistEntry.contact_id).join(
                WaitlistEntry, WaitlistEntry.id == WaitlistOffer.entry_id
            ),
        ),
    ]


def _patient_records(practice_id: int, patient_id: int) -> Any:
    """Audit rows about one patient: their contact, and each record hanging off them or their threads."""
    conversations = (
        select(Conversation.id)
        .join(Contact)
        .where(Conversation.contact_id == patient_id, Contact.practice_id == practice_id)
    )
    entry = AuditEntry
    clauses = [
        entry.record_type.in_(CONTACT_TYPES) & (entry.record_id == str(patient_id)),
        entry.record_type.in_(CONVERSATION_TYPES) & entry.record_id.in_(_ids(conversations)),
    ]
    for record_type, query in _via_conversation():
        mine = query.where(query.selected_columns[1].in_(conversations))
        clauses.append((entry.record_type == record_type) & entry.record_id.in_(_ids(mine)))
    for record_type, query in _via_contact():
        mine = query.where(query.selected_columns[1] == patient_id)
        clauses.append((entry.record_type == record_type) & entry.record_id.in_(_ids(mine)))
    return or_(*clauses)


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


async def _resolve(
    session: AsyncSession, rows: list[AuditEntry], lookups: list[tuple[str, Any]]
) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for record_type, query in lookups:
        wanted = _numeric(rows, record_type)
        if wanted:
            key = query.selected_columns[0]
            for record_id, target in await session.execute(query.where(key.in_(sorted(wanted)))):
                found[(record_type, str(record_id))] = target
    return found


async def _patients(session: AsyncSession, rows: list[AuditEntry]) -> dict[tuple[str, str], int]:
    """(record type, record id) → the patient's contact id, resolved a few queries per page."""
    by_conversation = await _resolve(session, rows, _via_conversation())
    for record_type in CONVERSATION_TYPES:
        by_conversation.update({(record_type, str(c)): c for c in _numeric(rows, record_type)})
    linked = await session.execute(
        select(Conversation.id, Conversation.contact_id).where(
            Conversation.id.in_(sorted(set(by_conversation.values())))
        )
    )
    contacts = {conversation_id: contact_id for conversation_id, contact_id in linked}
    found = {k: contacts[c] for k, c in by_conversation.items() if c in contacts}
    found.update(await _resolve(session, rows, _via_contact()))
    for record_type in CONTACT_TYPES:
        found.update({(record_type, str(c)): c for c in _numeric(rows, record_type)})
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
