"""REST: the conversation list and the staff's moves on a thread."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from comms import inbox, search
from comms.models import Location
from schemas.api import LocationOut
from schemas.inbox import (
    AssignRequest,
    ConversationPage,
    ConversationQuery,
    ConversationState,
    ReadRequest,
    StatusRequest,
    ThreadSummary,
)
from schemas.search import SearchRequest, SearchResult
from web.api import ApiRouter, int_param, parse_body, parse_query, reply
from web.keys import SERVICES
from web.staff_auth import require_actor

router = ApiRouter("inbox")


@router.route(
    "GET", "/api/v1/locations", summary="The locations this staff member may see", response=list[LocationOut]
)
async def list_locations(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with request.app[SERVICES].read() as session:
        query = select(Location).where(Location.practice_id == actor.practice_id).order_by(Location.id)
        rows = [loc for loc in await session.scalars(query) if actor.may_see(loc.id)]
    return reply(
        [
            LocationOut(
                id=loc.id, name=loc.name, timezone=loc.timezone, numbers=[n.e164 for n in loc.numbers]
            )
            for loc in rows
        ]
    )


@router.route(
    "GET",
    "/api/v1/conversations",
    summary="Conversation list, newest activity first",
    query=ConversationQuery,
    response=ConversationPage,
    errors=(404,),
)
async def list_conversations(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = parse_query(request, ConversationQuery)
    flt = inbox.ListFilter(
        status=None if q.status == "all" else q.status,
        assignee=q.assignee,
        unread=q.unread,
        channel=q.channel,
        team_id=q.team,
        location_id=q.location,
    )
    page = await inbox.list_conversations(request.app[SERVICES], actor, flt, q.cursor, q.limit)
    return reply(page)


@router.route(
    "GET",
    "/api/v1/conversations/{conversation_id}",
    summary="One conversation's summary",
    response=ThreadSummary,
    errors=(404,),
)
async def get_conversation(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(
        await inbox.get_conversation(request.app[SERVICES], actor, int_param(request, "conversation_id"))
    )


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/assign",
    summary="Assign or hand off",
    body=AssignRequest,
    response=ConversationState,
    errors=(404,),
)
async def assign(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, AssignRequest)
    state = await inbox.assign(
        request.app[SERVICES],
        actor,
        int_param(request, "conversation_id"),
        body.assignee_id,
        body.note,
        body.team_id,
    )
    return reply(state)


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/status",
    summary="Close, reopen or snooze",
    body=StatusRequest,
    response=ConversationState,
    errors=(404,),
)
async def set_status(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, StatusRequest)
    state = await inbox.set_status(
        request.app[SERVICES], actor, int_param(request, "conversation_id"), body.status, body.snoozed_until
    )
    return reply(state)


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/read",
    summary="Mark read up to an item",
    body=ReadRequest,
    status=204,
    errors=(404,),
)
async def mark_read(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ReadRequest)
    await inbox.mark_read(request.app[SERVICES], actor, int_param(request, "conversation_id"), body.item_id)
    return web.Response(status=204)


@router.route(
    "POST",
    "/api/v1/search",
    summary="Find patients by name, phone or e-mail, and messages by text",
    body=SearchRequest,
    response=SearchResult,
)
async def search_all(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, SearchRequest)
    return reply(await search.search(request.app[SERVICES], actor, body.q, body.limit))
