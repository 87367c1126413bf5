"""Importing patients from a CSV export: every row checked first, then all stored in one transaction.

Spreadsheets and practice-management systems export CSV in many shapes: a byte-order mark, CRLF line
ends, semicolons where the locale uses a decimal comma, Windows-1252 instead of UTF-8, quoted fields
with commas or line breaks. We read all of those, and report each rejected row by its line number and
the reason, never by its values: the report and the audit log carry no PHI, and nothing is logged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit, contacts
from comms.access import Actor
from comms.contacts import DETAIL_COLUMNS, MAX_NAME, normalize_email
from comms.errors import FrontdeskError, InvalidRequest, NotFound
from comms.models import Contact, ContactPhone
from comms.one_line import has_controls
from comms.phones import to_e164
from comms.services import Services
from schemas import errors as codes
from schemas.contacts import ImportReport, RejectedRow

if TYPE_CHECKING:
    import _csv

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
SNIFF_CHARS = 64 * 1024
DELIMITERS = (",", ";", "\t")
ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "first", "firstname", "given", "given_name", "forename"),
    "last_name": ("last_name", "last", "lastname", "surname", "family", "family_name"),
    "phone": ("phone", "mobile", "cell", "phone_number", "mobile_phone", "cell_phone", "telephone", "phone1"),
    "phone2": ("phone2", "phone_2", "second_phone", "other_phone", "alt_phone", "home_phone"),
    "email": ("email", "e_mail", "email_address", "e_mail_address"),
    "date_of_birth": ("date_of_birth", "dob", "d_o_b", "birth_date", "birthdate", "birthday"),
    "address_line1": ("address", "address1", "address_1", "address_line1", "address_line_1", "street",
                      "street_address"),
    "address_line2": ("address2", "address_2", "address_line2", "address_line_2", "apt", "suite", "unit"),
    "address_city": ("city", "town", "address_city"),
    "address_region": ("state", "region", "province", "address_state", "address_region"),
    "address_postal_code": ("zip", "zip_code", "zipcode", "postal_code", "postcode", "address_zip",
                            "address_postal_code"),
    "insurance_carrier": ("insurance", "insurance_carrier", "carrier", "insurance_company", "payer",
                          "primary_insurance"),
    "insurance_member_id": ("member_id", "insurance_id", "subscriber_id", "insurance_member_id",
                            "policy_number"),
    "insurance_group_number": ("group_number", "group_no", "group", "insurance_group",
                               "insurance_group_number"),
}  # fmt: skip
_FIELD_OF = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


class ImportTooLarge(FrontdeskError):
    """The file is over the import's size or row limit; the message says which and how to split it."""

    code, status = codes.PAYLOAD_TOO_LARGE, 413


@dataclass
class ParsedCsv:
    encoding: str
    delimiter: str
    columns: dict[str, int]
    header: list[str]
    records: list[tuple[int, list[str]]]  # (line the row starts on, cells)


@dataclass
class Row:
    line: int
    first: str
    last: str
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    dob: dt.date | None = None
    details: dict[str, str] = field(default_factory=dict)


def decode(data: bytes | str) -> tuple[str, str]:
    """Text and the encoding it was read as: UTF-8 (with or without BOM), else Windows-1252."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), "utf-8"
    if len(data) > MAX_BYTES:
        raise ImportTooLarge(f"the file is {len(data):,} bytes; an import takes up to {MAX_BYTES:,}")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise InvalidRequest(
            "the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8"
        ) from None


def header_key(raw: str) -> str:
    """'Phone Number', 'E-mail', 'D.O.B.' → phone_number, e_mail, d_o_b."""
    return re.sub(r"[^0-9a-z]+", "_", raw.strip().lower()).strip("_")


def map_columns(header: list[str]) -> dict[str, int]:
    """Our field → the header's column index; a field named twice is refused rather than guessed."""
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = _FIELD_OF.get(header_key(raw))
        if name is None:
            continue
        if name in columns:
            raise InvalidRequest(f"the header names the {name} column twice")
        columns[name] = index
    return columns


def _reader(text: str, delimiter: str) -> _csv.Reader:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)


def _delimiter_and_header(text: str) -> tuple[str, list[str], dict[str, int]]:
    """The sniffer's guess first, then each usual delimiter: the one whose header we understand wins."""
    candidates: list[str] = []
    try:
        candidates.append(csv.Sniffer().sniff(text[:SNIFF_CHARS], delimiters="".join(DELIMITERS)).delimiter)
    except csv.Error:
        pass
    candidates += [d for d in DELIMITERS if d not in candidates]
    for delimiter in candidates:
        try:
            header = next(_reader(text, delimiter), [])
        except csv.Error:
            continue
        columns = map_columns(header)
        if "first_name" in columns or "last_name" in columns:
            return delimiter, header, columns
    names = ", ".join(f"{name} ({'/'.join(aliases)})" for name, aliases in ALIASES.items())
    raise InvalidRequest(
        f"the first row must be a header with a first or last name column; known columns: {names}"
    )


