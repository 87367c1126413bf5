"""Login limits under pressure: parallel guesses on one node and two, per address, session lifetime, sign-out
everywhere."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

import aiohttp
from sqlalchemy import func, select, update

from comms.models import LoginFailure, StaffSession, utcnow
from config.settings import Settings
from tests.helpers import ORIGIN, PASSWORD, browser, recv_frame, sign_in
from web.app import create_app
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _attempt(http: aiohttp.ClientSession, url: str, email: str, password: str, **headers: str) -> int:
    async with http.post(
        f"{url}/api/v1/session", json={"email": email, "password": password}, headers=headers
    ) as r:
        await r.read()
        return r.status


async def test_parallel_wrong_logins_on_two_nodes_pass_the_account_limit_no_more_than_allowed(
    served: Any, app_settings: Settings, aiohttp_server: Any
) -> None:
    # A second node on the same database: the limit must hold across processes, not just in one.
    node_b = await aiohttp_server(create_app(app_settings))
    urls = [base(served), base(node_b)]
    limit = app_settings.login.max_failures_per_account
    async with browser() as http:
        statuses = await asyncio.gather(
            *(_attempt(http, urls[i % 2], "north@test.example", f"guess-{i}") for i in range(40))
        )
        # The right password is refused too while the account is locked out.
        assert await _attempt(http, urls[1], "north@test.example", PASSWORD) == 429
    assert Counter(statuses) == {401: limit, 429: 40 - limit}
    async with served.app[SERVICES].read() as s:
        recorded = await s.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.key == "account:north@test.example")
        )
    assert recorded == limit  # refused attempts are not recorded, so they do not extend the lock-out


async def _behind_proxy(
    db_settings: dict[str, Any], aiohttp_server: Any, per_address: int
) -> tuple[Settings, str]:
    """A served app whose address limit is `per_address`; only loopback is a trusted proxy, so
    X-Forwarded-For names the client's address."""
    from comms import migrate
    from comms.db import make_engine
    from tests.conftest import make_settings
    from tests.helpers import seed_practice

    settings = make_settings(
        db_settings,
        server={"allowed_origins": [ORIGIN], "trusted_proxies": ["127.0.0.1/32"]},
        login={"max_failures_per_account": 50, "max_failures_per_address": per_address},
    )
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    server = await aiohttp_server(app)
    await seed_practice(app[SERVICES])
    return settings, base(server)


