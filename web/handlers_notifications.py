"""REST: a staff member's notifications (mentions, hand-offs) and marking them read."""

from __future__ import annotations

from aiohttp import web

from comms import notifications
from schemas.chat import NotificationOut, NotificationsRead
from schemas.rest import NotificationsQuery
from web.api import ApiRouter, parse_body, parse_query, reply
from web.keys import SERVICES
from web.staff_auth import require_actor

router = ApiRouter("notifications")


@router.route(
    "GET",
    "/api/v1/notifications",
    summary="My unread notifications (all=true for read ones too), newest first",
    query=NotificationsQuery,
    response=list[NotificationOut],
)
async def list_notifications(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = parse_query(request, NotificationsQuery)
    return reply(await notifications.list_for(request.app[SERVICES], actor, unread_only=not q.all))


@router.route(
    "POST",
    "/api/v1/notifications/read",
    summary="Mark notifications read",
    body=NotificationsRead,
    status=204,
)
async def read_notifications(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, NotificationsRead)
    await notifications.mark_read(request.app[SERVICES], actor, body.ids)
    return web.Response(status=204)