def parse_csv(data: bytes | str) -> ParsedCsv:
    """Decode, find the delimiter and header, and split the rows; no judgement of the values yet."""
    text, encoding = decode(data)
    if len(text) > MAX_BYTES:
        raise ImportTooLarge(f"the file is over {MAX_BYTES:,} characters; split it and import each part")
    if "\x00" in text:
        raise InvalidRequest("the file holds binary data; export the sheet as CSV (not .xlsx or UTF-16)")
    if not text.strip():
        raise InvalidRequest("the file is empty")
    delimiter, header, columns = _delimiter_and_header(text)
    reader = _reader(text, delimiter)
    records: list[tuple[int, list[str]]] = []
    try:
        next(reader)
        previous = reader.line_num
        for cells in reader:
            start, previous = previous + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines (often at the end of an export) are not rows
            if len(records) >= MAX_ROWS:
                raise ImportTooLarge(
                    f"the file has more than {MAX_ROWS:,} rows; split it and import each part"
                )
            records.append((start, cells))
    except csv.Error as exc:
        # csv's messages name the problem (quotes, field size), never the cell's text.
        raise InvalidRequest(
            f"line {reader.line_num}: the CSV cannot be read ({exc}); check the quotes"
        ) from None
    return ParsedCsv(encoding, delimiter, columns, header, records)


def parse_date(raw: str) -> dt.date:
    """ISO (1984-02-29) or US (2/29/1984); a birth date in the future or before 1900 is a typo."""
    iso, us = _ISO.fullmatch(raw), _US.fullmatch(raw)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
    elif us:
        month, day, year = (int(g) for g in us.groups())
    else:
        raise ValueError("unknown date format")
    date = dt.date(year, month, day)
    if not dt.date(1900, 1, 1) <= date <= dt.date.today():
        raise ValueError("date out of range")
    return date


def check_row(parsed: ParsedCsv, line: int, cells: list[str]) -> tuple[Row, list[str]]:
    """One row's values and what is wrong with them (by column name, never by value)."""
    reasons: list[str] = []
    width = len(parsed.header)
    if any(c.strip() for c in cells[width:]):
        reasons.append("more fields than the header has (check the delimiter and the quotes)")

    def cell(name: str) -> str:
        index = parsed.columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    # Control characters are refused (NUL already file-wide); tabs and line breaks become spaces.
    unstorable = [name for name in ("first_name", "last_name", *DETAIL_COLUMNS) if has_controls(cell(name))]
    reasons.extend(f"{name} contains control characters" for name in unstorable)
    row = Row(line, " ".join(cell("first_name").split()), " ".join(cell("last_name").split()))
    if not (row.first or row.last):
        reasons.append("missing name")
    for name, value in (("first_name", row.first), ("last_name", row.last)):
        if len(value) > MAX_NAME:
            reasons.append(f"{name} is longer than {MAX_NAME} characters")
    for name in ("phone", "phone2"):
        if raw := cell(name):
            try:
                number = to_e164(raw)
            except InvalidRequest:
                reasons.append(f"bad phone in column {parsed.header[parsed.columns[name]].strip()}")
            else:
                if number not in row.phones:
                    row.phones.append(number)
    if raw := cell("email"):
        try:
            row.emails.append(normalize_email(raw))
        except InvalidRequest:
            reasons.append("bad e-mail")
    for name in DETAIL_COLUMNS:
        if value := " ".join(cell(name).split()):
            limit: int | None = getattr(Contact.__table__.c[name].type, "length", None)
            if limit is not None and len(value) > limit:
                reasons.append(f"{name} is longer than {limit} characters")
            else:
                row.details[name] = value
    if raw := cell("date_of_birth"):
        try:
            row.dob = parse_date(raw)
        except ValueError:
            reasons.append("bad date of birth (use YYYY-MM-DD or M/D/YYYY)")
    return row, reasons


def _name_key(first: str, last: str) -> tuple[str, str]:
    return " ".join(first.casefold().split()), " ".join(last.casefold().split())


