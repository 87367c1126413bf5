"""Importing patients from CSV on both stores: a report of rejected rows by line, nothing half-imported,
and the CSV shapes real exports come in (BOM, CRLF, semicolons, Windows-1252, quoted line breaks)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

import web.app
from comms import contacts
from comms.access import Actor
from comms.contacts import contacts_by_phone, create_contact
from comms.contacts_import import (
    MAX_ROWS,
    ImportTooLarge,
    header_key,
    import_csv,
    parse_csv,
    parse_date,
)
from comms.errors import Forbidden, InvalidRequest, NotFound
from comms.models import AuditEntry, Contact, Household
from comms.practice import add_staff, ensure_practice
from comms.services import Services
from config.settings import Settings
from tests.helpers import ORIGIN, browser, seed_practice, sign_in
from web import handlers_contacts
from web.keys import SERVICES

GOOD_AND_BAD = (
    "First Name,Last Name,Mobile,Email,DOB\n"  # line 1
    "Maria,Garcia,(617) 555-0100,maria@example.com,1984-02-29\n"  # 2: good
    "Luis,Garcia,617.555.0100,,3/7/2012\n"  # 3: good, shares Maria's number
    "Sam,Lee,555-01,,\n"  # 4: bad phone
    "Olga,Novak,617-555-0150,,1990-01-01\n"  # 5: duplicate of an existing patient
    "Ana,Reyes,617-555-0160,,13/45/2001\n"  # 6: bad date
    "Ben,Ode,617-555-0170,ben@,\n"  # 7: bad e-mail
    ",,617-555-0180,,\n"  # 8: missing name
    "maria, garcia ,+1 617 555 0100,,\n"  # 9: duplicate within the file (line 2)
    "\n"  # blank: not a row
    "Zoe,Quinn,617-555-0190,,\n"  # 11: good
)


@pytest.fixture
async def admin(services: Services) -> Actor:
    pid = await ensure_practice(services, "Test Dental")
    uid = await add_staff(services, pid, "ada@test.example", "Ada", "correct horse battery", "admin")
    return Actor(uid, pid, "admin", None, "s-admin", "10.0.0.7")


async def count(services: Services, model: Any = Contact) -> int:
    async with services.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_report_lists_rejected_rows_by_line_and_reason(services: Services, admin: Actor) -> None:
    await create_contact(
        services, admin.practice_id, "Olga", "Novak", ["617-555-0199"], date_of_birth=dt.date(1990, 1, 1)
    )
    report = await import_csv(services, admin, admin.practice_id, GOOD_AND_BAD)
    assert (report.rows, report.accepted, report.created) == (9, 3, 3)
    assert report.columns == {
        "first_name": "First Name",
        "last_name": "Last Name",
        "phone": "Mobile",
        "email": "Email",
        "date_of_birth": "DOB",
    }
    reasons = {r.line: r.reasons for r in report.rejected}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9]
    assert reasons[4] == ["bad phone in column Mobile"]
    assert reasons[5] == ["duplicate of existing patient 1 (same name and date of birth)"]
    assert reasons[6] == ["bad date of birth (use YYYY-MM-DD or M/D/YYYY)"]
    assert reasons[7] == ["bad e-mail"]
    assert reasons[8] == ["missing name"]
    assert reasons[9] == ["duplicate within the file of line 2 (same name and phone)"]
    assert report.sharing_phone == 2
    # No value from the file is echoed: the report is safe to show, store or mail.
    text = report.model_dump_json()
    for secret in ("Maria", "Olga", "555", "example.com", "1984"):
        assert secret not in text

    family = await contacts_by_phone(services, admin.practice_id, "+16175550100")
    assert [(c.first_name, c.date_of_birth) for c in family] == [
        ("Maria", dt.date(1984, 2, 29)),
        ("Luis", dt.date(2012, 3, 7)),
    ]
    assert family[0].household_id is not None and family[0].household_id == family[1].household_id
    assert await count(services) == 4 and await count(services, Household) == 1

    async with services.read() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
    assert entry is not None and entry.detail["created"] == 3 and entry.detail["rejected"] == 6
    assert "Maria" not in json.dumps(entry.detail)

    # Importing the same file again: every good row is now a duplicate of an existing patient.
    again = await import_csv(services, admin, admin.practice_id, GOOD_AND_BAD)
    assert again.created == 0 and {2, 3, 11} <= {r.line for r in again.rejected}


async def test_address_and_insurance_columns_fill_the_record(services: Services, admin: Actor) -> None:
    data = (
        "First,Last,Cell,Street Address,Apt,City,State,ZIP,Insurance Company,Member ID,Group #\n"
        "Ana,Silva,617-555-0150,12  Elm St,Apt 3,Boston,MA,02118,Delta Dental,XJ-449,G-7\n"
        f"Ben,Okafor,617-555-0151,1 Main St,,Salem,MA,{'9' * 21},,,\n"
    )
    report = await import_csv(services, admin, admin.practice_id, data)
    assert report.columns["address_line1"] == "Street Address"
    assert report.columns["insurance_group_number"] == "Group #"
    assert report.ignored_columns == []
    assert [(r.line, r.reasons) for r in report.rejected] == [
        (3, ["address_postal_code is longer than 20 characters"])
    ]
    async with services.read() as session:
        ana = await session.scalar(select(Contact).where(Contact.first_name == "Ana"))
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "create", AuditEntry.record_type == "contact")
        )
    assert ana is not None
    assert (ana.address_line1, ana.address_line2, ana.address_city, ana.address_region) == (
        "12 Elm St",
        "Apt 3",
        "Boston",
        "MA",
    )
    assert (ana.address_postal_code, ana.insurance_carrier) == ("02118", "Delta Dental")
    assert (ana.insurance_member_id, ana.insurance_group_number) == ("XJ-449", "G-7")
    # The audit entry names which columns were filled, never their values.
    assert entry is not None and "address_city" in entry.detail["details"]
    assert "Boston" not in json.dumps(entry.detail) and "XJ-449" not in report.model_dump_json()


async def test_a_dry_run_reports_and_stores_nothing(services: Services, admin: Actor) -> None:
    report = await import_csv(services, admin, admin.practice_id, GOOD_AND_BAD, dry_run=True)
    assert report.dry_run and report.accepted == 4 and report.created == 0
    assert await count(services) == 0


async def test_a_failure_midway_stores_nothing(
    services: Services, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = contacts._join_household
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("the database went away on row 3")
        return await real(*args, **kwargs)

    # Every row is inserted before households form row by row: the failure comes with rows on disk.
    monkeypatch.setattr(contacts, "_join_household", flaky)
    audited = await count(services, AuditEntry)
    with pytest.raises(RuntimeError):
        await import_csv(services, admin, admin.practice_id, GOOD_AND_BAD)
    assert calls == 3
    # All rows were inserted and Maria and Luis had formed a household: every bit of it rolled back.
    assert await count(services) == 0 and await count(services, Household) == 0
    assert await count(services, AuditEntry) == audited


async def test_bom_cp1252_semicolons_crlf_and_quoted_line_breaks(services: Services, admin: Actor) -> None:
    text = (
        "Nachname;Vorname;given;surname;phone;Phone 2;Notes\r\n"
        'x;y;José;Müller;617 555 0101;;"a note; with a\r\nline break"\r\n'
        "x;y;Zoë;Ñúñez;617 555 0102;617 555 0101;plain\r\n"
    )
    report = await import_csv(services, admin, admin.practice_id, text.encode("cp1252"))
    assert (report.encoding, report.delimiter) == ("cp1252", ";")
    assert report.ignored_columns == ["Nachname", "Vorname", "Notes"]
    assert report.rejected == [] and report.created == 2 and report.sharing_phone == 2
    async with services.read() as session:
        names = [
            (c.first_name, c.last_name, [p.e164 for p in c.phones])
            for c in await session.scalars(select(Contact).order_by(Contact.id))
        ]
    assert names == [
        ("José", "Müller", ["+16175550101"]),
        ("Zoë", "Ñúñez", ["+16175550102", "+16175550101"]),
    ]

    bom = '\ufefffirst,last,cell,dob\r\nAnn,"Lee, Jr.",617-555-0103,07/04/1976\r\n'.encode()
    report = await import_csv(services, admin, admin.practice_id, bom)
    assert (report.encoding, report.delimiter, report.created) == ("utf-8", ",", 1)
    assert report.columns["first_name"] == "first"
    async with services.read() as session:
        ann = await session.scalar(select(Contact).where(Contact.first_name == "Ann"))
    assert ann is not None and ann.last_name == "Lee, Jr." and ann.date_of_birth == dt.date(1976, 7, 4)


async def test_line_numbers_count_quoted_line_breaks() -> None:
    parsed = parse_csv('first,last,phone\n"A\nB",C,6175550100\nD,E,nope\n')
    assert [line for line, _cells in parsed.records] == [2, 4]


async def test_limits_and_unreadable_files(services: Services, admin: Actor) -> None:
    many = "first,phone\n" + "".join(f"P{i},\n" for i in range(MAX_ROWS + 1))
    with pytest.raises(ImportTooLarge, match="20,000 rows"):
        await import_csv(services, admin, admin.practice_id, many)
    with pytest.raises(ImportTooLarge, match="5,242,880"):
        await import_csv(services, admin, admin.practice_id, b"first\n" + b"x\n" * 3_000_000)
    with pytest.raises(InvalidRequest, match="header"):
        await import_csv(services, admin, admin.practice_id, "Maria,Garcia,6175550100\n")
    with pytest.raises(InvalidRequest, match="quotes"):
        await import_csv(services, admin, admin.practice_id, 'first,last\n"Maria,Garcia\n')
    with pytest.raises(InvalidRequest, match="empty"):
        await import_csv(services, admin, admin.practice_id, b"\xef\xbb\xbf \r\n")
    with pytest.raises(InvalidRequest, match="binary"):
        await import_csv(services, admin, admin.practice_id, "first,last\n".encode("utf-16"))
    with pytest.raises(InvalidRequest, match="neither UTF-8 nor Windows-1252"):
        await import_csv(services, admin, admin.practice_id, b"first\n\x81\x8d\n")
    with pytest.raises(InvalidRequest, match="twice"):
        await import_csv(services, admin, admin.practice_id, "first,given\nA,B\n")
    staff = Actor(admin.user_id, admin.practice_id, "staff", frozenset({1}), "s")
    with pytest.raises(Forbidden):
        await import_csv(services, staff, admin.practice_id, GOOD_AND_BAD)
    with pytest.raises(NotFound):
        await import_csv(services, admin, admin.practice_id + 1, GOOD_AND_BAD)
    assert await count(services) == 0


def test_dates_and_header_names() -> None:
    assert parse_date("1984-02-29") == dt.date(1984, 2, 29)
    assert parse_date("2/29/1984") == dt.date(1984, 2, 29)
    for bad in ("1985-02-29", "29/02/1984", "1899-12-31", "2999-01-01", "yesterday", "1984-2-29x"):
        with pytest.raises(ValueError):
            parse_date(bad)
    assert [header_key(h) for h in (" Phone Number", "E-mail", "D.O.B.", "\ufeffFirst")] == [
        "phone_number",
        "e_mail",
        "d_o_b",
        "first",
    ]


@pytest.fixture
async def contacts_served(
    app_settings: Settings, aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """The `served` app, with the contacts routes added when web/app.py does not register them yet."""
    if not any(r is handlers_contacts.router for r in web.app.ROUTERS):
        monkeypatch.setattr(web.app, "ROUTERS", (*web.app.ROUTERS, handlers_contacts.router))
    from comms import migrate
    from comms.db import make_engine

    engine = make_engine(app_settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = web.app.create_app(app_settings)
    server = await aiohttp_server(app)
    server.practice = await seed_practice(app[SERVICES])
    yield server


async def test_import_route_takes_raw_csv_or_json_up_to_one_mib(contacts_served: Any) -> None:
    p, services = contacts_served.practice, contacts_served.app[SERVICES]
    url = str(contacts_served.make_url("")).rstrip("/") + "/api/v1/contacts/import"
    assert handlers_contacts.MAX_REQUEST == web.app.MAX_BODY
    async with browser() as admin:
        session = await sign_in(admin, url.split("/api/")[0], p.admin)
        headers = {"X-CSRF-Token": session["csrf_token"], "Origin": ORIGIN}
        before = await count(services)
        async with admin.post(
            url + "?dry_run=true",
            data=GOOD_AND_BAD.encode("cp1252"),
            headers={**headers, "Content-Type": "text/csv"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            report = await resp.json()
        assert report["dry_run"] and report["encoding"] == "utf-8" and report["accepted"] == 4
        assert await count(services) == before
        async with admin.post(url, json={"csv": GOOD_AND_BAD, "dry_run": False}, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["created"] == 4
        assert await count(services) == before + 4
        big = b"first\n" + b"x\n" * (600 * 1024)
        async with admin.post(url, data=big, headers={**headers, "Content-Type": "text/csv"}) as resp:
            assert resp.status == 413
            error = (await resp.json())["error"]
        assert error["code"] == "payload_too_large" and "1 MiB" in error["message"]
        async with admin.post(
            url, data=b"first\nA\n", headers={**headers, "Content-Type": "image/png"}
        ) as resp:
            assert resp.status == 422
        async with admin.post(url, json={"csv": "x", "extra": 1}, headers=headers) as resp:
            assert resp.status == 422