async def test_parallel_wrong_logins_across_accounts_stop_at_the_address_limit(
    db_settings: dict[str, Any], aiohttp_server: Any
) -> None:
    settings, url = await _behind_proxy(db_settings, aiohttp_server, per_address=12)
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    async with browser() as http:
        # Many accounts, existing or not, guessed at once from one address.
        emails = ["north@test.example", "south@test.example", "admin@test.example"]
        emails += [f"nobody{i}@test.example" for i in range(5)]
        statuses = await asyncio.gather(
            *(_attempt(http, url, emails[i % len(emails)], f"guess-{i}", **attacker) for i in range(30))
        )
        assert Counter(statuses) == {401: 12, 429: 18}
        # From that address even a right password is refused, and says why.
        async with http.post(
            f"{url}/api/v1/session",
            json={"email": "admin@test.example", "password": PASSWORD},
            headers=attacker,
        ) as resp:
            assert resp.status == 429
            assert "address" in (await resp.json())["error"]["message"]
            assert int(resp.headers["Retry-After"]) == settings.login.window_minutes * 60
    # Another address signs in to the same accounts as usual.
    async with browser() as http:
        async with http.post(
            f"{url}/api/v1/session",
            json={"email": "admin@test.example", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7", "Origin": ORIGIN},
        ) as resp:
            assert resp.status == 201


async def test_an_ipv6_client_counts_by_its_64_however_many_addresses_it_walks(
    db_settings: dict[str, Any], aiohttp_server: Any
) -> None:
    _settings, url = await _behind_proxy(db_settings, aiohttp_server, per_address=3)
    async with browser() as http:
        for i in range(3):  # a new address of one /64 for each guess
            forwarded = {"X-Forwarded-For": f"2001:db8:7:9::{i + 1:x}"}
            assert await _attempt(http, url, "admin@test.example", f"guess-{i}", **forwarded) == 401

        async def right(address: str) -> int:
            async with http.post(
                f"{url}/api/v1/session",
                json={"email": "admin@test.example", "password": PASSWORD},
                headers={"X-Forwarded-For": address, "Origin": ORIGIN},
            ) as resp:
                return resp.status

        assert await right("2001:db8:7:9:abcd::1") == 429  # same /64, never-seen address
        assert await right("2001:db8:7:a::1") == 201  # the next /64 is another client


async def test_a_good_login_does_not_reset_the_address_budget(served: Any) -> None:
    limit = served.app[SERVICES].settings.login.max_failures_per_address
    async with browser() as http:
        for i in range(limit - 1):
            assert await _attempt(http, base(served), f"nobody{i}@test.example", "guess") == 401
        await sign_in(http, base(served), "north@test.example")
        assert await _attempt(http, base(served), "nobody@test.example", "guess") == 401
        # The address has used its whole budget: the good login in between took back only its own try.
        assert await _attempt(http, base(served), "south@test.example", PASSWORD) == 429


async def test_failures_outside_the_window_no_longer_count(served: Any) -> None:
    async with browser() as http:
        for _ in range(5):
            assert await _attempt(http, base(served), "south@test.example", "guess") == 401
        assert await _attempt(http, base(served), "south@test.example", PASSWORD) == 429
        window = served.app[SERVICES].settings.login.window_minutes
        async with served.app[SERVICES].unit() as unit:
            await unit.session.execute(
                update(LoginFailure).values(at=utcnow() - dt.timedelta(minutes=window, seconds=1))
            )
        await sign_in(http, base(served), "south@test.example")


async def _age_session(served: Any, **shift: dt.timedelta) -> None:
    async with served.app[SERVICES].unit() as unit:
        row = (await unit.session.scalars(select(StaffSession))).one()
        await unit.session.execute(
            update(StaffSession)
            .where(StaffSession.id == row.id)
            .values({name: getattr(row, name) - delta for name, delta in shift.items()})
        )


async def test_a_session_older_than_its_lifetime_is_refused_though_active(served: Any) -> None:
    lifetime = dt.timedelta(hours=served.app[SERVICES].settings.sessions.absolute_lifetime_hours)
    async with browser() as http:
        await sign_in(http, base(served), "north@test.example")
        async with http.get(f"{base(served)}/api/v1/session") as resp:
            assert resp.status == 200
        # Signed in longer ago than the lifetime, active a moment ago: refused all the same.
        await _age_session(served, created_at=lifetime + dt.timedelta(minutes=1))
        async with http.get(f"{base(served)}/api/v1/session") as resp:
            assert resp.status == 401
            assert "ended" in (await resp.json())["error"]["message"]
    async with served.app[SERVICES].read() as s:
        assert (await s.scalars(select(StaffSession))).all() == []


async def test_a_session_past_its_stored_expiry_is_refused(served: Any) -> None:
    async with browser() as http:
        await sign_in(http, base(served), "north@test.example")
        await _age_session(served, expires_at=dt.timedelta(hours=13))
        async with http.get(f"{base(served)}/api/v1/session") as resp:
            assert resp.status == 401


async def test_sign_out_everywhere_ends_every_session_and_socket(served: Any) -> None:
    url = base(served)
    async with browser() as laptop, browser() as phone, browser() as colleague:
        session = await sign_in(laptop, url, "north@test.example")
        await sign_in(phone, url, "north@test.example")
        await sign_in(colleague, url, "admin@test.example")
        sockets = []
        for client in (phone, colleague):
            ws = await client.ws_connect(f"{url}/ws", headers={"Origin": ORIGIN})
            await ws.send_json({"id": 1, "type": "subscribe", "last_event_id": None})
            assert (await recv_frame(ws))["success"]
            sockets.append(ws)
        async with laptop.delete(f"{url}/api/v1/sessions") as resp:
            assert resp.status == 403  # a cookie alone does not sign anyone out: CSRF token needed
        async with laptop.delete(
            f"{url}/api/v1/sessions", headers={"X-CSRF-Token": session["csrf_token"]}
        ) as resp:
            assert resp.status == 204
        for client in (laptop, phone):
            async with client.get(f"{url}/api/v1/session") as resp:
                assert resp.status == 401
        msg = await asyncio.wait_for(sockets[0].receive(), 5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4001
        # The colleague is untouched: signed in, socket open.
        async with colleague.get(f"{url}/api/v1/session") as resp:
            assert resp.status == 200
        await sockets[1].send_json({"id": 2, "type": "ping"})
        assert (await recv_frame(sockets[1]))["result"]["pong"] is True
        for ws in sockets:
            await ws.close()
