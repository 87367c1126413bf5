"""Form templates: admins write a draft version, publish it (frozen from then on), and write the next one.

Requests point at the version they were sent with, so editing a template never changes a form a
patient is filling in or has completed.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, NotFound
from comms.form_models import FormTemplate, FormTemplateVersion
from comms.form_validate import check_definition
from comms.models import utcnow
from comms.one_line import one_line
from comms.services import Services
from schemas.forms import (
    FormDefinition,
    FormTemplateIn,
    FormTemplateOut,
    FormTemplatePatch,
    FormVersionIn,
    FormVersionOut,
)


def version_out(row: FormTemplateVersion) -> FormVersionOut:
    return FormVersionOut(
        id=row.id,
        template_id=row.template_id,
        version=row.version,
        status="published" if row.status == "published" else "draft",
        definition=FormDefinition.model_validate(row.definition),
        published_at=row.published_at,
        created_at=row.created_at,
    )


async def template_out(s: AsyncSession, template: FormTemplate) -> FormTemplateOut:
    rows = list(
        await s.scalars(
            select(FormTemplateVersion)
            .where(FormTemplateVersion.template_id == template.id)
            .order_by(FormTemplateVersion.version)
        )
    )
    published = [r.id for r in rows if r.status == "published"]
    return FormTemplateOut(
        id=template.id,
        name=template.name,
        archived=template.archived,
        published_version_id=published[-1] if published else None,
        versions=[version_out(r) for r in rows],
        created_at=template.created_at,
    )


async def _template(s: AsyncSession, actor: Actor, template_id: int, *, lock: bool = False) -> FormTemplate:
    query = select(FormTemplate).where(FormTemplate.id == template_id)
    if lock:  # two admins saving at once number their versions one after the other (PostgreSQL)
        query = query.with_for_update()
    template = await s.scalar(query)
    if template is None or template.practice_id != actor.practice_id:
        raise NotFound("no such form template")
    return template


async def _latest(s: AsyncSession, template_id: int) -> FormTemplateVersion | None:
    return await s.scalar(
        select(FormTemplateVersion)
        .where(FormTemplateVersion.template_id == template_id)
        .order_by(FormTemplateVersion.version.desc())
        .limit(1)
    )


async def published_version(s: AsyncSession, template_id: int) -> FormTemplateVersion | None:
    """The newest published version: what a new request sends."""
    return await s.scalar(
        select(FormTemplateVersion)
        .where(FormTemplateVersion.template_id == template_id, FormTemplateVersion.status == "published")
        .order_by(FormTemplateVersion.version.desc())
        .limit(1)
    )


async def create_template(services: Services, actor: Actor, body: FormTemplateIn) -> FormTemplateOut:
    """A new template with its first version as a draft (admins only)."""
    actor.require_admin()
    check_definition(body.definition)
    async with services.unit() as unit:
        s = unit.session
        name = one_line(body.name, "name")
        template = FormTemplate(practice_id=actor.practice_id, name=name, created_by_id=actor.user_id)
        s.add(template)
        await s.flush()
        s.add(
            FormTemplateVersion(
                template_id=template.id,
                version=1,
                status="draft",
                definition=body.definition.model_dump(mode="json"),
            )
        )
        await s.flush()
        audit.record(s, actor, "create", "form_template", template.id)
        return await template_out(s, template)


async def save_draft(
    services: Services, actor: Actor, template_id: int, body: FormVersionIn
) -> FormTemplateOut:
    """Replace the draft's definition, or start the next version when the newest one is published."""
    actor.require_admin()
    check_definition(body.definition)
    async with services.unit() as unit:
        s = unit.session
        template = await _template(s, actor, template_id, lock=True)
        latest = await _latest(s, template.id)
        definition = body.definition.model_dump(mode="json")
        if latest is not None and latest.status == "draft":
            latest.definition = definition
            version = latest
        else:
            version = FormTemplateVersion(
                template_id=template.id,
                version=(latest.version + 1) if latest else 1,
                status="draft",
                definition=definition,
            )
            s.add(version)
        await s.flush()
        audit.record(s, actor, "update", "form_template", template.id, {"version": version.version})
        return await template_out(s, template)


async def publish(services: Services, actor: Actor, template_id: int) -> FormTemplateOut:
    """Freeze the draft: from now on it is what new requests send, and it never changes."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        template = await _template(s, actor, template_id, lock=True)
        latest = await _latest(s, template.id)
        if latest is None or latest.status != "draft":
            raise Conflict("there is no draft to publish: save changes first")
        check_definition(FormDefinition.model_validate(latest.definition))
        latest.status, latest.published_at = "published", utcnow()
        await s.flush()
        audit.record(s, actor, "publish", "form_template", template.id, {"version": latest.version})
        return await template_out(s, template)


async def patch_template(
    services: Services, actor: Actor, template_id: int, body: FormTemplatePatch
) -> FormTemplateOut:
    """Rename or archive a template (requests already sent keep their version)."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        template = await _template(s, actor, template_id, lock=True)
        if body.name is not None:
            template.name = one_line(body.name, "name")
        if body.archived is not None:
            template.archived = body.archived
        await s.flush()
        audit.record(
            s, actor, "update", "form_template", template.id, {"fields": sorted(body.model_fields_set)}
        )
        return await template_out(s, template)


async def list_templates(services: Services, actor: Actor) -> list[FormTemplateOut]:
    """The practice's templates (staff pick one to send; admins edit them)."""
    async with services.read() as s:
        rows = await s.scalars(
            select(FormTemplate)
            .where(FormTemplate.practice_id == actor.practice_id)
            .order_by(func.lower(FormTemplate.name), FormTemplate.id)
        )
        return [await template_out(s, t) for t in rows]


async def get_template(services: Services, actor: Actor, template_id: int) -> FormTemplateOut:
    async with services.read() as s:
        return await template_out(s, await _template(s, actor, template_id))
