"""Intake forms, patient side: the private link is the key (an unguessable token, only its hash stored).
Opening it, saving progress, uploading a file or a drawn signature and submitting each move the
thread's form card live: sent → opened → in progress → completed (or expired)."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from comms import audit
from comms.contacts import announce
from comms.errors import Conflict, Expired, InvalidRequest, NotFound
from comms.form_files import refusal, sniff
from comms.form_models import (
    OPEN_STATUSES,
    FormLink,
    FormRequest,
    FormTemplate,
    FormTemplateVersion,
    FormUpload,
)
from comms.form_pdf_store import store_pdf
from comms.form_record import RecordChange, apply_answers
from comms.form_validate import all_fields, check_answers, contact_fields
from comms.forms import contact_of, set_status, token_hash
from comms.media import store_bytes
from comms.messaging import write_unit
from comms.models import Conversation, Location, utcnow
from comms.services import Services, Unit
from comms.timeline import add_activity
from schemas.forms import Answer, AnswersOut, FormDefinition

MAX_UPLOADS = 40  # per request: a patient re-taking a photo a few times, not a file store
INVALID = "this form link is not valid"


@dataclass(frozen=True)
class FormPage:
    """What the patient's page shows: the questions of the version sent, and the answers so far."""

    request_id: int
    location: str
    title: str
    status: str
    definition: FormDefinition
    answers: dict[str, Answer]
    expires_at: dt.datetime


async def _load(unit: Unit, token: str) -> FormRequest:
    """The request behind a link, locked for this transaction (PostgreSQL; SQLite writers take turns)."""
    request = await unit.session.scalar(
        select(FormRequest)
        .join(FormLink, FormLink.request_id == FormRequest.id)
        .where(FormLink.token_sha256 == token_hash(token))
        .with_for_update(of=FormRequest)
    )
    if request is None:
        raise NotFound(INVALID)
    return request


async def _expire_if_due(unit: Unit, request: FormRequest) -> bool:
    """An open request past its time becomes expired (posted live); True when it is expired now."""
    if request.status in OPEN_STATUSES and utcnow() >= request.expires_at:
        await set_status(unit, request, "expired")
    return request.status == "expired"


async def _definition(unit: Unit, request: FormRequest) -> tuple[FormDefinition, FormTemplate]:
    version = await unit.session.get(FormTemplateVersion, request.version_id)
    template = await unit.session.get(FormTemplate, version.template_id) if version else None
    if version is None or template is None:
        raise NotFound(INVALID)
    return FormDefinition.model_validate(version.definition), template


async def _uploads(unit: Unit, request: FormRequest) -> dict[int, str]:
    rows = await unit.session.execute(
        select(FormUpload.id, FormUpload.field_key).where(FormUpload.request_id == request.id)
    )
    return {upload_id: key for upload_id, key in rows.all()}


async def _writable(unit: Unit, request: FormRequest) -> None:
    if await _expire_if_due(unit, request):
        raise Expired("this form link has expired: please ask the office for a new one")
    if request.status == "completed":
        raise Conflict("this form was already submitted: thank you")


async def _start(unit: Unit, request: FormRequest) -> None:
    if request.status in ("sent", "opened"):
        request.started_at = request.started_at or utcnow()
        request.opened_at = request.opened_at or utcnow()
        await set_status(unit, request, "in_progress")


async def open_form(services: Services, token: str) -> FormPage:
    """The patient opened the link: the first time marks the request opened (posted live)."""
    async with write_unit(services) as unit:
        request = await _load(unit, token)
        definition, template = await _definition(unit, request)
        if not await _expire_if_due(unit, request) and request.opened_at is None:
            request.opened_at = utcnow()
            audit.record(unit.session, None, "open", "form_request", request.id)
            if request.status == "sent":
                await set_status(unit, request, "opened")
        location = await unit.session.get(Location, request.location_id)
        return FormPage(
            request_id=request.id,
            location=location.name if location else "",
            title=template.name,
            status=request.status,
            definition=definition,
            answers=dict(request.answers or {}),
            expires_at=request.expires_at,
        )


async def save_draft(services: Services, token: str, answers: dict[str, Answer]) -> AnswersOut:
    """Keep what the patient has typed so far; answers that do not fit are named and not kept."""
    async with write_unit(services) as unit:
        request = await _load(unit, token)
        await _writable(unit, request)
        definition, _ = await _definition(unit, request)
        checked = check_answers(
            definition, answers, await _uploads(unit, request), final=False, today=utcnow().date()
        )
        request.answers = checked.answers
        await _start(unit, request)
        return AnswersOut(status=request.status, errors=checked.errors)