@dataclass
class Known:
    """Who is already a patient, keyed the ways a duplicate shows: name + phone, name + birth date."""

    by_phone: dict[tuple[str, str, str], str] = field(default_factory=dict)
    by_dob: dict[tuple[str, str, dt.date], str] = field(default_factory=dict)

    def duplicate(self, row: Row) -> str | None:
        name = _name_key(row.first, row.last)
        for number in row.phones:
            if (found := self.by_phone.get((*name, number))) is not None:
                return f"{found} (same name and phone)"
        if row.dob is not None and (found := self.by_dob.get((*name, row.dob))) is not None:
            return f"{found} (same name and date of birth)"
        return None

    def add(self, row: Row, label: str) -> None:
        name = _name_key(row.first, row.last)
        for number in row.phones:
            self.by_phone.setdefault((*name, number), label)
        if row.dob is not None:
            self.by_dob.setdefault((*name, row.dob), label)


async def _existing(session: AsyncSession, practice_id: int) -> tuple[Known, set[str]]:
    """The practice's live patients as duplicate keys, and the numbers known patients hold."""
    known = Known()
    rows = await session.execute(
        select(Contact.id, Contact.first_name, Contact.last_name, Contact.date_of_birth, Contact.is_unknown)
        .where(Contact.practice_id == practice_id, Contact.merged_into_id.is_(None))
        .order_by(Contact.id)
    )
    people = {r.id: r for r in rows}
    for person in people.values():
        if person.date_of_birth is not None:
            key = (*_name_key(person.first_name, person.last_name), person.date_of_birth)
            known.by_dob.setdefault(key, str(person.id))
    numbers: set[str] = set()
    phones = await session.execute(
        select(ContactPhone.contact_id, ContactPhone.e164).where(
            ContactPhone.contact_id.in_(
                select(Contact.id).where(Contact.practice_id == practice_id, Contact.merged_into_id.is_(None))
            )
        )
    )
    for contact_id, number in phones:
        holder = people.get(contact_id)
        if holder is None:
            continue
        known.by_phone.setdefault((*_name_key(holder.first_name, holder.last_name), number), str(holder.id))
        if not holder.is_unknown:
            numbers.add(number)
    return known, numbers


def validate(parsed: ParsedCsv, existing: Known) -> tuple[list[Row], list[RejectedRow]]:
    """Every row judged before anything is stored; duplicates within the file point at the first line."""
    accepted: list[Row] = []
    rejected: list[RejectedRow] = []
    in_file = Known()
    for line, cells in parsed.records:
        row, reasons = check_row(parsed, line, cells)
        if row.first or row.last:
            if (found := existing.duplicate(row)) is not None:
                reasons.append(f"duplicate of existing patient {found}")
            elif (found := in_file.duplicate(row)) is not None:
                reasons.append(f"duplicate within the file of {found}")
        if reasons:
            rejected.append(RejectedRow(line=line, reasons=reasons))
            continue
        in_file.add(row, f"line {line}")
        accepted.append(row)
    return accepted, rejected


def count_sharing(accepted: list[Row], existing_numbers: set[str]) -> int:
    """Accepted rows whose number another patient holds too: each lands in a household."""
    held = Counter(number for row in accepted for number in row.phones)
    return sum(1 for row in accepted if any(held[n] > 1 or n in existing_numbers for n in row.phones))


async def import_csv(
    services: Services, actor: Actor, practice_id: int, data: bytes | str, *, dry_run: bool = False
) -> ImportReport:
    """Check every row, then store all accepted ones in one transaction (or none: a failure rolls back all).

    Rows sharing a number with each other or with existing patients form households through the same
    path as a single create. A dry run only reports what would happen.
    """
    actor.require_admin()
    if practice_id != actor.practice_id:
        raise NotFound("no such practice")
    parsed = parse_csv(data)
    async with services.unit() as unit:
        s = unit.session
        existing, numbers = await _existing(s, practice_id)
        accepted, rejected = validate(parsed, existing)
        created = 0
        if not dry_run:
            new = [
                contacts.NewContact(r.first, r.last, r.phones, r.emails, r.dob, details=r.details)
                for r in accepted
            ]
            created = len(await contacts.insert_contacts(s, actor, practice_id, new))
        report = ImportReport(
            dry_run=dry_run,
            encoding="cp1252" if parsed.encoding == "cp1252" else "utf-8",
            delimiter=parsed.delimiter,
            columns={name: parsed.header[index].strip() for name, index in parsed.columns.items()},
            ignored_columns=[
                h.strip()
                for i, h in enumerate(parsed.header)
                if i not in parsed.columns.values() and h.strip()
            ],
            rows=len(parsed.records),
            accepted=len(accepted),
            created=created,
            sharing_phone=count_sharing(accepted, numbers),
            rejected=rejected,
        )
        audit.record(
            s,
            actor,
            "import",
            "contact",
            "-",
            {
                "dry_run": dry_run,
                "rows": report.rows,
                "created": created,
                "rejected": len(rejected),
                "encoding": report.encoding,
            },
        )
    return report
