"""Waitlist limits through the real server: the patient's links are rate-limited per address (429 with
Retry-After and words a patient understands), and entries expire (after the configured days, or once
their last wanted date has passed): an expired entry is offered nothing, is marked expired once across
nodes with a line in its thread, and staff see each entry's expiry."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from comms import waitlist_limits, waitlist_offers
from comms.errors import RateLimited
from comms.models import AuditEntry, TimelineItem, utcnow
from comms.services import Services
from comms.waitlist import expiry_for
from comms.waitlist_expiry import expire_due
from comms.waitlist_models import WaitlistEntry
from tests.helpers import browser, new_conversation, sign_in
from tests.schedule_helpers import api, at, next_weekday, seed_calendar
from tests.test_waitlist import _states, _texts, base
from web.keys import SERVICES

NY = ZoneInfo("America/New_York")


def test_an_entry_ends_after_its_days_or_after_its_last_date_whichever_is_first() -> None:
    made = dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC)
    # Its last date is near: it ends at the start of the next local day (midnight in New York, EDT).
    assert expiry_for(made, dt.date(2027, 3, 20), "America/New_York", 90) == dt.datetime(
        2027, 3, 21, 4, tzinfo=dt.UTC
    )
    assert expiry_for(made, dt.date(2027, 12, 31), "America/New_York", 90) == made + dt.timedelta(days=90)
    assert expiry_for(made, dt.date(2027, 12, 31), "America/New_York", 7) == made + dt.timedelta(days=7)


async def test_waitlist_links_are_rate_limited_per_address(served: Any) -> None:
    url = base(served)
    services: Services = served.app[SERVICES]
    limit = services.settings.waitlist.link_requests_per_address
    async with browser() as patient:
        for _ in range(limit):  # guessing at tokens counts like any other request
            async with patient.get(f"{url}/w/{'x' * 30}") as resp:
                assert resp.status == 404
        async with patient.get(f"{url}/w/{'x' * 30}") as resp:
            page = await resp.text()
            assert resp.status == 429, page
            retry = int(resp.headers["Retry-After"])
            window = services.settings.waitlist.link_window_minutes * 60
            assert 0 < retry <= window
            assert "Too many tries from this connection" in page and "call the office" in page
        async with patient.post(f"{url}/w/{'x' * 30}") as resp:
            assert resp.status == 429 and "Retry-After" in resp.headers

    # Per address, and only inside the window (a refused request does not extend it).
    await waitlist_limits.admit(services, "203.0.113.9", "GET")
    later = utcnow() + dt.timedelta(minutes=services.settings.waitlist.link_window_minutes, seconds=1)
    await waitlist_limits.admit(services, "127.0.0.1", "GET", now=later)
    try:
        await waitlist_limits.admit(services, "127.0.0.1", "GET")
    except RateLimited as exc:
        assert exc.retry_after is not None and exc.retry_after <= window
    else:
        raise AssertionError("the address over its limit was let through")


async def test_waitlist_links_count_an_ipv6_client_by_its_64_as_the_forms_do(services: Services) -> None:
    """A phone or home line holds a whole /64 and may pick a new address per request (privacy addresses)."""
    limit = services.settings.waitlist.link_requests_per_address
    for n in range(limit):
        await waitlist_limits.admit(services, f"2001:db8:1:2::{n + 1:x}", "GET")
    with pytest.raises(RateLimited):
        await waitlist_limits.admit(services, "2001:db8:1:2:ffff:ffff:ffff:ffff", "GET")
    await waitlist_limits.admit(services, "2001:db8:1:3::1", "GET")  # the next /64 is someone else

    # IPv4 as before: each address on its own, and seen through IPv6 it is still itself.
    for n in range(limit):
        await waitlist_limits.admit(services, "::ffff:198.51.100.7" if n % 2 else "198.51.100.7", "GET")
    with pytest.raises(RateLimited):
        await waitlist_limits.admit(services, "198.51.100.7", "GET")
    await waitlist_limits.admit(services, "198.51.100.8", "GET")

    # The audit log still says exactly where each request came from.
    async with services.read() as s:
        rows = list(
            await s.execute(
                select(AuditEntry.record_id, AuditEntry.remote_addr).where(
                    AuditEntry.action == waitlist_limits.ACTION
                )
            )
        )
    rows = [tuple(row) for row in rows]
    assert ("2001:db8:1:2::/64", "2001:db8:1:2::1") in rows
    assert ("2001:db8:1:3::/64", "2001:db8:1:3::1") in rows
    assert ("198.51.100.7", "::ffff:198.51.100.7") in rows and ("198.51.100.8", "198.51.100.8") in rows
    assert len(rows) == 2 * limit + 2  # the refused requests left nothing


async def test_expired_entries_are_offered_nothing_and_expire_once(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    async with browser() as http:
        csrf = (await sign_in(http, url, p.staff_a))["csrf_token"]
        span = {"type_id": cal.type_id, "earliest": str(monday - dt.timedelta(days=3)), "latest": str(monday)}
        fresh = await new_conversation(services, p.practice_id, p.loc_a, "Fay Fresh", "+12025550196")
        stale = await new_conversation(services, p.practice_id, p.loc_a, "Stu Stale", "+12025550197")
        entries = {}
        for conv in (stale, fresh):
            entries[conv] = await api(
                http, "POST", f"{url}/api/v1/conversations/{conv}/waitlist", csrf, span, 201
            )
        # Staff see when each entry ends: here its last date (Monday) ends first.
        expected = dt.datetime.combine(monday + dt.timedelta(days=1), dt.time(), tzinfo=NY)
        assert dt.datetime.fromisoformat(entries[fresh]["expires_at"]) == expected
        assert entries[fresh]["last_day"] == str(monday)
        past = {"type_id": cal.type_id, "earliest": "2020-01-01", "latest": "2020-01-02"}
        refused = await api(http, "POST", f"{url}/api/v1/conversations/{p.conv_a}/waitlist", csrf, past, 422)
        assert refused["error"]["message"] == "the latest date has already passed"

        # Stu's entry has run its days (as if made long ago); Fay's is first in line after him.
        async with services.unit() as unit:
            await unit.session.execute(
                update(WaitlistEntry)
                .where(WaitlistEntry.id == entries[stale]["id"])
                .values(expires_at=utcnow() - dt.timedelta(minutes=1))
            )
        booked = await api(
            http,
            "POST",
            f"{url}/api/v1/conversations/{p.conv_a}/appointments",
            csrf,
            {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 10)},
            201,
        )
        await api(
            http, "POST", f"{url}/api/v1/appointments/{booked['id']}/status", csrf, {"status": "cancelled"}
        )
        states = await _states(services)
        assert states[stale] == ("waiting", []) and await _texts(services, stale) == []
        assert states[fresh] == ("offered", [("sent", 1)])

        # Several nodes sweep at once: the entry expires once, with one line in its thread.
        counts = await asyncio.gather(*(expire_due(services, utcnow()) for _ in range(3)))
        assert sorted(counts) == [0, 0, 1]
        assert await waitlist_offers.run_once(services) == 0
        assert (await _states(services))[stale] == ("expired", [])
        async with services.read() as s:
            lines = list(
                await s.scalars(
                    select(TimelineItem.body).where(
                        TimelineItem.conversation_id == stale,
                        TimelineItem.meta["action"].as_string() == "waitlist_expired",
                    )
                )
            )
        assert lines == ["Waitlist entry expired: no longer offered free times"]
        # Staff still see it, tagged expired, until it is renewed or replaced.
        listed = await api(http, "GET", f"{url}/api/v1/conversations/{stale}/waitlist", csrf)
        assert [(e["id"], e["state"]) for e in listed] == [(entries[stale]["id"], "expired")]
        # An expired entry no longer blocks a new one for its type, which then takes its place.
        again = await api(http, "POST", f"{url}/api/v1/conversations/{stale}/waitlist", csrf, span, 201)
        listed = await api(http, "GET", f"{url}/api/v1/conversations/{stale}/waitlist", csrf)
        assert [(e["id"], e["state"]) for e in listed] == [(again["id"], "waiting")]
        renew = f"{url}/api/v1/waitlist/{entries[stale]['id']}/renew"
        refused = await api(http, "POST", renew, csrf, {}, 409)  # the new entry holds that type
        assert refused["error"]["message"] == "this patient is already on the waitlist for that type"


async def test_staff_renew_an_expired_entry_with_a_new_expiry(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    async with browser() as http:
        csrf = (await sign_in(http, url, p.staff_a))["csrf_token"]
        span = {"type_id": cal.type_id, "earliest": str(monday - dt.timedelta(days=3)), "latest": str(monday)}
        entry = await api(http, "POST", f"{url}/api/v1/conversations/{p.conv_a}/waitlist", csrf, span, 201)
        renew = f"{url}/api/v1/waitlist/{entry['id']}/renew"
        refused = await api(http, "POST", renew, csrf, {}, 409)
        assert refused["error"]["message"] == "only an expired entry can be renewed; this one is waiting"

        # Its days ran out (as if made long ago) while its dates are still to come: renewing keeps them.
        async with services.unit() as unit:
            await unit.session.execute(
                update(WaitlistEntry)
                .where(WaitlistEntry.id == entry["id"])
                .values(expires_at=utcnow() - dt.timedelta(minutes=1))
            )
        assert await expire_due(services, utcnow()) == 1
        renewed = await api(http, "POST", renew, csrf, {}, 200)
        assert renewed["state"] == "waiting" and renewed["earliest"] == span["earliest"]
        assert dt.datetime.fromisoformat(renewed["expires_at"]) == dt.datetime.combine(
            monday + dt.timedelta(days=1), dt.time(), tzinfo=NY
        )
        listed = await api(http, "GET", f"{url}/api/v1/conversations/{p.conv_a}/waitlist", csrf)
        assert [(e["id"], e["state"]) for e in listed] == [(entry["id"], "waiting")]

        # Expired again, now with its latest date past: it needs new dates.
        async with services.unit() as unit:
            await unit.session.execute(
                update(WaitlistEntry)
                .where(WaitlistEntry.id == entry["id"])
                .values(state="expired", latest=dt.date(2020, 1, 2), earliest=dt.date(2020, 1, 1))
            )
        refused = await api(http, "POST", renew, csrf, {}, 422)
        assert refused["error"]["message"] == "the latest date has already passed: choose a later one"
        later = {"earliest": str(monday), "latest": str(monday + dt.timedelta(days=7))}
        renewed = await api(http, "POST", renew, csrf, later, 200)
        assert (renewed["state"], renewed["latest"]) == ("waiting", later["latest"])
        async with services.read() as s:
            lines = list(
                await s.scalars(
                    select(TimelineItem.body).where(
                        TimelineItem.conversation_id == p.conv_a,
                        TimelineItem.meta["action"].as_string() == "waitlist_renewed",
                    )
                )
            )
            audits = list(
                await s.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.record_type == "waitlist_entry", AuditEntry.record_id == str(entry["id"])
                    )
                )
            )
        assert len(lines) == 2 and lines[0].startswith("Waitlist entry renewed: on the list until ")
        assert audits.count("renew") == 2