async def add_upload(services: Services, token: str, field_key: str, data: bytes) -> int:
    """Keep a file or signature for one field (checked by its own bytes); it replaces an earlier one."""
    async with write_unit(services) as unit:
        request = await _load(unit, token)
        await _writable(unit, request)
        definition, _ = await _definition(unit, request)
        field = next((f for f in all_fields(definition) if f.key == field_key), None)
        if field is None or field.kind not in ("file", "signature"):
            raise NotFound("this form has no such upload")
        why = refusal(field.kind, data, services.settings.forms.max_upload_bytes)
        if why is not None:
            raise InvalidRequest(why)
        s = unit.session
        count = await s.scalar(select(func.count()).where(FormUpload.request_id == request.id))
        if (count or 0) >= MAX_UPLOADS:
            raise Conflict("too many uploads for this form: please call the office")
        media_dir = services.settings.storage.media_dir
        # Content-addressed and written whole (temp file, then rename): a failure below leaves no row,
        # and a file no row names is never served.
        digest = await asyncio.to_thread(store_bytes, media_dir, data)
        await s.execute(
            delete(FormUpload).where(FormUpload.request_id == request.id, FormUpload.field_key == field.key)
        )
        upload = FormUpload(
            request_id=request.id,
            field_key=field.key,
            content_type=sniff(data) or "application/octet-stream",
            size=len(data),
            sha256=digest,
        )
        s.add(upload)
        await s.flush()
        request.answers = {**(request.answers or {}), field.key: upload.id}
        await _start(unit, request)
        return upload.id


async def submit(services: Services, token: str, answers: dict[str, Answer]) -> AnswersOut:
    """The patient's final answers: all fit, or nothing changes and each problem is named.

    Completing the form fills the contact fields the template maps (name, date of birth, e-mail,
    address, insurance) and posts the completed card and the changed record live.
    """
    async with write_unit(services) as unit:
        s = unit.session
        request = await _load(unit, token)
        await _writable(unit, request)
        definition, _ = await _definition(unit, request)
        uploads = await _uploads(unit, request)
        checked = check_answers(definition, answers, uploads, final=True, today=utcnow().date())
        if checked.errors:
            raise Incomplete(checked.errors)
        request.answers = checked.answers
        request.completed_at = utcnow()
        kept = {v for v in checked.answers.values() if isinstance(v, int) and not isinstance(v, bool)}
        stale = [upload_id for upload_id in uploads if upload_id not in kept]
        if stale:
            await s.execute(delete(FormUpload).where(FormUpload.id.in_(stale)))
        contact = await contact_of(s, request.contact_id)
        change = RecordChange()
        if contact is not None:
            change = await apply_answers(s, contact, contact_fields(definition, checked.answers))
        request.contact_updates = change.fields
        await s.flush()  # the stale uploads are gone before the PDF lists what the form keeps
        await store_pdf(services, unit, request, definition, contact.display_name if contact else "")
        await set_status(unit, request, "completed")
        # Field names only: the values are PHI.
        audit.record(s, None, "submit", "form_request", request.id, {"contact_fields": change.fields})
        if contact is not None and change.fields:
            # What the patient's answers replaced stays here (the record's history), never in a log.
            detail: dict[str, object] = {"fields": change.fields, "form_request": request.id}
            if change.previous:
                detail["previous"] = change.previous
            audit.record(s, None, "update", "contact", contact.id, detail)
            await s.flush()
            await announce(unit, [contact.id])
        return AnswersOut(status="completed", errors={})


async def link_location(services: Services, token: str) -> str:
    """The office a valid link belongs to (NotFound otherwise), changing nothing."""
    async with services.read() as s:
        name = await s.scalar(
            select(Location.name)
            .join(FormRequest, FormRequest.location_id == Location.id)
            .join(FormLink, FormLink.request_id == FormRequest.id)
            .where(FormLink.token_sha256 == token_hash(token))
        )
    if name is None:
        raise NotFound(INVALID)
    return name


async def stop_reminders(services: Services, token: str) -> str:
    """The patient asked for no more reminders about this form (an e-mail reminder's stop link): none
    is sent again for it, and the thread says so once. Returns the office's name for the page."""
    async with write_unit(services) as unit:
        s = unit.session
        request = await _load(unit, token)
        location = await s.get(Location, request.location_id)
        planned = len(services.settings.forms.reminder_days)
        if request.status in OPEN_STATUSES and request.reminders_sent < planned:
            request.reminders_sent = planned  # what the sweeper reads as "no more" (as after a STOP)
            conversation = await s.get(Conversation, request.conversation_id)
            if conversation is not None:
                await add_activity(
                    unit,
                    conversation,
                    "The patient asked for no more reminders about this form.",
                    {"action": "form_reminders_stopped", "form_request_id": request.id},
                )
            await set_status(unit, request, request.status)  # the card shows the reminders are done
            audit.record(s, None, "stop_reminders", "form_request", request.id)
        return location.name if location else ""


class Incomplete(InvalidRequest):
    """A submission with answers to fix; carries them by field key (nothing was stored)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("some answers need attention")
        self.errors = errors
