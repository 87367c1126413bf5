"""REST: team chat (channels, direct conversations, messages, read markers) and the staff directory."""

from __future__ import annotations

from aiohttp import web

from comms import chat
from schemas.chat import (
    ChannelCreate,
    ChatChannelOut,
    ChatMessageOut,
    ChatReadRequest,
    ChatReadState,
    DirectOpen,
    MessageCreate,
    MessagesQuery,
    StaffOut,
)
from web.api import ApiRouter, int_param, parse_body, parse_query, reply
from web.keys import SERVICES
from web.staff_auth import require_actor

router = ApiRouter("chat")


@router.route(
    "GET",
    "/api/v1/staff",
    summary="The practice's active staff (for direct messages and @mentions)",
    response=list[StaffOut],
)
async def list_staff(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await chat.list_staff(request.app[SERVICES], actor))


@router.route(
    "GET",
    "/api/v1/chat/channels",
    summary="My channels and direct conversations, with unread counts",
    response=list[ChatChannelOut],
)
async def list_channels(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await chat.list_channels(request.app[SERVICES], actor))


@router.route(
    "POST",
    "/api/v1/chat/channels",
    summary="Create a public channel for the whole practice",
    body=ChannelCreate,
    response=ChatChannelOut,
    status=201,
    errors=(409,),
)
async def create_channel(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ChannelCreate)
    return reply(await chat.create_channel(request.app[SERVICES], actor, body.name), status=201)


@router.route(
    "POST",
    "/api/v1/chat/direct",
    summary="Open (or reopen) the direct conversation with a colleague",
    body=DirectOpen,
    response=ChatChannelOut,
    errors=(404, 409),
)
async def open_direct(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, DirectOpen)
    return reply(await chat.open_direct(request.app[SERVICES], actor, body.user_id))


@router.route(
    "GET",
    "/api/v1/chat/channels/{channel_id}/messages",
    summary="A page of messages, newest first",
    query=MessagesQuery,
    response=list[ChatMessageOut],
    errors=(404,),
)
async def list_messages(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    channel_id = int_param(request, "channel_id")
    q = parse_query(request, MessagesQuery)
    messages = await chat.list_messages(
        request.app[SERVICES], actor, channel_id, before_id=q.before, limit=q.limit
    )
    return reply(messages)


@router.route(
    "POST",
    "/api/v1/chat/channels/{channel_id}/messages",
    summary="Post a message",
    body=MessageCreate,
    response=ChatMessageOut,
    status=201,
    errors=(404,),
)
async def post_message(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    channel_id = int_param(request, "channel_id")
    body = await parse_body(request, MessageCreate)
    message = await chat.post_message(request.app[SERVICES], actor, channel_id, body.body)
    return reply(message, status=201)


@router.route(
    "POST",
    "/api/v1/chat/channels/{channel_id}/read",
    summary="Mark messages read up to one",
    body=ChatReadRequest,
    response=ChatReadState,
    errors=(404,),
)
async def mark_read(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    channel_id = int_param(request, "channel_id")
    body = await parse_body(request, ChatReadRequest)
    return reply(await chat.mark_read(request.app[SERVICES], actor, channel_id, body.message_id))
