"""The conversation list (filters, keyset pages, unread) and thread moves (assign, close, snooze, read)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from tests.helpers import browser, inbound, new_conversation, recv_frame, sign_in
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _get(http: Any, url: str) -> Any:
    async with http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _post(http: Any, url: str, csrf: str, body: dict[str, Any], status: int = 200) -> Any:
    async with http.post(url, json=body, headers={"X-CSRF-Token": csrf}) as resp:
        assert resp.status == status, await resp.text()
        return None if status == 204 else await resp.json()


async def test_list_pages_by_keyset_without_gaps_or_repeats(served: Any) -> None:
    p, services = served.practice, served.app[SERVICES]
    for i in range(7):
        conv = await new_conversation(
            services, p.practice_id, p.loc_a, f"Page Person{i}", f"+120255502{i:02d}"
        )
        await inbound(services, conv, f"hello {i}")
    async with browser() as http:
        await sign_in(http, base(served), p.staff_a)
        seen: list[int] = []
        url = f"{base(served)}/api/v1/conversations?limit=3"
        while url:
            page = await _get(http, url)
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            url = f"{base(served)}/api/v1/conversations?limit=3&cursor={cursor}" if cursor else ""
        assert len(seen) == len(set(seen)) == 8  # 7 new + the seeded one at this location
        first = await _get(http, f"{base(served)}/api/v1/conversations?limit=1")
        assert first["items"][0]["last_item"]["body"] == "hello 6"
        assert first["items"][0]["unread"] == 1
        async with http.get(f"{base(served)}/api/v1/conversations?cursor=garbage!") as resp:
            assert resp.status == 422


async def test_location_scope_and_filters(served: Any) -> None:
    p, services = served.practice, served.app[SERVICES]
    await inbound(services, p.conv_a, "north text")
    await inbound(services, p.conv_b, "south text")
    async with browser() as north:
        await sign_in(north, base(served), p.staff_a)
        ids = [c["id"] for c in (await _get(north, f"{base(served)}/api/v1/conversations"))["items"]]
        assert ids == [p.conv_a]
        async with north.get(f"{base(served)}/api/v1/conversations?location={p.loc_b}") as resp:
            assert resp.status == 404
        unread = await _get(north, f"{base(served)}/api/v1/conversations?unread=true&channel=sms")
        assert [c["id"] for c in unread["items"]] == [p.conv_a]
        none = await _get(north, f"{base(served)}/api/v1/conversations?channel=email")
        assert none["items"] == []
        locations = await _get(north, f"{base(served)}/api/v1/locations")
        assert [loc["id"] for loc in locations] == [p.loc_a]


async def test_read_marker_moves_forward_only_and_reaches_own_tabs(served: Any) -> None:
    p, services = served.practice, served.app[SERVICES]
    first = await inbound(services, p.conv_a, "one")
    second = await inbound(services, p.conv_a, "two")
    async with browser() as http:
        session = await sign_in(http, base(served), p.staff_a)
        ws = await http.ws_connect(f"{base(served)}/ws", headers={"Origin": "http://frontdesk.test"})
        await ws.send_json({"id": 1, "type": "subscribe"})
        await recv_frame(ws)
        conv_url = f"{base(served)}/api/v1/conversations/{p.conv_a}"
        assert (await _get(http, conv_url))["unread"] == 2
        await _post(http, conv_url + "/read", session["csrf_token"], {"item_id": second}, status=204)
        event = await recv_frame(ws)
        assert event["event"] == {
            "type": "conversation.read",
            "conversation_id": p.conv_a,
            "last_read_item_id": second,
        }
        await _post(http, conv_url + "/read", session["csrf_token"], {"item_id": first}, status=204)
        assert (await recv_frame(ws))["event"]["last_read_item_id"] == second
        assert (await _get(http, conv_url))["unread"] == 0


async def test_assign_close_snooze_and_inbound_reopens(served: Any) -> None:
    p, services = served.practice, served.app[SERVICES]
    async with browser() as admin, browser() as north:
        admin_s = await sign_in(admin, base(served), p.admin)
        north_s = await sign_in(north, base(served), p.staff_a)
        ws = await north.ws_connect(f"{base(served)}/ws", headers={"Origin": "http://frontdesk.test"})
        await ws.send_json({"id": 1, "type": "subscribe"})
        await recv_frame(ws)
        url = f"{base(served)}/api/v1/conversations/{p.conv_a}"
        # South staff may not take a North conversation.
        south_id = (await _get(admin, f"{base(served)}/api/v1/session"))["user_id"] + 2
        async with admin.post(
            url + "/assign", json={"assignee_id": south_id}, headers={"X-CSRF-Token": admin_s["csrf_token"]}
        ) as resp:
            assert resp.status == 422
            assert "does not work at this location" in (await resp.json())["error"]["message"]
        state = await _post(
            admin,
            url + "/assign",
            admin_s["csrf_token"],
            {"assignee_id": north_s["user_id"], "note": "please call back"},
        )
        assert state["assignee_id"] == north_s["user_id"]
        types = {(await recv_frame(ws))["event"]["type"] for _ in range(3)}
        assert types == {"timeline.item_added", "notification.created", "conversation.updated"}
        mine = await _get(north, f"{base(served)}/api/v1/conversations?assignee=me")
        assert [c["id"] for c in mine["items"]] == [p.conv_a]

        await _post(north, url + "/status", north_s["csrf_token"], {"status": "closed"})
        assert (await _get(north, f"{base(served)}/api/v1/conversations"))["items"] == []
        closed = await _get(north, f"{base(served)}/api/v1/conversations?status=closed")
        assert [c["id"] for c in closed["items"]] == [p.conv_a]
        await inbound(services, p.conv_a, "are you there?")
        assert (await _get(north, url))["status"] == "open"

        later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
        await _post(
            north, url + "/status", north_s["csrf_token"], {"status": "snoozed", "snoozed_until": later}
        )
        snoozed = await _get(north, f"{base(served)}/api/v1/conversations?status=snoozed")
        assert [c["id"] for c in snoozed["items"]] == [p.conv_a]
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
        async with north.post(
            url + "/status",
            json={"status": "snoozed", "snoozed_until": past},
            headers={"X-CSRF-Token": north_s["csrf_token"]},
        ) as resp:
            assert resp.status == 422
        items = await _get(north, url + "/items")
        assert [i["kind"] for i in items][:3] == ["activity", "sms", "activity"]


async def test_note_mentions_notify_only_staff_who_may_see_the_thread(served: Any) -> None:
    p = served.practice
    async with browser() as admin, browser() as north, browser() as south:
        admin_s = await sign_in(admin, base(served), p.admin)
        await sign_in(north, base(served), p.staff_a)
        await sign_in(south, base(served), p.staff_b)
        sockets = []
        for http in (north, south):
            ws = await http.ws_connect(f"{base(served)}/ws", headers={"Origin": "http://frontdesk.test"})
            await ws.send_json({"id": 1, "type": "subscribe"})
            await recv_frame(ws)
            sockets.append(ws)
        url = f"{base(served)}/api/v1/conversations/{p.conv_a}/notes"
        note = await _post(
            admin, url, admin_s["csrf_token"], {"body": "@nora and @sam: see this"}, status=201
        )
        frames = [(await recv_frame(sockets[0]))["event"] for _ in range(2)]
        mention = next(f for f in frames if f["type"] == "notification.created")
        assert mention["notification"]["kind"] == "mention"
        assert mention["notification"]["item_id"] == note["id"]
        # Sam works at the other location: no notification, no event at all.
        with pytest.raises(asyncio.TimeoutError):
            await recv_frame(sockets[1], timeout=0.3)


async def test_hand_off_to_a_team_notifies_its_members_and_filters(served: Any) -> None:
    p = served.practice
    async with browser() as admin, browser() as north:
        admin_s = await sign_in(admin, base(served), p.admin)
        north_s = await sign_in(north, base(served), p.staff_a)
        async with north.post(
            f"{base(served)}/api/v1/teams",
            json={"name": "Billing"},
            headers={"X-CSRF-Token": north_s["csrf_token"]},
        ) as resp:
            assert resp.status == 403  # only admins make teams
        team = await _post(
            admin,
            f"{base(served)}/api/v1/teams",
            admin_s["csrf_token"],
            {"name": "Billing", "member_ids": [north_s["user_id"]]},
            status=201,
        )
        async with admin.post(
            f"{base(served)}/api/v1/teams",
            json={"name": "Billing"},
            headers={"X-CSRF-Token": admin_s["csrf_token"]},
        ) as resp:
            assert resp.status == 409
        state = await _post(
            admin,
            f"{base(served)}/api/v1/conversations/{p.conv_a}/assign",
            admin_s["csrf_token"],
            {"assignee_id": None, "team_id": team["id"], "note": "insurance question"},
        )
        assert state["team_id"] == team["id"] and state["assignee_id"] is None
        listed = await _get(north, f"{base(served)}/api/v1/conversations?team={team['id']}")
        assert [c["id"] for c in listed["items"]] == [p.conv_a]
        notes = await _get(north, f"{base(served)}/api/v1/notifications")
        assert [(n["kind"], n["conversation_id"]) for n in notes] == [("assigned", p.conv_a)]
        items = await _get(north, f"{base(served)}/api/v1/conversations/{p.conv_a}/items")
        assert items[0]["body"] == "Assigned to team Billing: insurance question"


async def test_list_entry_says_what_the_thread_summary_says(served: Any) -> None:
    """The list is built from columns, the summary from ORM objects: the two must agree field by field."""
    from comms.models import Contact, ContactEmail, ContactPhone, Conversation

    p, services = served.practice, served.app[SERVICES]
    conv_id = await new_conversation(services, p.practice_id, p.loc_a, "Zoë O'Brien-Ngũgĩ", "+12025550181")
    async with services.unit() as unit:
        conv = await unit.session.get(Conversation, conv_id)
        assert conv is not None
        contact = await unit.session.get(Contact, conv.contact_id)
        assert contact is not None
        contact.phones.append(ContactPhone(e164="+12025550182"))
        contact.emails += [ContactEmail(address="zoe@example.org"), ContactEmail(address="z@example.net")]
    long_body = "🦷 " + "é" * 200  # the preview is cut at 160 characters, not bytes
    await inbound(services, conv_id, "first")
    await inbound(services, conv_id, long_body)
    nobody_wrote = await new_conversation(services, p.practice_id, p.loc_a, "", "+12025550183")
    async with browser() as http:
        session = await sign_in(http, base(served), p.staff_a)
        expired = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).isoformat()
        await _post(
            http,
            f"{base(served)}/api/v1/conversations/{conv_id}/status",
            session["csrf_token"],
            {"status": "snoozed", "snoozed_until": expired},
        )
        await asyncio.sleep(2.2)  # the snooze has run out: both must say "open"
        listed = {
            c["id"]: c for c in (await _get(http, f"{base(served)}/api/v1/conversations?limit=100"))["items"]
        }
        for cid in (conv_id, nobody_wrote):
            summary = await _get(http, f"{base(served)}/api/v1/conversations/{cid}")
            summary.pop("opted_out")
            assert listed[cid] == summary
        entry = listed[conv_id]
        assert entry["status"] == "open"
        assert entry["contact"]["phones"] == ["+12025550181", "+12025550182"]
        assert entry["contact"]["emails"] == ["zoe@example.org", "z@example.net"]
        assert entry["last_item"]["body"] == long_body[:160] and entry["unread"] == 2
        assert (
            listed[nobody_wrote]["last_item"] is None and listed[nobody_wrote]["contact"]["name"] == "Unknown"
        )
