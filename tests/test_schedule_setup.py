"""Calendar set-up through the API: holidays and time off listed and removed, providers and types
changed or retired (no new bookings), names unique, and only admins change anything."""

from __future__ import annotations

from typing import Any

from tests.helpers import browser, sign_in
from tests.schedule_helpers import api, at, next_weekday, seed_calendar
from web.keys import SERVICES


async def test_setup_lists_changes_and_retires(served: Any) -> None:
    p = served.practice
    url = str(served.make_url("")).rstrip("/")
    cal = await seed_calendar(served.app[SERVICES], p)
    monday, tuesday = next_weekday(0), next_weekday(1)
    book = f"{url}/api/v1/conversations/{p.conv_a}/appointments"
    visit = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 9)}
    async with browser() as http:
        admin = (await sign_in(http, url, p.admin))["csrf_token"]
        holiday = await api(
            http, "POST", f"{url}/api/v1/locations/{p.loc_a}/holidays", admin, {"date": str(monday)}, 201
        )
        assert [
            h["id"] for h in await api(http, "GET", f"{url}/api/v1/locations/{p.loc_a}/holidays", admin)
        ] == [holiday["id"]]
        await api(http, "POST", book, admin, visit, 422)  # closed that day
        away = {"starts_at": at(tuesday, 9), "ends_at": at(tuesday, 12)}
        off = await api(http, "POST", f"{url}/api/v1/providers/{cal.provider_id}/time-off", admin, away, 201)
        listed = await api(http, "GET", f"{url}/api/v1/providers/{cal.provider_id}/time-off", admin)
        assert [t["id"] for t in listed] == [off["id"]]
    async with browser() as http:
        north = (await sign_in(http, url, p.staff_a))["csrf_token"]
        async with http.delete(
            f"{url}/api/v1/holidays/{holiday['id']}", headers={"X-CSRF-Token": north}
        ) as resp:
            assert resp.status == 403
    async with browser() as http:
        admin = (await sign_in(http, url, p.admin))["csrf_token"]
        for path in (f"holidays/{holiday['id']}", f"time-off/{off['id']}"):
            async with http.delete(f"{url}/api/v1/{path}", headers={"X-CSRF-Token": admin}) as resp:
                assert resp.status == 204
            async with http.delete(f"{url}/api/v1/{path}", headers={"X-CSRF-Token": admin}) as resp:
                assert resp.status == 404
        await api(http, "POST", book, admin, visit, 201)  # open again
        await api(
            http, "POST", book, admin, {**visit, "starts_at": at(tuesday, 10)}, 201
        )  # not away any more

        kind = {"name": "Cleaning", "duration_minutes": 45, "buffer_minutes": 5, "colour": "#123456"}
        changed = await api(http, "PUT", f"{url}/api/v1/appointment-types/{cal.type_id}", admin, kind)
        assert changed["duration_minutes"] == 45 and changed["colour"] == "#123456"
        other = await api(
            http,
            "POST",
            f"{url}/api/v1/appointment-types",
            admin,
            {"name": "Exam", "duration_minutes": 20},
            201,
        )
        await api(
            http,
            "PUT",
            f"{url}/api/v1/appointment-types/{other['id']}",
            admin,
            {**kind, "name": "Cleaning"},
            409,
        )
        await api(
            http,
            "PUT",
            f"{url}/api/v1/appointment-types/{other['id']}",
            admin,
            {"name": "Exam", "duration_minutes": 20, "active": False},
        )
        assert [t["name"] for t in await api(http, "GET", f"{url}/api/v1/appointment-types", admin)] == [
            "Cleaning"
        ]
        await api(
            http, "POST", book, admin, {**visit, "type_id": other["id"], "starts_at": at(tuesday, 14)}, 404
        )

        retire = {"name": "Dr Chen", "location_ids": [p.loc_a], "active": False}
        await api(http, "PUT", f"{url}/api/v1/providers/{cal.other_provider_id}", admin, retire)
        names = [
            pr["name"] for pr in await api(http, "GET", f"{url}/api/v1/locations/{p.loc_a}/providers", admin)
        ]
        assert names == ["Dr Rivera"]
        await api(
            http,
            "POST",
            book,
            admin,
            {**visit, "provider_id": cal.other_provider_id, "starts_at": at(tuesday, 15)},
            404,
        )
        moved = {"name": "Dr Rivera", "location_ids": [p.loc_b]}
        out = await api(http, "PUT", f"{url}/api/v1/providers/{cal.provider_id}", admin, moved)
        assert out["location_ids"] == [p.loc_b]
        assert (await api(http, "GET", f"{url}/api/v1/providers/{cal.provider_id}/hours", admin))[
            "hours"
        ] == []
