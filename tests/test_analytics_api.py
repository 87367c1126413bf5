"""The analytics and audit REST API through the real app: figures, drill-downs, CSV, who may see what."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.analytics_seed import END, START, seed_activity
from tests.helpers import browser, sign_in
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


def _range(server: Any, **extra: Any) -> dict[str, str]:
    params = {
        "location_id": server.practice.loc_a,
        "start": START.isoformat(),
        "end": END.isoformat(),
        **extra,
    }
    return {k: str(v) for k, v in params.items()}


async def test_figures_drilldown_and_every_csv_table(served: Any) -> None:
    seeded = await seed_activity(served.app[SERVICES], served.practice)
    async with browser() as http:
        await sign_in(http, base(served), served.practice.staff_a)
        async with http.get(f"{base(served)}/api/v1/analytics/figures", params=_range(served)) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        assert body["timezone"] == "America/New_York"
        assert (body["phones"]["calls"], body["phones"]["recovered"]) == (8, 2)
        assert body["messages"]["first_response"] == {
            "answered": 4,
            "median_seconds": 2700.0,
            "p90_seconds": 7200.0,
        }
        assert [r["conversations"] for r in body["staff"]] == [8, 3]
        params = _range(served, figure="unrecovered")
        async with http.get(f"{base(served)}/api/v1/analytics/drilldown", params=params) as resp:
            assert resp.status == 200
            assert (await resp.json())["conversation_ids"] == sorted(
                [seeded.conv["c8"], seeded.conv["k9"]], reverse=True
            )
        expected = {
            "phones": (1, "8"),
            "phone_days": (12, "2026-03-02"),
            "channels": (2, "sms"),
            "message_days": (12, "2026-03-02"),
            "staff": (2, str(seeded.north)),
            "appointments": (1, "0"),
            "payments": (0, ""),
            "reviews": (1, "0"),
        }
        for table, (count, first) in expected.items():
            url = f"{base(served)}/api/v1/analytics/export"
            async with http.get(url, params=_range(served, table=table)) as resp:
                assert resp.status == 200 and resp.content_type == "text/csv"
                assert f'filename="{table}-' in resp.headers["Content-Disposition"]
                rows = list(csv.reader(io.StringIO(await resp.text())))
            assert len(rows) == 1 + count, table
            if count:
                assert (rows[1][3] if table == "phones" else rows[1][0]) == first, table


async def test_bad_ranges_and_other_locations_are_refused(served: Any) -> None:
    await seed_activity(served.app[SERVICES], served.practice)
    url = f"{base(served)}/api/v1/analytics/figures"
    async with browser() as http:
        await sign_in(http, base(served), served.practice.staff_b)
        async with http.get(url, params=_range(served)) as resp:
            assert resp.status == 404  # South's staff do not see North, not even that it exists
        for bad in (
            _range(served, end="2026-03-01"),
            _range(served, start="2024-01-01"),
            _range(served, start="yesterday"),
            _range(served, colour="blue"),
        ):
            async with http.get(url, params=bad) as resp:
                assert resp.status == 422, bad
                assert (await resp.json())["error"]["code"]
        drill = f"{base(served)}/api/v1/analytics/drilldown"
        async with http.get(drill, params=_range(served, figure="staff")) as resp:
            assert resp.status == 422  # staff needs staff_id
    async with browser() as anonymous, anonymous.get(url, params=_range(served)) as resp:
        assert resp.status == 401


async def test_audit_report_is_for_admins_with_csv(served: Any) -> None:
    p = served.practice
    async with browser() as http:
        await sign_in(http, base(served), p.staff_a)
        # North reads a patient's thread: that is on the record.
        async with http.get(f"{base(served)}/api/v1/conversations/{p.conv_a}/items") as resp:
            assert resp.status == 200
        for path in ("/api/v1/audit", "/api/v1/audit/export"):
            async with http.get(f"{base(served)}{path}") as resp:
                assert resp.status == 403, path
    async with browser() as http:
        session = await sign_in(http, base(served), p.admin)
        async with http.get(f"{base(served)}/api/v1/audit", params={"action": "view"}) as resp:
            assert resp.status == 200
            entries = (await resp.json())["entries"]
        seen = [e for e in entries if e["record_type"] == "conversation"]
        assert len(seen) == 1 and seen[0]["staff_name"] == "Nora North"
        assert seen[0]["patient_name"] == "Pat Patient0" and seen[0]["remote_addr"]
        patient = seen[0]["patient_id"]
        params = {"patient_id": str(patient), "since": "2020-01-01T00:00:00Z"}
        async with http.get(f"{base(served)}/api/v1/audit/export", params=params) as resp:
            assert resp.status == 200 and resp.content_type == "text/csv"
            rows = list(csv.reader(io.StringIO(await resp.text())))
        assert [r[4] for r in rows[1:]] == ["view"] and rows[1][3] == "Nora North"
        async with http.get(f"{base(served)}/api/v1/audit", params={"since": "2026-03-03T10:00:00"}) as resp:
            assert resp.status == 422  # no zone
        assert session["role"] == "admin"
