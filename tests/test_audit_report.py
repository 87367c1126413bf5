"""The audit report: every kind of patient record traced to its patient, filters, paging, admins only."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from comms import audit_report
from comms.access import Actor
from comms.analytics_export import audit_csv
from comms.errors import Forbidden
from comms.form_models import FormRequest, FormTemplate, FormTemplateVersion, FormUpload
from comms.models import AuditEntry, Contact, Conversation, Media, StaffUser, TimelineItem
from comms.payment_models import PaymentRequest
from comms.review_models import ReviewRequest
from comms.schedule_models import Appointment, AppointmentType, Provider
from comms.services import Services
from comms.voice_models import Call, Recording
from schemas.analytics import AuditQuery
from tests.analytics_seed import utc
from tests.helpers import Practice, seed_practice


async def _setup(services: Services) -> tuple[Practice, dict[str, int], Actor, Actor]:
    """Two patients with a record of every kind, and audit rows about each at known times."""
    p = await seed_practice(services)
    async with services.unit() as unit:
        s = unit.session
        staff = {u.email: u.id for u in await s.scalars(select(StaffUser))}
        ids: dict[str, int] = {"admin": staff[p.admin], "north": staff[p.staff_a]}
        for who in ("ann", "bob"):
            contact = Contact(
                practice_id=p.practice_id, first_name="=" + who.title(), last_name="HYPERLINK(1)"
            )
            s.add(contact)
            await s.flush()
            conv = Conversation(contact_id=contact.id, location_id=p.loc_a)
            s.add(conv)
            await s.flush()
            item = TimelineItem(conversation_id=conv.id, kind="sms", direction="in", body="", meta={})
            s.add(item)
            await s.flush()
            media = Media(item_id=item.id, content_type="image/png")
            call = Call(
                call_sid=f"CA{who:0>32}",
                location_id=p.loc_a,
                conversation_id=conv.id,
                direction="in",
                patient_e164="+12025550100",
                practice_e164="+12025550143",
            )
            s.add_all([media, call])
            await s.flush()
            rec = Recording(recording_sid=f"RE{who:0>32}", call_id=call.id, kind="voicemail")
            s.add(rec)
            await s.flush()
            provider = Provider(practice_id=p.practice_id, name=f"Dr. {who}")
            kind = AppointmentType(practice_id=p.practice_id, name=f"Visit {who}", duration_minutes=30)
            s.add_all([provider, kind])
            await s.flush()
            at = utc("2026-04-01 15:00")
            visit = Appointment(
                location_id=p.loc_a, provider_id=provider.id, contact_id=contact.id, type_id=kind.id,
                conversation_id=conv.id, starts_at=at, ends_at=at, busy_until=at,
            )  # fmt: skip
            pay = PaymentRequest(
                token=f"tok{who}", contact_id=contact.id, conversation_id=conv.id, location_id=p.loc_a,
                amount_cents=100, currency="usd", description="x", expires_at=at,
            )  # fmt: skip
            review = ReviewRequest(
                token=f"rv{who}", contact_id=contact.id, conversation_id=conv.id, location_id=p.loc_a
            )
            s.add_all([visit, pay, review])
            await s.flush()
            template = FormTemplate(practice_id=p.practice_id, name=f"Intake {who}")
            s.add(template)
            await s.flush()
            version = FormTemplateVersion(template_id=template.id, version=1, definition={})
            s.add(version)
            await s.flush()
            form = FormRequest(
                version_id=version.id, contact_id=contact.id, conversation_id=conv.id, location_id=p.loc_a,
                expires_at=at,
            )  # fmt: skip
            s.add(form)
            await s.flush()
            upload = FormUpload(
                request_id=form.id, field_key="card", content_type="image/png", size=1, sha256="0"
            )
            s.add(upload)
            await s.flush()
            ids.update({f"{who}_visit": visit.id, f"{who}_pay": pay.id, f"{who}_review": review.id})
            ids.update({f"{who}_form": form.id, f"{who}_upload": upload.id})
            ids.update(
                {
                    f"{who}": contact.id,
                    f"{who}_conv": conv.id,
                    f"{who}_item": item.id,
                    f"{who}_media": media.id,
                    f"{who}_call": call.id,
                    f"{who}_rec": rec.id,
                }
            )
        rows = [
            ("2026-03-02 10:00", "north", "view", "contact", ids["ann"]),
            ("2026-03-02 11:00", "north", "view", "conversation", ids["ann_conv"]),
            ("2026-03-03 10:00", "admin", "send", "timeline_item", ids["ann_item"]),
            ("2026-03-03 11:00", "north", "view", "media", ids["ann_media"]),
            ("2026-03-04 10:00", "north", "view", "call", ids["ann_call"]),
            ("2026-03-04 11:00", "admin", "receive", "recording", ids["ann_rec"]),
            ("2026-03-04 12:00", "admin", "update", "appointment", ids["ann_visit"]),
            ("2026-03-04 13:00", "admin", "create", "payment_request", ids["ann_pay"]),
            ("2026-03-04 14:00", "admin", "create", "review_request", ids["ann_review"]),
            ("2026-03-04 15:00", "north", "view", "balance", ids["ann"]),
            ("2026-03-04 16:00", "north", "view", "conversation_payments", ids["ann_conv"]),
            ("2026-03-04 17:00", "north", "view", "payment_request", ids["bob_pay"]),
            ("2026-03-04 18:00", None, "submit", "form_request", ids["ann_form"]),
            ("2026-03-04 19:00", "admin", "view", "form_upload", ids["ann_upload"]),
            ("2026-03-04 20:00", "admin", "view", "conversation_forms", ids["ann_conv"]),
            ("2026-03-05 10:00", "admin", "view", "conversation", ids["bob_conv"]),
            ("2026-03-05 11:00", "north", "search", "contact", "-"),
            ("2026-03-06 10:00", "admin", "update", "voice_settings", p.loc_a),
        ]
        for at, who, action, record_type, record_id in rows:
            s.add(
                AuditEntry(
                    at=utc(at),
                    actor_id=ids[who] if who else None,
                    action=action,
                    record_type=record_type,
                    record_id=str(record_id),
                    remote_addr="10.0.0.9",
                    detail={"n": 1},
                )
            )
    admin = Actor(ids["admin"], p.practice_id, "admin", None, "s-admin")
    north = Actor(ids["north"], p.practice_id, "staff", frozenset({p.loc_a}), "s-north")
    return p, ids, admin, north


def _q(**values: object) -> AuditQuery:
    return AuditQuery.model_validate(values)


async def test_every_record_kind_is_traced_to_its_patient(services: Services) -> None:
    _, ids, admin, _ = await _setup(services)
    page = await audit_report.report(services, admin, _q(patient_id=ids["ann"]))
    assert [(r.record_type, r.action, r.staff_name) for r in page.entries] == [
        ("conversation_forms", "view", "Ada Admin"),
        ("form_upload", "view", "Ada Admin"),
        ("form_request", "submit", None),
        ("conversation_payments", "view", "Nora North"),
        ("balance", "view", "Nora North"),
        ("review_request", "create", "Ada Admin"),
        ("payment_request", "create", "Ada Admin"),
        ("appointment", "update", "Ada Admin"),
        ("recording", "receive", "Ada Admin"),
        ("call", "view", "Nora North"),
        ("media", "view", "Nora North"),
        ("timeline_item", "send", "Ada Admin"),
        ("conversation", "view", "Nora North"),
        ("contact", "view", "Nora North"),
    ]
    assert {r.patient_id for r in page.entries} == {ids["ann"]}
    assert {r.patient_name for r in page.entries} == {"=Ann HYPERLINK(1)"}
    assert page.next_before_id is None


async def test_filters_by_staff_action_and_time(services: Services) -> None:
    _, ids, admin, _ = await _setup(services)
    by_north = await audit_report.report(services, admin, _q(staff_id=ids["north"]))
    assert [r.record_type for r in by_north.entries] == [
        "contact",
        "payment_request",
        "conversation_payments",
        "balance",
        "call",
        "media",
        "conversation",
        "contact",
    ]
    assert by_north.entries[1].patient_id == ids["bob"] and by_north.entries[2].patient_id == ids["ann"]
    search = by_north.entries[0]
    assert (search.action, search.patient_id, search.patient_name) == ("search", None, None)
    views = await audit_report.report(services, admin, _q(action="view", staff_id=ids["admin"]))
    # The report just read is itself on the record, as the admin's newest "view".
    assert [(r.record_type, r.patient_id) for r in views.entries] == [
        ("audit_log", None),
        ("conversation", ids["bob"]),
        ("conversation_forms", ids["ann"]),
        ("form_upload", ids["ann"]),
    ]
    window = await audit_report.report(
        services, admin, _q(since="2026-03-03T10:00:00Z", until="2026-03-04T10:00:00Z")
    )
    assert [r.record_type for r in window.entries] == ["media", "timeline_item"]
    settings_row = (await audit_report.report(services, admin, _q(action="update"))).entries[0]
    assert (settings_row.record_type, settings_row.patient_id) == ("voice_settings", None)


async def test_pages_newest_first(services: Services) -> None:
    _, ids, admin, _ = await _setup(services)
    first = await audit_report.report(services, admin, _q(patient_id=ids["ann"], limit=12))
    assert len(first.entries) == 12 and first.next_before_id == first.entries[-1].id
    rest = await audit_report.report(
        services, admin, _q(patient_id=ids["ann"], before_id=first.next_before_id)
    )
    assert [r.record_type for r in rest.entries] == ["conversation", "contact"]
    assert rest.next_before_id is None


async def test_only_admins_and_the_look_is_audited(services: Services) -> None:
    _, ids, admin, north = await _setup(services)
    with pytest.raises(Forbidden):
        await audit_report.report(services, north, _q())
    with pytest.raises(Forbidden):
        await audit_report.export(services, north, _q())
    await audit_report.report(services, admin, _q(patient_id=ids["bob"]))
    exported = await audit_report.export(services, admin, _q(action="view"))
    assert len(exported) == 11  # the report's own "view" row is the eleventh
    async with services.read() as s:
        own = list(await s.scalars(select(AuditEntry).where(AuditEntry.record_type == "audit_log")))
    assert [(e.action, e.actor_id, e.detail) for e in own] == [
        ("view", ids["admin"], {"rows": 2, "patient_id": ids["bob"]}),
        ("export", ids["admin"], {"rows": 11, "action": "view"}),
    ]


async def test_csv_export_defuses_formulas(services: Services) -> None:
    _, ids, admin, _ = await _setup(services)
    rows = await audit_report.export(services, admin, _q(patient_id=ids["ann"], action="view"))
    parsed = list(csv.reader(io.StringIO(audit_csv(rows))))
    assert parsed[0][:3] == ["id", "at", "staff_id"]
    assert len(parsed) == 1 + 8
    assert {row[8] for row in parsed[1:]} == {"'=Ann HYPERLINK(1)"}  # a spreadsheet shows it as text
    assert parsed[1][10] == '{"n":1}'


def test_query_needs_zoned_times_in_order() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        _q(since="2026-03-03T10:00:00")
    with pytest.raises(ValidationError):
        _q(since="2026-03-03T10:00:00Z", until="2026-03-03T09:00:00Z")
    with pytest.raises(ValidationError):
        _q(action="DROP TABLE")


def test_csv_cells() -> None:
    from comms.csv_export import cell, to_csv

    assert [cell(v) for v in ("=1+1", "+1", "-5", "@SUM(A1)", "\tx", "ok", None, -5, 2.5, True)] == [
        "'=1+1", "'+1", "'-5", "'@SUM(A1)", "'\tx", "ok", "", "-5", "2.5", "true",
    ]  # fmt: skip
    assert to_csv(["a", "b"], [["x,y", 'say "hi"']]) == 'a,b\r\n"x,y","say ""hi"""\r\n'
