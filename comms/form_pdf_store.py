"""The completed form's PDF, made in the submission's transaction and kept in media storage like the
uploads (content-addressed, written whole before the row names it); staff fetch it through an
authorized, audited URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from comms import audit
from comms.access import Actor
from comms.errors import NotFound
from comms.form_models import FormRequest, FormTemplate, FormTemplateVersion, FormUpload
from comms.form_pdf import CompletedForm, FormFile, render
from comms.media import path_for, store_bytes
from comms.models import Location
from comms.services import Services, Unit
from schemas.forms import FormDefinition

PICTURES = ("image/jpeg", "image/png")  # what the PDF can show; other files are named, not drawn


def pdf_url(request_id: int) -> str:
    return f"/api/v1/form-requests/{request_id}/pdf"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


async def store_pdf(
    services: Services, unit: Unit, request: FormRequest, definition: FormDefinition, patient: str
) -> None:
    """Render the completed request's PDF and keep it (the caller's transaction names it)."""
    s = unit.session
    version = await s.get(FormTemplateVersion, request.version_id)
    template = await s.get(FormTemplate, version.template_id) if version else None
    location = await s.get(Location, request.location_id)
    media_dir = services.settings.storage.media_dir
    files: dict[str, FormFile] = {}
    for upload in await s.scalars(select(FormUpload).where(FormUpload.request_id == request.id)):
        data = None
        if upload.content_type in PICTURES:
            data = await asyncio.to_thread(_read, path_for(media_dir, upload.sha256))
        files[upload.field_key] = FormFile(upload.content_type, upload.size, data)
    form = CompletedForm(
        title=template.name if template else "Form",
        patient=patient,
        location=location.name if location else "",
        version=version.version if version else 0,
        request_id=request.id,
        completed_at=request.completed_at or request.updated_at,
        definition=definition,
        answers=dict(request.answers or {}),
        files=files,
    )
    pdf = await asyncio.to_thread(render, form)
    request.pdf_sha256 = await asyncio.to_thread(store_bytes, media_dir, pdf)
    request.pdf_size = len(pdf)


async def pdf_for_staff(services: Services, actor: Actor, request_id: int) -> tuple[Path, str]:
    """The stored PDF of a completed form, for staff of its location; every fetch is audited."""
    async with services.unit() as unit:
        request = await unit.session.get(FormRequest, request_id)
        if request is None:
            raise NotFound("no such form request")
        actor.require_location(request.location_id)
        if request.pdf_sha256 is None:
            raise NotFound("no PDF is stored for this form (it is made when the form is completed)")
        audit.record(unit.session, actor, "view", "form_pdf", request.id, {"size": request.pdf_size})
        name = f"form-{request.id}.pdf"
        return path_for(services.settings.storage.media_dir, request.pdf_sha256), name
