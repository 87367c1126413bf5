"""REST: texting a patient from the thread, send-later cancellation, and media for staff."""

from __future__ import annotations

from aiohttp import web

from comms import email_actions, media, messaging
from comms.errors import InvalidRequest
from schemas.api import TimelineItemOut
from schemas.messages import SendMessage
from web.api import ApiRouter, int_param, parse_body, reply
from web.carrier import wake_sender
from web.keys import SERVICES
from web.mail import wake_email_sender
from web.staff_auth import require_actor

router = ApiRouter("messages")


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/messages",
    summary="Text (now or later; refused after STOP) or e-mail the patient",
    body=SendMessage,
    response=TimelineItemOut,
    status=201,
    errors=(404, 409),
)
async def send_message(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, SendMessage)
    conversation_id = int_param(request, "conversation_id")
    if body.channel == "email":
        if body.send_at is not None:
            raise InvalidRequest("send-later is for texts only for now")
        item = await email_actions.send_email(
            request.app[SERVICES], actor, conversation_id, body.body, body.subject
        )
        wake_email_sender(request.app)
        return reply(item, status=201)
    item = await messaging.send_sms(request.app[SERVICES], actor, conversation_id, body.body, body.send_at)
    wake_sender(request.app)
    return reply(item, status=201)


@router.route(
    "POST",
    "/api/v1/items/{item_id}/cancel",
    summary="Cancel a scheduled (send-later) message (422 once it has gone or was canceled)",
    response=TimelineItemOut,
    errors=(404, 422),
)
async def cancel_message(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(
        await messaging.cancel_scheduled(request.app[SERVICES], actor, int_param(request, "item_id"))
    )


@router.route(
    "GET",
    "/api/v1/media/{media_id}",
    summary="A picture or file from a message (staff only), with the Content-Type it was received with",
    binary_types=("*/*",),
    response_headers={"Content-Disposition": "inline for pictures, attachment for anything else"},
    errors=(404,),
)
async def get_media(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    path, content_type = await media.for_staff(request.app[SERVICES], actor, int_param(request, "media_id"))
    response = web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": "inline" if content_type.startswith("image/") else "attachment",
            "Cache-Control": "private, max-age=3600",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )
    return response
