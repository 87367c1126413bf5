"""REST: intake form templates (admins write and publish them), form requests from a thread, what the
patient answered, and their uploads (staff only, every read audited)."""

from __future__ import annotations

from aiohttp import web

from comms import form_templates, forms
from comms.errors import Conflict
from comms.form_pdf_store import pdf_for_staff
from schemas.forms import (
    FormRequestDetail,
    FormRequestIn,
    FormRequestOut,
    FormTemplateIn,
    FormTemplateOut,
    FormTemplatePatch,
    FormVersionIn,
)
from web import form_print
from web.api import ApiRouter, int_param, parse_body, reply
from web.carrier import wake_sender
from web.keys import SERVICES
from web.staff_auth import require_actor

router = ApiRouter("forms")


@router.route(
    "GET",
    "/api/v1/form-templates",
    summary="The practice's intake form templates with their versions",
    response=list[FormTemplateOut],
)
async def list_templates(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await form_templates.list_templates(request.app[SERVICES], actor))


@router.route(
    "POST",
    "/api/v1/form-templates",
    summary="A new form template; its first version is a draft until published (administrators)",
    body=FormTemplateIn,
    response=FormTemplateOut,
    status=201,
)
async def create_template(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, FormTemplateIn)
    return reply(await form_templates.create_template(request.app[SERVICES], actor, body), status=201)


@router.route(
    "GET",
    "/api/v1/form-templates/{template_id}",
    summary="One form template with its versions",
    response=FormTemplateOut,
)
async def get_template(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    template_id = int_param(request, "template_id")
    return reply(await form_templates.get_template(request.app[SERVICES], actor, template_id))


@router.route(
    "PATCH",
    "/api/v1/form-templates/{template_id}",
    summary="Rename or archive a template (requests already sent keep their version)",
    body=FormTemplatePatch,
    response=FormTemplateOut,
    errors=(409,),
)
async def patch_template(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, FormTemplatePatch)
    template_id = int_param(request, "template_id")
    return reply(await form_templates.patch_template(request.app[SERVICES], actor, template_id, body))


@router.route(
    "PUT",
    "/api/v1/form-templates/{template_id}/draft",
    summary="Save the draft version's questions (a new draft when the newest version is published)",
    body=FormVersionIn,
    response=FormTemplateOut,
)
async def save_draft(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, FormVersionIn)
    template_id = int_param(request, "template_id")
    return reply(await form_templates.save_draft(request.app[SERVICES], actor, template_id, body))


@router.route(
    "POST",
    "/api/v1/form-templates/{template_id}/publish",
    summary="Publish the draft: frozen from now on, and what new requests send",
    response=FormTemplateOut,
    errors=(409,),
)
async def publish(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    template_id = int_param(request, "template_id")
    return reply(await form_templates.publish(request.app[SERVICES], actor, template_id))


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/form-requests",
    summary="Send the thread's patient a form: a form card in the thread and a text with the private link",
    body=FormRequestIn,
    response=FormRequestOut,
    status=201,
    errors=(409,),
)
async def send(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, FormRequestIn)
    out = await forms.send_form(request.app[SERVICES], actor, int_param(request, "conversation_id"), body)
    wake_sender(request.app)
    return reply(out, status=201)


@router.route(
    "GET",
    "/api/v1/conversations/{conversation_id}/form-requests",
    summary="The thread's form requests, newest first (audited)",
    response=list[FormRequestOut],
)
async def list_for_thread(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    conversation_id = int_param(request, "conversation_id")
    return reply(await forms.list_for_conversation(request.app[SERVICES], actor, conversation_id))


@router.route(
    "GET",
    "/api/v1/form-requests/{request_id}",
    summary="One form request with the patient's answers and uploads (audited)",
    response=FormRequestDetail,
)
async def get_one(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await forms.get_request(request.app[SERVICES], actor, int_param(request, "request_id")))


@router.route(
    "GET",
    "/api/v1/form-requests/{request_id}/print",
    summary="A completed form as a printable page (save as PDF from the print dialog; audited)",
    binary_types=("text/html",),
    errors=(409,),
)
async def print_view(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    detail = await forms.get_request(
        request.app[SERVICES], actor, int_param(request, "request_id"), action="print"
    )
    if detail.status != "completed":
        raise Conflict("this form is not completed yet")
    return web.Response(
        text=form_print.render(detail),
        content_type="text/html",
        headers={"Content-Security-Policy": form_print.POLICY, "Cache-Control": "private, no-store"},
    )


@router.route(
    "GET",
    "/api/v1/form-requests/{request_id}/pdf",
    summary="The completed form's PDF, made when the patient submitted it (staff of its location; audited)",
    binary_types=("application/pdf",),
)
async def get_pdf(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    path, name = await pdf_for_staff(request.app[SERVICES], actor, int_param(request, "request_id"))
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.route(
    "GET",
    "/api/v1/form-uploads/{upload_id}",
    summary="A file or signature a patient gave in a form (staff of its location only; audited)",
    binary_types=("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"),
    response_headers={"Content-Disposition": "inline for pictures, attachment for anything else"},
)
async def get_upload(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    path, content_type = await forms.upload_for_staff(
        request.app[SERVICES], actor, int_param(request, "upload_id")
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": "inline" if content_type.startswith("image/") else "attachment",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )
