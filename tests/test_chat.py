"""Team chat through the real app and real sockets: mentions, unread counts, privacy, exact bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection

import comms.chat_models  # noqa: F401  (registers the chat tables on Base.metadata)
import web.app
from comms import chat, migrate
from comms.access import Actor
from comms.chat_models import ChatChannel, ChatMember
from comms.db import make_engine
from comms.mentions import parse_mentions
from comms.models import Base, Notification, StaffUser
from comms.practice import add_staff
from comms.services import Services
from config.settings import Settings
from tests.conftest import testdata as shared_file
from tests.helpers import ORIGIN, browser, recv_frame, seed_practice, sign_in
from web import handlers_chat
from web.keys import SERVICES

API = "/api/v1/chat"


# --- the app, sockets and requests ---------------------------------------------------------------


@pytest.fixture
async def chat_served(
    app_settings: Settings, aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """The `served` app, with the chat routes added when web/app.py does not register them yet."""
    if not any(r is handlers_chat.router for r in web.app.ROUTERS):
        monkeypatch.setattr(web.app, "ROUTERS", (*web.app.ROUTERS, handlers_chat.router))
    engine = make_engine(app_settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = web.app.create_app(app_settings)
    server = await aiohttp_server(app)
    server.practice = await seed_practice(app[SERVICES])
    yield server


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


class Staff:
    """One signed-in browser: its HTTP client, session and (once opened) its socket."""

    def __init__(self, server: Any, http: aiohttp.ClientSession, session: dict[str, Any]) -> None:
        self.server, self.http, self.session = server, http, session
        self.id: int = session["user_id"]
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def call(self, method: str, path: str, body: Any = None, raw: str | None = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.session["csrf_token"], "Origin": ORIGIN}
        if raw is not None:
            headers["Content-Type"] = "application/json"
        async with self.http.request(
            method, base(self.server) + path, json=body, data=raw, headers=headers
        ) as resp:
            return resp.status, await resp.json()

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        code, data = await self.call(method, path, body)
        assert code == status, (code, data)
        return data

    async def listen(self) -> None:
        self.ws = await self.http.ws_connect(f"{base(self.server)}/ws", headers={"Origin": ORIGIN})
        await self.ws.send_json({"id": 1, "type": "subscribe", "last_event_id": None})
        result = await recv_frame(self.ws)
        assert result["type"] == "result" and result["success"], result

    async def event(self, kind: str) -> dict[str, Any]:
        """The next event on this staff member's socket, which must be of `kind`."""
        assert self.ws is not None
        frame = await recv_frame(self.ws)
        assert frame["type"] == "event" and frame["event"]["type"] == kind, frame
        return dict(frame["event"])

    async def silent(self) -> None:
        """Nothing more arrives on this socket (checked for a short while)."""
        assert self.ws is not None
        with pytest.raises(asyncio.TimeoutError):
            extra = await recv_frame(self.ws, timeout=0.4)
            print("unexpected frame:", extra)

    async def channel(self, channel_id: int) -> dict[str, Any]:
        channels = await self.ok("GET", f"{API}/channels")
        return next(c for c in channels if c["id"] == channel_id)

    async def general(self) -> dict[str, Any]:
        channels = await self.ok("GET", f"{API}/channels")
        return next(c for c in channels if c["name"] == "general")


async def staff(server: Any, http: aiohttp.ClientSession, email: str) -> Staff:
    return Staff(server, http, await sign_in(http, base(server), email))


def msgs(channel_id: int) -> str:
    return f"{API}/channels/{channel_id}/messages"


# --- live mentions and unread counts -------------------------------------------------------------


async def test_mention_notifies_live_and_unread_counts_follow_reads(chat_served: Any) -> None:
    p = chat_served.practice
    async with browser() as h1, browser() as h2:
        ada, nora = await staff(chat_served, h1, p.admin), await staff(chat_served, h2, p.staff_a)
        general = await ada.general()
        assert general["kind"] == "channel" and general["unread"] == 0
        assert set(general["member_ids"]) >= {ada.id, nora.id}
        await ada.listen()
        await nora.listen()

        first = await ada.ok("POST", msgs(general["id"]), {"body": "@nora can you call the lab back?"}, 201)
        posted = await nora.event("chat.message_posted")
        assert posted["channel_id"] == general["id"] and posted["mentions"] == [nora.id]
        assert posted["message"] == first
        note = (await nora.event("notification.created"))["notification"]
        assert note["kind"] == "mention" and note["actor_id"] == ada.id
        assert (note["chat_channel_id"], note["chat_message_id"]) == (general["id"], first["id"])
        assert (await ada.event("chat.message_posted"))["message"]["id"] == first["id"]
        await ada.silent()  # the author is never notified of their own message
        assert (await nora.general())["unread"] == 1
        assert (await ada.general())["unread"] == 0  # one's own messages are never unread

        later = [await ada.ok("POST", msgs(general["id"]), {"body": f"update {i}"}, 201) for i in range(2)]
        for m in later:
            assert (await nora.event("chat.message_posted"))["message"] == m
        assert (await nora.general())["unread"] == 3

        read = await nora.ok("POST", f"{API}/channels/{general['id']}/read", {"message_id": first["id"]})
        assert read == {"channel_id": general["id"], "last_read_message_id": first["id"], "unread": 2}
        assert await nora.event("chat.read") == {"type": "chat.read", **read}
        await nora.ok("POST", f"{API}/channels/{general['id']}/read", {"message_id": later[-1]["id"]})
        assert (await nora.event("chat.read"))["unread"] == 0
        back = await nora.ok("POST", f"{API}/channels/{general['id']}/read", {"message_id": first["id"]})
        assert back["last_read_message_id"] == later[-1]["id"] and back["unread"] == 0  # never backwards
        huge = await nora.ok("POST", f"{API}/channels/{general['id']}/read", {"message_id": 10**15})
        assert huge["last_read_message_id"] == later[-1]["id"]  # clamped to the channel's newest message
        assert (await nora.general())["unread"] == 0

        page = await nora.ok("GET", msgs(general["id"]) + "?limit=2")
        assert [m["id"] for m in page] == [later[1]["id"], later[0]["id"]]
        older = await nora.ok("GET", msgs(general["id"]) + f"?before={later[0]['id']}")
        assert [m["id"] for m in older] == [first["id"]]


# --- direct conversations stay between their two members ------------------------------------------


async def test_direct_conversation_is_private_to_its_two_members(chat_served: Any) -> None:
    p = chat_served.practice
    async with browser() as h1, browser() as h2, browser() as h3:
        ada = await staff(chat_served, h1, p.admin)
        nora = await staff(chat_served, h2, p.staff_a)
        sam = await staff(chat_served, h3, p.staff_b)
        await ada.general()  # #general exists before the sockets open
        await nora.listen()
        await sam.listen()

        dm = await ada.ok("POST", f"{API}/direct", {"user_id": nora.id})
        assert dm["kind"] == "direct" and dm["name"] is None and dm["member_ids"] == sorted([ada.id, nora.id])
        created = await nora.event("chat.channel_created")
        assert created["channel"]["id"] == dm["id"]
        assert (await ada.ok("POST", f"{API}/direct", {"user_id": nora.id}))["id"] == dm["id"]
        assert (await nora.ok("POST", f"{API}/direct", {"user_id": ada.id}))["id"] == dm["id"]

        sent = await ada.ok("POST", msgs(dm["id"]), {"body": "between us @sam should not see this"}, 201)
        posted = await nora.event("chat.message_posted")
        assert posted["message"] == sent and posted["mentions"] == []
        await sam.silent()
        await nora.silent()  # no mention of a non-member leaks the conversation

        assert all(c["id"] != dm["id"] for c in await sam.ok("GET", f"{API}/channels"))
        for method, path, body in (
            ("GET", msgs(dm["id"]), None),
            ("POST", msgs(dm["id"]), {"body": "let me in"}),
            ("POST", f"{API}/channels/{dm['id']}/read", {"message_id": sent["id"]}),
        ):
            code, error = await sam.call(method, path, body)
            assert code == 404 and error["error"]["code"] == "not_found", (method, path, error)
        assert (await nora.channel(dm["id"]))["unread"] == 1
        assert [m["body"] for m in await nora.ok("GET", msgs(dm["id"]))] == [sent["body"]]
        await sam.silent()

        code, error = await ada.call("POST", f"{API}/direct", {"user_id": ada.id})
        assert code == 422 and "yourself" in error["error"]["message"]
        code, error = await ada.call("POST", f"{API}/direct", {"user_id": 987654})
        assert code == 404


# --- bodies come back exactly as sent ------------------------------------------------------------


def _naughty(count: int = 40) -> list[str]:
    """A spread of the Big List of Naughty Strings that always includes the nastiest kinds."""
    strings = [s for s in json.loads(shared_file("blns.json").read_text(encoding="utf-8")) if s.strip()]
    wanted = (
        lambda s: "<script>" in s,
        lambda s: "\u202e" in s,  # right-to-left override
        lambda s: any("\u0590" <= c <= "\u06ff" for c in s),  # Hebrew / Arabic
        lambda s: "\u200b" in s,  # zero-width space
        lambda s: any(ord(c) > 0xFFFF for c in s),  # emoji and other astral characters
        lambda s: "\u0300" <= s[-1] <= "\u036f",  # ends in a combining mark
        lambda s: "'" in s and "--" in s,  # SQL injection shapes
        lambda s: "{{" in s or "${" in s,  # template injection
    )
    picked = [next(s for s in strings if want(s)) for want in wanted]
    step = len(strings) // (count - len(picked))
    for s in strings[::step]:
        if len(picked) == count:
            break
        if s not in picked:
            picked.append(s)
    return [*picked, "  padded both sides  \n", "line one\r\nline two\ttab", "&lt;b&gt; already escaped"]


async def test_naughty_strings_come_back_byte_identical(chat_served: Any) -> None:
    p = chat_served.practice
    bodies = _naughty()
    async with browser() as h1, browser() as h2:
        ada, nora = await staff(chat_served, h1, p.admin), await staff(chat_served, h2, p.staff_a)
        general = (await ada.general())["id"]
        await nora.listen()
        for body in bodies:
            sent = await ada.ok("POST", msgs(general), {"body": body}, 201)
            assert sent["body"].encode() == body.encode()
        for body in bodies:
            assert (await nora.event("chat.message_posted"))["message"]["body"].encode() == body.encode()
        page = await nora.ok("GET", msgs(general) + f"?limit={len(bodies)}")
        assert [m["body"].encode() for m in reversed(page)] == [b.encode() for b in bodies]


async def test_bodies_are_checked_with_clear_errors(chat_served: Any) -> None:
    p = chat_served.practice
    async with browser() as http:
        ada = await staff(chat_served, http, p.admin)
        general = (await ada.general())["id"]
        code, error = await ada.call("POST", msgs(general), {"body": "x" * 10_001})
        assert code == 422 and error["error"]["code"] == "invalid_request"
        assert "body" in error["error"]["message"] and "10000" in error["error"]["message"]
        assert "xxx" not in error["error"]["message"]  # the rejected text is never echoed
        longest = "😀" * 10_000  # 10,000 characters, 40,000 bytes
        assert (await ada.ok("POST", msgs(general), {"body": longest}, 201))["body"] == longest
        for bad in (
            {"body": ""},
            {"body": " \n\t "},
            {"body": "a\x00b"},
            {},
            {"body": 5},
            {"body": "x", "y": 1},
        ):
            code, error = await ada.call("POST", msgs(general), bad)
            assert code == 422 and error["error"]["code"] == "invalid_request", (bad, error)
        code, error = await ada.call("POST", msgs(general), raw='{"body": "half \\ud800 a pair"}')
        assert code == 422 and "unicode" in error["error"]["message"]
        code, error = await ada.call("POST", msgs(10**9), {"body": "anyone?"})
        assert code == 404
        code, _ = await ada.call("GET", msgs(general) + "?limit=0")
        assert code == 422


# --- channels and the staff directory --------------------------------------------------------------


async def test_channels_are_public_unique_and_announced(chat_served: Any) -> None:
    p = chat_served.practice
    async with browser() as h1, browser() as h2:
        ada, sam = await staff(chat_served, h1, p.admin), await staff(chat_served, h2, p.staff_b)
        await sam.general()
        await sam.listen()
        made = await ada.ok("POST", f"{API}/channels", {"name": " #front-desk "}, 201)
        assert made["name"] == "front-desk" and made["kind"] == "channel" and made["created_by"] == ada.id
        assert sam.id in made["member_ids"]
        announced = await sam.event("chat.channel_created")
        assert announced["channel"]["id"] == made["id"] and "unread" not in announced["channel"]
        names = [c["name"] for c in await sam.ok("GET", f"{API}/channels")]
        assert names == ["front-desk", "general"]
        code, error = await ada.call("POST", f"{API}/channels", {"name": "Front-Desk"})
        assert code == 409 and error["error"]["code"] == "conflict"
        for bad in ("", "#", "  ", "x" * 81, "two\nlines"):
            code, error = await ada.call("POST", f"{API}/channels", {"name": bad})
            assert code == 422, (bad, error)
        directory = await sam.ok("GET", "/api/v1/staff")
        assert {(s["name"], s["handle"], s["role"]) for s in directory} == {
            ("Ada Admin", "admin", "admin"),
            ("Nora North", "north", "staff"),
            ("Sam South", "south", "staff"),
        }
        async with h2.get(base(chat_served) + "/api/v1/openapi.json") as resp:
            paths = (await resp.json())["paths"]
        assert {
            "/api/v1/staff",
            f"{API}/channels",
            f"{API}/direct",
            f"{API}/channels/{{channel_id}}/read",
        } <= set(paths)


async def test_chat_needs_a_session(chat_served: Any) -> None:
    async with browser() as http:
        async with http.get(base(chat_served) + f"{API}/channels") as resp:
            assert resp.status == 401
        await sign_in(http, base(chat_served), chat_served.practice.staff_a)
        async with http.post(base(chat_served) + f"{API}/channels", json={"name": "x"}) as resp:
            assert resp.status == 403  # no CSRF token


# --- the actions directly: races and late joiners --------------------------------------------------


async def _actor(services: Services, email: str) -> Actor:
    async with services.read() as s:
        user = (await s.scalars(select(StaffUser).where(StaffUser.email == email))).one()
    return Actor(user.id, user.practice_id, user.role, None, "test-session")


async def test_general_and_direct_conversations_are_created_once_under_races(services: Services) -> None:
    p = await seed_practice(services)
    ada, nora = await _actor(services, p.admin), await _actor(services, p.staff_a)
    lists = await asyncio.gather(*(chat.list_channels(services, a) for a in (ada, nora) * 4))
    assert {tuple(c.id for c in listed) for listed in lists} == {(lists[0][0].id,)}
    dms = await asyncio.gather(
        *(chat.open_direct(services, a, b.user_id) for a, b in ((ada, nora), (nora, ada)) * 3)
    )
    assert len({d.id for d in dms}) == 1
    async with services.read() as s:
        assert await s.scalar(select(func.count()).select_from(ChatChannel)) == 2


async def test_late_joiners_and_mentions_of_non_members(services: Services) -> None:
    p = await seed_practice(services)
    ada = await _actor(services, p.admin)
    general = (await chat.list_channels(services, ada))[0]
    await chat.post_message(services, ada, general.id, "history before Zoë started")
    zoe_id = await add_staff(
        services, p.practice_id, "zoe@test.example", "Zoë Zed", "pw-long-enough", "staff"
    )
    mention = await chat.post_message(services, ada, general.id, "welcome @ZOË! and hi @north.")
    async with services.read() as s:
        assert await s.get(ChatMember, (general.id, zoe_id)) is not None  # a mention brought her in
        notified = list(
            await s.scalars(select(Notification.user_id).where(Notification.chat_message_id == mention.id))
        )
    assert sorted(notified) == sorted([zoe_id, (await _actor(services, p.staff_a)).user_id])
    zoe = await _actor(services, "zoe@test.example")
    assert [(c.name, c.unread) for c in await chat.list_channels(services, zoe)] == [("general", 1)]
    late_id = await add_staff(services, p.practice_id, "late@test.example", "Lee Late", "pw-long-enough")
    late = await _actor(services, "late@test.example")
    assert late.user_id == late_id
    listed = await chat.list_channels(services, late)
    assert [(c.name, c.unread) for c in listed] == [("general", 0)]  # history counts as read


# --- mentions, pure ----------------------------------------------------------------------------------

STAFF = [
    (1, "Nora North", "north@test.example"),
    (2, "Sam South", "sam@test.example"),
    (3, "Samantha Diaz", "s.diaz@test.example"),
    (4, "Zoë Zed", "zoe@test.example"),
    (5, "Sam Other", "sother@test.example"),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@nora please call back", {1}),
        ("@NORA and @North", {1}),
        ("thanks @nora.", {1}),
        ("(@nora), ok?", {1}),
        ("@s.diaz can you?", {3}),
        ("@sam", {2}),  # the local part wins over the first names it shares
        ("@samantha", {3}),
        ("@zoë @ZOË", {4}),
        ("mail bob@example.com or north@test.example", set()),
        ("write to @nora@test.example", set()),
        ("see https://example.com/@nora", set()),
        ("@nobody @ @@nora", set()),
        ("email@nora", set()),
        ("", set()),
    ],
)
def test_parse_mentions(body: str, expected: set[int]) -> None:
    assert parse_mentions(body, STAFF) == expected


def test_a_shared_first_name_mentions_everyone_who_has_it() -> None:
    staff = [(1, "Sam South", "south@x.example"), (2, "Sam Other", "other@x.example")]
    assert parse_mentions("@sam", staff) == {1, 2}
    assert parse_mentions("@south", staff) == {1}


# --- the migration matches the models -------------------------------------------------------------


def _chat_only(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Only the chat tables: the shared migration test covers the rest of the schema."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is not None and str(table.name).startswith("chat_")


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": False, "include_object": _chat_only}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_chat_migration_matches_models_and_reverts(settings: Settings) -> None:
    engine = make_engine(settings.database)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
        await migrate.downgrade(engine, "0002")
        async with engine.connect() as conn:
            assert not {t for t in await conn.run_sync(_tables) if t.startswith("chat_")}
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
