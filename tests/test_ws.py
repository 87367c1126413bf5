"""The /ws endpoint: who may connect, who receives what, and resuming without gaps."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.helpers import ORIGIN, browser, recv_frame, sign_in


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _ws(
    http: aiohttp.ClientSession, server: Any, origin: str = ORIGIN
) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(f"{base(server)}/ws", headers={"Origin": origin})


_recv = recv_frame


async def _subscribe(
    ws: aiohttp.ClientWebSocketResponse, cid: int, last: int | None = None
) -> dict[str, Any]:
    await ws.send_json({"id": cid, "type": "subscribe", "last_event_id": last})
    result = await _recv(ws)
    assert result["type"] == "result" and result["id"] == cid and result["success"], result
    return dict(result["result"])


async def _note(http: aiohttp.ClientSession, server: Any, csrf: str, conv: int, body: str) -> None:
    async with http.post(
        f"{base(server)}/api/v1/conversations/{conv}/notes",
        json={"body": body},
        headers={"X-CSRF-Token": csrf},
    ) as resp:
        assert resp.status == 201, await resp.text()


async def test_socket_without_session_is_refused(served: Any) -> None:
    async with browser() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await _ws(http, served)
        assert info.value.status == 401


async def test_socket_from_foreign_origin_is_refused(served: Any) -> None:
    async with browser() as http:
        await sign_in(http, base(served), "north@test.example")
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await _ws(http, served, origin="https://evil.example")
        assert info.value.status == 403


async def test_staff_only_receive_their_locations_events(served: Any) -> None:
    p = served.practice
    async with browser() as north, browser() as admin:
        await sign_in(north, base(served), p.staff_a)
        admin_session = await sign_in(admin, base(served), p.admin)
        ws_north, ws_admin = await _ws(north, served), await _ws(admin, served)
        await _subscribe(ws_north, 1)
        await _subscribe(ws_admin, 1)
        await _note(admin, served, admin_session["csrf_token"], p.conv_b, "south only")
        await _note(admin, served, admin_session["csrf_token"], p.conv_a, "north visible")
        seen_admin = [(await _recv(ws_admin))["event"]["item"]["body"] for _ in range(2)]
        assert seen_admin == ["south only", "north visible"]
        first_for_north = await _recv(ws_north)
        assert first_for_north["event"]["item"]["body"] == "north visible"
        assert first_for_north["event"]["location_id"] == p.loc_a
        with pytest.raises(asyncio.TimeoutError):
            await _recv(ws_north, timeout=0.3)


async def test_reconnect_with_last_id_gets_exactly_the_missed_events(served: Any) -> None:
    p = served.practice
    async with browser() as http:
        session = await sign_in(http, base(served), p.staff_a)
        ws = await _ws(http, served)
        await _subscribe(ws, 1)
        await _note(http, served, session["csrf_token"], p.conv_a, "seen")
        last = (await _recv(ws))["id"]
        await ws.close()
        for i in range(3):
            await _note(http, served, session["csrf_token"], p.conv_a, f"missed {i}")
        ws = await _ws(http, served)
        result = await _subscribe(ws, 1, last)
        assert result["replayed"] == 3
        replay = [await _recv(ws) for _ in range(3)]
        assert [e["event"]["item"]["body"] for e in replay] == ["missed 0", "missed 1", "missed 2"]
        assert [e["id"] for e in replay] == [last + 1, last + 2, last + 3]
        await _note(http, served, session["csrf_token"], p.conv_a, "live again")
        live = await _recv(ws)
        assert live["id"] == last + 4 and live["event"]["item"]["body"] == "live again"


async def test_too_old_last_id_gets_resync(served: Any) -> None:
    async with browser() as http:
        await sign_in(http, base(served), served.practice.staff_a)
        ws = await _ws(http, served)
        result = await _subscribe(ws, 1, last=1)
        assert result.get("resync") is True
        notice = await _recv(ws)
        assert notice == {"type": "resync", "last_event_id": result["last_event_id"]}


async def test_logout_closes_the_socket(served: Any) -> None:
    async with browser() as http:
        session = await sign_in(http, base(served), served.practice.staff_a)
        ws = await _ws(http, served)
        await _subscribe(ws, 1)
        async with http.delete(
            f"{base(served)}/api/v1/session", headers={"X-CSRF-Token": session["csrf_token"]}
        ) as resp:
            assert resp.status == 204
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4001


async def test_command_envelope_errors(served: Any) -> None:
    async with browser() as http:
        await sign_in(http, base(served), served.practice.staff_a)
        ws = await _ws(http, served)
        await ws.send_str("not json")
        assert (await _recv(ws))["error"]["code"] == "invalid_request"
        await ws.send_json({"id": 5, "type": "ping"})
        pong = await _recv(ws)
        assert pong["success"] and pong["result"]["pong"] is True
        await ws.send_json({"id": 5, "type": "ping"})
        assert (await _recv(ws))["error"] == {
            "code": "invalid_request",
            "message": "command ids must increase",
        }
        await ws.send_json({"id": 6, "type": "launch_rockets"})
        assert (await _recv(ws))["error"]["code"] == "unknown_command"
        await ws.send_json({"id": 7, "type": "subscribe", "last_event_id": "yesterday"})
        error = await _recv(ws)
        assert error["id"] == 7 and error["error"]["code"] == "invalid_request"
        await _subscribe(ws, 8)
        await ws.send_json({"id": 9, "type": "subscribe"})
        assert (await _recv(ws))["error"]["code"] == "conflict"


def _cookie(http: aiohttp.ClientSession, served: Any) -> str:
    from web.keys import SETTINGS

    return http.cookie_jar.filter_cookies(served.make_url("/"))[
        served.app[SETTINGS].sessions.cookie_name
    ].value


async def test_sockets_of_a_session_that_timed_out_are_closed_and_no_others(served: Any) -> None:
    """An idle timeout ends a session without an event; the process's one periodic check finds it."""
    import datetime as dt

    from sqlalchemy import update

    from comms import auth
    from comms.models import StaffSession
    from web.keys import HUB, SERVICES
    from web.ws_session_watch import close_ended

    services = served.app[SERVICES]
    async with browser() as idle, browser() as busy:
        await sign_in(idle, base(served), served.practice.staff_a)
        await sign_in(busy, base(served), served.practice.staff_a)
        idle_ws, busy_ws = await _ws(idle, served), await _ws(busy, served)
        await _subscribe(idle_ws, 1)
        await _subscribe(busy_ws, 1)
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        async with services.unit() as unit:
            await unit.session.execute(
                update(StaffSession)
                .where(StaffSession.id == auth.session_id_for(_cookie(idle, served)))
                .values(last_seen_at=long_ago)
            )
        assert await close_ended(served.app[HUB], services) == 1
        msg = await asyncio.wait_for(idle_ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4001
        await busy_ws.send_json({"id": 2, "type": "ping"})
        assert (await _recv(busy_ws))["result"]["pong"] is True
        assert await close_ended(served.app[HUB], services) == 0
        await busy_ws.close()


async def test_sessions_alive_reads_many_sessions_in_chunks(served: Any) -> None:
    from comms import auth
    from web.keys import SERVICES

    async with browser() as http:
        await sign_in(http, base(served), served.practice.staff_a)
        real = auth.session_id_for(_cookie(http, served))
        asked = [f"missing-{i}" for i in range(auth.ALIVE_CHUNK * 2 + 7)] + [real]
        assert await auth.sessions_alive(served.app[SERVICES], asked) == {real}
