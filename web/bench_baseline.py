"""A bare aiohttp WebSocket broadcast server: the floor Frontdesk's fan-out is measured against.

No auth, no storage, no audiences, compression off: POST /publish builds one 414-byte JSON frame and
awaits `send_str` of it on every socket, the textbook aiohttp broadcast. Run as its own process:
`python -m web.bench_baseline --port 8099`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

FRAME_BYTES = 414


@dataclass
class Broadcast:
    """The sockets to broadcast to and the last event id sent (ids let clients parse both servers alike)."""

    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    last_id: int = 0


STATE = web.AppKey("bench_state", Broadcast)


def build_frame(event_id: int, marker: str) -> str:
    """The same envelope Frontdesk sends, padded to exactly FRAME_BYTES, so clients parse both alike."""
    head = json.dumps(
        {"type": "event", "id": event_id, "event": {"type": "bench", "body": marker, "pad": ""}},
        separators=(",", ":"),
    )
    return head[:-3] + "x" * max(0, FRAME_BYTES - len(head)) + head[-3:]


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    """Accept anyone; answer each command with a success result (clients send one subscribe)."""
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    state = request.app[STATE]
    state.sockets.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                command = json.loads(msg.data)
                reply = {"id": command.get("id"), "type": "result", "success": True, "result": {}}
                await ws.send_str(json.dumps(reply, separators=(",", ":")))
    finally:
        state.sockets.discard(ws)
    return ws


async def publish(request: web.Request) -> web.Response:
    """Serialize once, then await send_str on every socket in turn (what the hub is compared to)."""
    body = await request.json()
    state = request.app[STATE]
    state.last_id += 1
    frame = build_frame(state.last_id, str(body["marker"]))
    sent = 0
    for ws in list(state.sockets):
        if ws.closed:
            continue
        try:
            await ws.send_str(frame)
            sent += 1
        except (ConnectionResetError, RuntimeError):
            continue
    return web.json_response({"id": state.last_id, "sent": sent})


async def healthz(request: web.Request) -> web.Response:
    """Readiness for the orchestrator, at the same path as Frontdesk's."""
    return web.json_response({"status": "ok", "sockets": len(request.app[STATE].sockets)})


def create_app() -> web.Application:
    """Three routes and nothing else: no middleware, no sessions, no store."""
    app = web.Application()
    app[STATE] = Broadcast()
    app.router.add_get("/ws", ws_handler)
    app.router.add_post("/publish", publish)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    """Serve until SIGTERM, without access logs (the bare floor logs nothing)."""
    parser = argparse.ArgumentParser(
        description="bare aiohttp WebSocket broadcast server (benchmark baseline)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
