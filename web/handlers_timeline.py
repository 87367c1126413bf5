"""REST: a conversation's timeline and internal notes."""

from __future__ import annotations

from aiohttp import web

from comms import timeline
from schemas.api import NoteCreate, TimelineItemOut
from schemas.rest import TimelineQuery
from web.api import ApiRouter, int_param, parse_body, parse_query, reply
from web.keys import SERVICES
from web.staff_auth import require_actor

router = ApiRouter("timeline")


@router.route(
    "GET",
    "/api/v1/conversations/{conversation_id}/items",
    summary="A page of the timeline, newest first (before=<oldest id you have> for the next page)",
    query=TimelineQuery,
    response=list[TimelineItemOut],
    errors=(404,),
)
async def list_items(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = parse_query(request, TimelineQuery)
    items = await timeline.list_items(
        request.app[SERVICES], actor, int_param(request, "conversation_id"), before_id=q.before, limit=q.limit
    )
    return reply(items)


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/notes",
    summary="Add an internal note",
    body=NoteCreate,
    response=TimelineItemOut,
    status=201,
    errors=(404,),
)
async def add_note(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, NoteCreate)
    item = await timeline.add_note(
        request.app[SERVICES], actor, int_param(request, "conversation_id"), body.body
    )
    return reply(item, status=201)
