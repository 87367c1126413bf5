"""REST for e-mail: send with attachments, and the authorized, audited views of a received mail.

The HTML view is a page of its own, meant for a sandboxed iframe: its Content-Security-Policy lets it
load nothing (no script, no font, no frame; pictures only from inside the page) unless staff asked for
remote pictures, and sandbox keeps it in an opaque origin even if something slipped through.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import urllib.parse

from aiohttp import web
from pydantic import ValidationError

from comms import email_actions, email_outbox, email_view
from comms.email_build import OutgoingAttachment
from comms.email_view import INLINE_IMAGE_TYPES, StaffFile
from comms.errors import InvalidRequest
from schemas.api import TimelineItemOut
from schemas.email import EmailHtmlQuery, EmailSend, ResolveUnconfirmed
from web.api import ApiRouter, int_param, parse_body, parse_query, reply
from web.keys import SERVICES, SETTINGS
from web.mail import wake_email_sender
from web.middleware import describe_validation
from web.staff_auth import require_actor

router = ApiRouter("email")
JSON_OVERHEAD = 1024 * 1024  # the text, subject and JSON around the base64 files
# Types a browser could run as a page or script if opened: always handed over as plain bytes.
ACTIVE_TYPES = (
    "text/html",
    "application/xhtml",
    "image/svg",
    "text/xml",
    "application/xml",
    "text/javascript",
)


def _csp(remote_images: bool) -> str:
    images = "data: https: http:" if remote_images else "data:"
    return (
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
        f"img-src {images}; style-src 'unsafe-inline'; frame-ancestors 'self'; "
        "form-action 'none'; base-uri 'none'"
    )


async def _large_json(request: web.Request, limit: int) -> object:
    """A JSON body bigger than the app's default limit (attachments), read in chunks up to `limit`."""
    if request.content_type != "application/json":
        raise InvalidRequest("send the body as application/json")
    too_large = web.HTTPRequestEntityTooLarge(
        max_size=limit,
        actual_size=request.content_length or limit + 1,
        reason=f"the e-mail with its attachments is over {limit // (1024 * 1024)} MB",
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON") from None


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/emails",
    summary="E-mail the patient from the thread, with attachments (text and an HTML version)",
    body=EmailSend,
    response=TimelineItemOut,
    status=201,
    errors=(404, 413),
)
async def send_email(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    smtp = request.app[SETTINGS].smtp
    limit = math.ceil(smtp.max_attachment_bytes * 4 / 3) + JSON_OVERHEAD
    try:
        body = EmailSend.model_validate(await _large_json(request, limit))
    except ValidationError as exc:
        raise InvalidRequest(describe_validation(exc)) from None
    files = []
    for i, f in enumerate(body.attachments):
        try:
            data = base64.b64decode(f.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"attachments.{i}.content_base64: not valid base64") from None
        files.append(OutgoingAttachment(f.filename, f.content_type, data))
    item = await email_actions.send_email(
        request.app[SERVICES], actor, int_param(request, "conversation_id"), body.body, body.subject, files
    )
    wake_email_sender(request.app)
    return reply(item, status=201)


@router.route(
    "GET",
    "/api/v1/email/{item_id}/html",
    summary="A received e-mail's HTML, sanitized, as a page for a sandboxed frame (audited)",
    query=EmailHtmlQuery,
    errors=(404,),
)
async def email_html(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    query = parse_query(request, EmailHtmlQuery)
    page = await email_view.html_for_staff(
        request.app[SERVICES], actor, int_param(request, "item_id"), remote_images=query.remote_images
    )
    return web.Response(
        text=page,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": _csp(query.remote_images),
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )


@router.route(
    "GET",
    "/api/v1/email/{item_id}/raw",
    summary="The full original (.eml) of an e-mail (audited)",
    errors=(404,),
)
async def email_raw(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    found = await email_view.raw_for_staff(request.app[SERVICES], actor, int_param(request, "item_id"))
    return _file(found, inline=False)


@router.route(
    "GET",
    "/api/v1/email/attachments/{media_id}",
    summary="A file attached to an e-mail, under its own name (audited)",
    errors=(404,),
)
async def email_attachment(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    found = await email_view.attachment_for_staff(
        request.app[SERVICES], actor, int_param(request, "media_id")
    )
    return _file(found, inline=found.content_type in INLINE_IMAGE_TYPES and "download" not in request.query)


@router.route(
    "POST",
    "/api/v1/email/{item_id}/resolve",
    summary="Decide on an e-mail whose hand-off was not confirmed: send again, or mark it sent",
    body=ResolveUnconfirmed,
    response=TimelineItemOut,
    errors=(404, 409),
)
async def resolve_unconfirmed(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ResolveUnconfirmed)
    item = await email_outbox.resolve_unconfirmed(
        request.app[SERVICES], actor, int_param(request, "item_id"), body.decision
    )
    if body.decision == "resend":
        wake_email_sender(request.app)
    return reply(item)


def _file(found: StaffFile, *, inline: bool) -> web.FileResponse:
    content_type = found.content_type
    if content_type.startswith(ACTIVE_TYPES) or "/" not in content_type:
        content_type = "application/octet-stream"
    return web.FileResponse(
        found.path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": content_disposition("inline" if inline else "attachment", found.filename),
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


def content_disposition(kind: str, filename: str) -> str:
    """The name in both forms: plain ASCII for old clients, RFC 6266/5987 UTF-8 for the rest."""
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in filename
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"
