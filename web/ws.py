"""GET /ws: session and Origin checked before the upgrade, then commands in and events out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from comms import auth
from comms.errors import Forbidden, FrontdeskError
from schemas import errors as codes
from schemas.ws import Command, ErrorInfo, ResultError, ResultOk
from web.client import client_addr, origin_allowed
from web.keys import HUB, PRESENCE, SERVICES, SETTINGS
from web.middleware import describe_validation
from web.ws_commands import COMMANDS
from web.ws_connection import NO_REPLY, WsConnection

log = logging.getLogger(__name__)
TOUCH_EVERY = 60.0


async def ws_handler(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    if not origin_allowed(request, settings):
        raise Forbidden("WebSocket from a foreign or missing Origin")
    token = request.cookies.get(settings.sessions.cookie_name, "")
    info = await auth.authenticate(request.app[SERVICES], token, client_addr(request, settings))

    cfg = settings.websocket
    ws = web.WebSocketResponse(
        heartbeat=cfg.heartbeat_seconds, max_msg_size=cfg.max_message_bytes, compress=False
    )
    await ws.prepare(request)
    conn = WsConnection(
        ws, info, request.app[SERVICES], request.app[PRESENCE], cfg.queue_limit, request.transport
    )
    hub = request.app[HUB]
    hub.add(conn.subscriber)
    writer = asyncio.create_task(conn.write_forever(), name="ws-writer")
    last_touch = time.monotonic()
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await _handle(conn, msg.data)
                if time.monotonic() - last_touch > TOUCH_EVERY:
                    last_touch = time.monotonic()
                    await auth.touch(conn.services, info.actor.session_id)
            elif msg.type == WSMsgType.BINARY:
                _error(conn, None, codes.INVALID_REQUEST, "send commands as JSON text frames")
    finally:
        hub.remove(conn.subscriber)
        await conn.leave()
        conn.subscriber.outbox.close()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


def _error(conn: WsConnection, command_id: int | None, code: str, message: str) -> None:
    conn.send_now(ResultError(id=command_id, error=ErrorInfo(code=code, message=message)).model_dump_json())


async def _handle(conn: WsConnection, data: str) -> None:
    """Validate the envelope, enforce increasing ids, run the command, queue its result."""
    try:
        envelope = Command.model_validate(json.loads(data))
    except (json.JSONDecodeError, ValidationError):
        _error(conn, None, codes.INVALID_REQUEST, "expected a JSON object with an integer id and a type")
        return
    if envelope.id <= conn.last_command_id:
        _error(conn, envelope.id, codes.INVALID_REQUEST, "command ids must increase")
        return
    conn.last_command_id = envelope.id
    spec = COMMANDS.get(envelope.type)
    if spec is None:
        _error(conn, envelope.id, codes.UNKNOWN_COMMAND, f"unknown command type {envelope.type[:64]!r}")
        return
    try:
        message = spec.model.model_validate(json.loads(data))
    except ValidationError as exc:
        _error(conn, envelope.id, codes.INVALID_REQUEST, describe_validation(exc))
        return
    try:
        result = await spec.handler(conn, message)
    except FrontdeskError as exc:
        _error(conn, envelope.id, exc.code, exc.message)
        return
    except Exception:
        log.exception("WebSocket command %s failed", envelope.type)
        _error(conn, envelope.id, codes.INTERNAL, "internal error; it has been logged")
        return
    if result is not NO_REPLY:
        conn.send_now(ResultOk(id=envelope.id, result=result).model_dump_json())
