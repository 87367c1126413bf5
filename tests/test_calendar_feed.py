"""A provider's private ICS feed: a calendar app reads it without signing in, it lists their visits
(cancelled ones as cancelled) without patient names, rotating it retires the old URL, and every
fetch is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from icalendar import Calendar
from sqlalchemy import select

from comms.models import AuditEntry
from tests.helpers import browser, sign_in
from tests.schedule_helpers import api, at, next_weekday, seed_calendar
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _fetch(url: str, feed: str) -> tuple[int, str, bytes]:
    parts = urlsplit(feed)
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{url}{parts.path}?{parts.query}") as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def test_provider_feed_lists_visits_without_patients_and_rotates(served: Any) -> None:
    p, url = served.practice, base(served)
    services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    async with browser() as http:
        north = (await sign_in(http, url, p.staff_a))["csrf_token"]
        book = f"{url}/api/v1/conversations/{p.conv_a}/appointments"
        first = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 9)}
        kept = await api(http, "POST", book, north, first, 201)
        dropped = await api(http, "POST", book, north, {**first, "starts_at": at(monday, 11)}, 201)
        await api(
            http, "POST", f"{url}/api/v1/appointments/{dropped['id']}/status", north, {"status": "cancelled"}
        )
        await api(
            http, "POST", book, north, {**first, "provider_id": cal.other_provider_id}, 201
        )  # not theirs
        await api(http, "POST", f"{url}/api/v1/providers/{cal.provider_id}/feed", north, status=403)
    async with browser() as http:
        admin = (await sign_in(http, url, p.admin))["csrf_token"]
        feed = (await api(http, "POST", f"{url}/api/v1/providers/{cal.provider_id}/feed", admin, status=201))[
            "url"
        ]
        assert feed.startswith(services.settings.server.public_base_url)

        status, kind, body = await _fetch(url, feed)
        assert status == 200 and kind.startswith("text/calendar")
        parsed = Calendar.from_ical(body)
        assert str(parsed.get("x-wr-calname")) == "Dr Rivera (Frontdesk)"
        events = {str(e.get("uid")): e for e in parsed.walk("VEVENT")}
        assert set(events) == {
            f"appointment-{kept['id']}@frontdesk",
            f"appointment-{dropped['id']}@frontdesk",
        }
        visit = events[f"appointment-{kept['id']}@frontdesk"]
        assert visit.decoded("dtstart") == dt.datetime.fromisoformat(kept["starts_at"])
        assert visit.decoded("dtend") - visit.decoded("dtstart") == dt.timedelta(minutes=30)
        assert str(visit.get("summary")) == "Cleaning" and str(visit.get("location")) == "North"
        assert str(visit.get("status")) == "TENTATIVE"
        assert str(events[f"appointment-{dropped['id']}@frontdesk"].get("status")) == "CANCELLED"
        assert b"Patient" not in body and b"Pat " not in body  # no patient names leave in the feed

        newer = (
            await api(http, "POST", f"{url}/api/v1/providers/{cal.provider_id}/feed", admin, status=201)
        )["url"]
        assert newer != feed
        assert (await _fetch(url, feed))[0] == 404  # the old URL no longer works
        assert (await _fetch(url, newer))[0] == 200
        assert (await _fetch(url, f"{url}/api/v1/feeds/provider.ics?token=" + "x" * 43))[0] == 404
        assert (await _fetch(url, f"{url}/api/v1/feeds/provider.ics?token=short"))[0] == 422
    async with services.read() as s:
        exports = list(
            await s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "export", AuditEntry.record_type == "provider_feed"
                )
            )
        )
    assert len(exports) == 2 and all(e.detail == {"events": 2} and e.remote_addr for e in exports)
