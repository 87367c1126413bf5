"""Intake form requests, staff side: send a form from a thread (a form card in the timeline and a text
with the private link), read what the patient answered, fetch their uploads (each read audited)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.email_actions import queue_email
from comms.errors import Conflict, NotFound
from comms.form_models import FormLink, FormRequest, FormTemplate, FormTemplateVersion, FormUpload
from comms.form_templates import published_version
from comms.media import path_for
from comms.messaging import is_opted_out, publish_update, queue_sms, write_unit
from comms.models import Contact, Conversation, Location, TimelineItem, utcnow
from comms.schedule_models import Appointment
from comms.services import Services, Unit
from comms.timeline import add_activity, add_item, conversation_for
from schemas.forms import FormDefinition, FormRequestDetail, FormRequestIn, FormRequestOut, FormUploadOut


def new_token() -> tuple[str, str]:
    """(the link's token, its SHA-256): only the hash is stored, the token goes out in the text."""
    token = secrets.token_urlsafe(24)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_link(s: AsyncSession, request: FormRequest) -> str:
    """A new private link to the request (its hash stored in the caller's transaction); the token."""
    token, digest = new_token()
    s.add(FormLink(token_sha256=digest, request_id=request.id))
    return token


def form_url(services: Services, token: str) -> str:
    return f"{services.settings.server.public_base_url}/f/{token}"


def request_text(location: str, url: str) -> str:
    """The patient's text: who asks and the link (what the form asks stays on the page)."""
    return f"{location}: please fill in your forms before your visit. It takes a few minutes: {url}"


def item_meta(
    request: FormRequest, template: FormTemplate, version: FormTemplateVersion
) -> dict[str, object]:
    """What the thread's form card shows; never the token, never an answer."""
    return {
        "form_request_id": request.id,
        "template_name": template.name,
        "version": version.version,
        "expires_at": request.expires_at.isoformat(),
        "opened_at": request.opened_at.isoformat() if request.opened_at else None,
        "completed_at": request.completed_at.isoformat() if request.completed_at else None,
        "contact_updates": list(request.contact_updates or []),
        "reminders_sent": request.reminders_sent,
        "pdf": request.pdf_sha256 is not None,  # the completed form's stored PDF (staff-only URL)
    }


async def set_status(unit: Unit, request: FormRequest, status: str) -> None:
    """Move the request and post its card live (the status only moves forward; see form_link)."""
    request.status = status
    item = await unit.session.get(TimelineItem, request.item_id) if request.item_id else None
    if item is None:
        return
    version = await unit.session.get(FormTemplateVersion, request.version_id)
    template = await unit.session.get(FormTemplate, version.template_id) if version else None
    if version is None or template is None:
        return
    item.status, item.meta = status, {**(item.meta or {}), **item_meta(request, template, version)}
    await publish_update(unit, item)


async def _out(s: AsyncSession, request: FormRequest) -> FormRequestOut:
    version = await s.get(FormTemplateVersion, request.version_id)
    template = await s.get(FormTemplate, version.template_id) if version else None
    if version is None or template is None:
        raise NotFound("this form's template is gone")
    return FormRequestOut(
        id=request.id,
        conversation_id=request.conversation_id,
        contact_id=request.contact_id,
        location_id=request.location_id,
        item_id=request.item_id,
        template_id=template.id,
        template_name=template.name,
        version_id=version.id,
        version=version.version,
        status=request.status,
        expires_at=request.expires_at,
        opened_at=request.opened_at,
        completed_at=request.completed_at,
        reminders_sent=request.reminders_sent,
        created_at=request.created_at,
    )


async def send_form(
    services: Services, actor: Actor, conversation_id: int, body: FormRequestIn
) -> FormRequestOut:
    """The form card and the text with its link, in one transaction: an opted-out patient, a missing
    number or an unpublished template refuses the whole request, nothing half-made is left."""
    async with write_unit(services) as unit:
        s = unit.session
        conversation = await conversation_for(unit, actor, conversation_id)
        template = await s.get(FormTemplate, body.template_id)
        if template is None or template.practice_id != actor.practice_id:
            raise NotFound("no such form template")
        if template.archived:
            raise Conflict("this form template is archived")
        version = await published_version(s, template.id)
        if version is None:
            raise Conflict("this form has no published version yet: an administrator publishes it first")
        request = await _create(
            unit, services, conversation, template, version, actor.user_id, body.expires_in_days, body.channel
        )
        audit.record(s, actor, "create", "form_request", request.id, {"template_id": template.id})
        return await _out(s, request)


async def _create(
    unit: Unit,
    services: Services,
    conversation: Conversation,
    template: FormTemplate,
    version: FormTemplateVersion,
    author_id: int | None,
    expires_in_days: int | None = None,
    channel: str = "sms",
) -> FormRequest:
    """The request, its card and the text (or e-mail) with its first link, in the caller's transaction."""
    s = unit.session
    location = await s.get(Location, conversation.location_id)
    if location is None:
        raise NotFound("no such conversation")
    days = expires_in_days or services.settings.forms.link_days
    request = FormRequest(
        version_id=version.id,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        location_id=conversation.location_id,
        created_by_id=author_id,
        status="sent",
        answers={},
        contact_updates=[],
        reminders_sent=0,
        channel=channel,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    s.add(request)
    await s.flush()
    item = await add_item(
        unit,
        conversation,
        TimelineItem(
            kind="form",
            direction="internal",
            body=template.name,
            status="sent",
            author_id=author_id,
            meta=item_meta(request, template, version),
        ),
    )
    request.item_id = item.id
    text = request_text(location.name, form_url(services, add_link(s, request)))
    if channel == "email":
        subject = f"{location.name}: your forms before your visit"
        await queue_email(
            services,
            unit,
            conversation,
            text,
            subject=subject,
            author_id=author_id,
            meta={"form_request_id": request.id},
        )
    else:
        await queue_sms(unit, conversation, text, author_id=author_id, meta={"form_request_id": request.id})
    return request


async def send_on_first_booking(
    unit: Unit, services: Services, conversation: Conversation, author_id: int | None
) -> FormRequest | None:
    """A new patient's first appointment was just booked (in this transaction): send the form named by
    forms.first_booking_template, if the practice has it. A patient who cannot be texted gets a note
    in the thread instead; the booking itself never fails for it."""
    s = unit.session
    booked = await s.scalar(
        select(func.count()).select_from(Appointment).where(Appointment.contact_id == conversation.contact_id)
    )
    location = await s.get(Location, conversation.location_id)
    if booked != 1 or location is None:
        return None
    name = services.settings.forms.first_booking_template
    template = (
        await s.scalar(
            select(FormTemplate)
            .where(
                FormTemplate.practice_id == location.practice_id,
                FormTemplate.name == name,
                FormTemplate.archived.is_(False),
            )
            .order_by(FormTemplate.id)
            .limit(1)
        )
        if name
        else None
    )
    version = await published_version(s, template.id) if template else None
    if template is None or version is None:
        return None
    contact = await s.get(Contact, conversation.contact_id)
    phone = contact.phones[0].e164 if contact and contact.phones else None
    why = None
    if phone is None:
        why = "this patient has no phone number"
    elif await is_opted_out(s, location.practice_id, phone):
        why = "the patient replied STOP"
    elif not any(n.sms for n in location.numbers):
        why = "this location has no texting number"
    if why is not None:
        await add_activity(
            unit,
            conversation,
            f"{template.name} not sent: {why}.",
            {"action": "form_auto_skipped", "template_id": template.id},
        )
        return None
    request = await _create(unit, services, conversation, template, version, author_id)
    audit.record(s, None, "create", "form_request", request.id, {"template_id": template.id, "auto": True})
    return request


async def _visible(unit: Unit, actor: Actor, request_id: int) -> FormRequest:
    request = await unit.session.get(FormRequest, request_id)
    if request is None:
        raise NotFound("no such form request")
    actor.require_location(request.location_id)
    return request


def upload_url(upload_id: int) -> str:
    return f"/api/v1/form-uploads/{upload_id}"


async def get_request(
    services: Services, actor: Actor, request_id: int, *, action: str = "view"
) -> FormRequestDetail:
    """A request with the patient's answers and uploads, for staff of its location (audited as
    `action`: a view, or a print)."""
    async with services.unit() as unit:
        s = unit.session
        request = await _visible(unit, actor, request_id)
        out = await _out(s, request)
        version = await s.get(FormTemplateVersion, request.version_id)
        uploads = await s.scalars(
            select(FormUpload).where(FormUpload.request_id == request.id).order_by(FormUpload.id)
        )
        referenced = {
            v for v in (request.answers or {}).values() if isinstance(v, int) and not isinstance(v, bool)
        }
        audit.record(s, actor, action, "form_request", request.id, {"status": request.status})
        contact = await contact_of(s, request.contact_id)
        location = await s.get(Location, request.location_id)
        return FormRequestDetail(
            **out.model_dump(),
            patient_name=contact.display_name if contact else "",
            location_name=location.name if location else "",
            definition=FormDefinition.model_validate(version.definition if version else {"sections": []}),
            answers=dict(request.answers or {}),
            uploads=[
                FormUploadOut(
                    id=u.id, field=u.field_key, content_type=u.content_type, size=u.size, url=upload_url(u.id)
                )
                for u in uploads
                if u.id in referenced
            ],
            contact_updates=list(request.contact_updates or []),
        )


async def list_for_conversation(
    services: Services, actor: Actor, conversation_id: int
) -> list[FormRequestOut]:
    """A thread's form requests, newest first (audited)."""
    async with services.unit() as unit:
        conversation = await conversation_for(unit, actor, conversation_id)
        rows = await unit.session.scalars(
            select(FormRequest)
            .where(FormRequest.conversation_id == conversation.id)
            .order_by(FormRequest.id.desc())
            .limit(200)
        )
        out = [await _out(unit.session, r) for r in rows]
        audit.record(unit.session, actor, "view", "conversation_forms", conversation.id, {"n": len(out)})
        return out


async def upload_for_staff(services: Services, actor: Actor, upload_id: int) -> tuple[Path, str]:
    """A patient's upload for staff of the form's location; every fetch is audited."""
    async with services.unit() as unit:
        s = unit.session
        upload = await s.get(FormUpload, upload_id)
        if upload is None:
            raise NotFound("no such file")
        request = await _visible(unit, actor, upload.request_id)
        audit.record(s, actor, "view", "form_upload", upload.id, {"form_request_id": request.id})
        return path_for(services.settings.storage.media_dir, upload.sha256), upload.content_type


async def contact_of(s: AsyncSession, contact_id: int) -> Contact | None:
    """The live record a form's answers go to: a merged duplicate's answers go to the record it joined."""
    contact = await s.get(Contact, contact_id)
    for _ in range(10):
        if contact is None or contact.merged_into_id is None:
            return contact
        contact = await s.get(Contact, contact.merged_into_id)
    return contact
