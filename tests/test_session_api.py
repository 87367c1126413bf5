"""Staff sessions over REST: sign-in, cookie flags, CSRF, rate limits, logout, health and OpenAPI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from comms.models import AuditEntry, StaffSession
from tests.helpers import ORIGIN, PASSWORD, browser, sign_in
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_login_sets_httponly_samesite_cookie_and_returns_csrf(served: Any) -> None:
    async with browser() as http:
        async with http.post(
            f"{base(served)}/api/v1/session",
            json={"email": "NORTH@test.example", "password": PASSWORD},
            headers={"Origin": ORIGIN},
        ) as resp:
            assert resp.status == 201
            body = await resp.json()
            cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert body["location_ids"] == [served.practice.loc_a]
        assert body["role"] == "staff" and len(body["csrf_token"]) > 30
        async with http.get(f"{base(served)}/api/v1/session") as resp:
            assert resp.status == 200
            assert (await resp.json())["email"] == "north@test.example"


async def test_wrong_password_is_401_with_error_shape(served: Any) -> None:
    async with browser() as http:
        async with http.post(
            f"{base(served)}/api/v1/session", json={"email": "north@test.example", "password": "nope"}
        ) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "unauthenticated"


async def test_login_rate_limited_per_account(served: Any) -> None:
    async with browser() as http:
        for _ in range(5):
            async with http.post(
                f"{base(served)}/api/v1/session",
                json={"email": "south@test.example", "password": "wrong-password"},
            ) as resp:
                assert resp.status == 401
        # Even the right password is refused while the account is locked out.
        async with http.post(
            f"{base(served)}/api/v1/session", json={"email": "south@test.example", "password": PASSWORD}
        ) as resp:
            assert resp.status == 429
            assert int(resp.headers["Retry-After"]) > 0
            assert (await resp.json())["error"]["code"] == "rate_limited"
        # Another account from the same address is still allowed (address limit is higher).
        await sign_in(http, base(served), "north@test.example")


async def test_mutation_without_csrf_token_is_refused(served: Any) -> None:
    conv = served.practice.conv_a
    async with browser() as http:
        session = await sign_in(http, base(served), "north@test.example")
        url = f"{base(served)}/api/v1/conversations/{conv}/notes"
        async with http.post(url, json={"body": "call back"}) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "csrf_failed"
        async with http.post(
            url,
            json={"body": "call back"},
            headers={"X-CSRF-Token": session["csrf_token"], "Origin": "https://evil.example"},
        ) as resp:
            assert resp.status == 403
        async with http.post(
            url, json={"body": "call back"}, headers={"X-CSRF-Token": session["csrf_token"], "Origin": ORIGIN}
        ) as resp:
            assert resp.status == 201
            assert (await resp.json())["kind"] == "note"


async def test_other_locations_records_are_not_found(served: Any) -> None:
    async with browser() as http:
        session = await sign_in(http, base(served), "north@test.example")
        url = f"{base(served)}/api/v1/conversations/{served.practice.conv_b}/notes"
        async with http.post(
            url, json={"body": "x"}, headers={"X-CSRF-Token": session["csrf_token"]}
        ) as resp:
            assert resp.status == 404
        async with http.get(f"{base(served)}/api/v1/conversations/{served.practice.conv_b}/items") as resp:
            assert resp.status == 404


async def test_reading_a_thread_is_audited(served: Any) -> None:
    async with browser() as http:
        await sign_in(http, base(served), "north@test.example")
        async with http.get(f"{base(served)}/api/v1/conversations/{served.practice.conv_a}/items") as resp:
            assert resp.status == 200
    async with served.app[SERVICES].read() as s:
        views = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "view"))).all()
    assert [(v.record_type, v.record_id) for v in views] == [("conversation", str(served.practice.conv_a))]
    assert views[0].remote_addr == "127.0.0.1"


async def test_reading_a_thread_summary_is_audited_and_another_locations_is_refused(served: Any) -> None:
    async with browser() as http:
        await sign_in(http, base(served), "north@test.example")
        async with http.get(f"{base(served)}/api/v1/conversations/{served.practice.conv_a}") as resp:
            assert resp.status == 200
        async with http.get(f"{base(served)}/api/v1/conversations/{served.practice.conv_b}") as resp:
            assert resp.status == 404
    async with served.app[SERVICES].read() as s:
        views = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "view"))).all()
    assert [(v.record_type, v.record_id, v.detail) for v in views] == [
        ("conversation", str(served.practice.conv_a), {"summary": True})
    ]


async def test_idle_session_expires(served: Any) -> None:
    async with browser() as http:
        await sign_in(http, base(served), "north@test.example")
        async with served.app[SERVICES].unit() as unit:
            row = (await unit.session.scalars(select(StaffSession))).one()
            await unit.session.execute(
                update(StaffSession)
                .where(StaffSession.id == row.id)
                .values(last_seen_at=row.last_seen_at.replace(year=row.last_seen_at.year - 1))
            )
        async with http.get(f"{base(served)}/api/v1/session") as resp:
            assert resp.status == 401


async def test_logout_ends_the_session(served: Any) -> None:
    async with browser() as http:
        session = await sign_in(http, base(served), "north@test.example")
        async with http.delete(
            f"{base(served)}/api/v1/session", headers={"X-CSRF-Token": session["csrf_token"]}
        ) as resp:
            assert resp.status == 204
        async with http.get(f"{base(served)}/api/v1/session") as resp:
            assert resp.status == 401


async def test_bad_json_and_unknown_fields_get_clear_422(served: Any) -> None:
    async with browser() as http:
        async with http.post(
            f"{base(served)}/api/v1/session", data=b"{not json", headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 422
            assert "not valid JSON" in (await resp.json())["error"]["message"]
        async with http.post(
            f"{base(served)}/api/v1/session", json={"email": "a@b.c", "password": "x", "admin": True}
        ) as resp:
            assert resp.status == 422
            assert "admin" in (await resp.json())["error"]["message"]


async def test_healthz_and_openapi(served: Any) -> None:
    async with browser() as http:
        async with http.get(f"{base(served)}/healthz") as resp:
            assert resp.status == 200
            health = await resp.json()
        assert health["database"] == "ok" and health["bus"] == "ok" and health["bus_kind"] == "in-process"
        async with http.get(f"{base(served)}/api/v1/openapi.json") as resp:
            spec = await resp.json()
    assert spec["openapi"].startswith("3.1")
    login = spec["paths"]["/api/v1/session"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/LoginRequest")
    assert "429" in login["responses"]
    assert "LoginRequest" in spec["components"]["schemas"]
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert "/api/v1/conversations/{conversation_id}/notes" in spec["paths"]


async def test_unknown_api_route_is_json_404(served: Any) -> None:
    async with browser() as http:
        async with http.get(f"{base(served)}/api/v1/nothing-here") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"


async def test_the_icon_is_served_without_a_session(served: Any) -> None:
    async with browser() as http, http.get(f"{base(served)}/favicon.ico") as resp:
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        assert (await resp.text()).startswith("<svg")


async def test_a_burst_of_stale_sessions_is_marked_seen_in_a_few_statements(served: Any) -> None:
    """A reconnect storm authenticates every socket's session at once: one UPDATE for many, not a
    write transaction each; a session seen within the minute is not written at all."""
    import asyncio
    import datetime as dt
    import secrets

    from sqlalchemy import event

    from comms import auth
    from comms.models import StaffUser, utcnow

    services = served.app[SERVICES]
    now = utcnow()
    stale, fresh = now - dt.timedelta(minutes=5), now - dt.timedelta(seconds=10)
    async with services.unit() as unit:
        user_id = await unit.session.scalar(
            select(StaffUser.id).where(StaffUser.email == served.practice.staff_a)
        )
        tokens = [secrets.token_urlsafe(16) for _ in range(40)]
        for n, token in enumerate(tokens):
            unit.session.add(
                StaffSession(
                    id=auth.session_id_for(token),
                    user_id=user_id,
                    csrf_token="c",
                    created_at=stale,
                    last_seen_at=fresh if n == 0 else stale,
                    expires_at=now + dt.timedelta(hours=8),
                )
            )
    updates: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE STAFF_SESSIONS"):
            updates.append(statement)

    engine = services.sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        infos = await asyncio.gather(*(auth.authenticate(services, t, "127.0.0.1") for t in tokens))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert {i.actor.user_id for i in infos} == {user_id}
    # Reads finish at their own pace, so touches arrive in a few bursts: far fewer statements than
    # sessions (one write each before); touches that arrive together are exactly one.
    assert 1 <= len(updates) <= len(tokens) // 4, len(updates)
    async with services.read() as s:
        rows = {r.id: r.last_seen_at for r in await s.scalars(select(StaffSession))}
    ids = [auth.session_id_for(t) for t in tokens]
    assert abs(rows[ids[0]] - fresh) < dt.timedelta(seconds=1)  # seen 10 s ago: left as it was
    assert all(rows[i] >= now for i in ids[1:])

    from comms import session_touch

    async with services.unit() as unit:
        await unit.session.execute(update(StaffSession).values(last_seen_at=stale))
    updates.clear()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await asyncio.gather(*(session_touch.mark_seen(services, i) for i in ids))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(updates) == 1
