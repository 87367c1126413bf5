"""Patient search by substring of name, e-mail or phone: through the trigram table on SQLite (kept by
triggers), by LIKE on PostgreSQL and for short needles, with the same results either way."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from sqlalchemy import select

from comms.access import Actor
from comms.contacts import update_contact
from comms.contacts_merge import merge_contacts
from comms.models import Contact, ContactEmail, Conversation
from comms.one_line import has_controls
from comms.search import contact_fts_query, contact_match, search
from comms.services import Services
from schemas.contacts import ContactUpdate, PhoneIn
from tests.conftest import testdata as shared_file
from tests.helpers import Practice, new_conversation, seed_practice
from tests.schedule_helpers import admin_actor
from web.bench_seed import StoreShape, open_store


async def _patient(services: Services, p: Practice, name: str, phone: str, *emails: str) -> int:
    """A patient with a thread at North (search lists threads) and these e-mail addresses."""
    conversation_id = await new_conversation(services, p.practice_id, p.loc_a, name, phone)
    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, conversation_id)
        assert conversation is not None
        unit.session.add_all(ContactEmail(contact_id=conversation.contact_id, address=a) for a in emails)
        return conversation.contact_id


async def _found(services: Services, actor: Actor, q: str) -> set[int]:
    result = await search(services, actor, q, limit=50)
    return {c.contact.id for c in result.conversations}


async def _expected(services: Services, q: str) -> set[int]:
    """What the search should find, worked out in Python: a live patient whose "first last" or an
    e-mail holds the needle (case aside), or a phone the needle's digits when there are 3 or more."""
    needle = q.strip().lower()
    digits = re.sub(r"\D", "", needle)
    async with services.read() as s:
        contacts = (await s.scalars(select(Contact).where(Contact.merged_into_id.is_(None)))).all()
    return {
        c.id
        for c in contacts
        if needle in f"{c.first_name} {c.last_name}".lower()
        or any(needle in e.address.lower() for e in c.emails)
        or (len(digits) >= 3 and any(digits in ph.e164 for ph in c.phones))
    }


def test_fts_query_quotes_each_needle_and_keeps_spaced_needles_off_the_emails() -> None:
    assert contact_fts_query("ab") is None  # trigram needs three characters
    assert contact_fts_query("ab\0c") is None  # NUL would end FTS5's query text
    assert contact_fts_query('o"ne') == '{name emails} : "o""ne"'
    assert contact_fts_query("ia Va") == 'name : "ia Va"'
    assert contact_fts_query("(312) 555-01") == 'name : "(312) 555-01" OR phones : "31255501"'


async def test_substrings_of_name_across_the_space_email_and_phone_and_short_needles(
    services: Services,
) -> None:
    p = await seed_practice(services)
    admin = await admin_actor(services, p)
    sophia = await _patient(services, p, "Sophia Valski", "+12025550199", "s.one@a.test", "two@b.test")
    sofia = await _patient(services, p, "Sofia Valentine", "+13125550111", "valentine@clinic.test")
    cases = {
        "ia Va": {sophia, sofia},  # across first and last name
        "a Vals": {sophia},
        "SOPHIA": {sophia},
        "Va": {sophia, sofia},  # two characters: the LIKE path
        "v": {sophia, sofia},
        "one@a.t": {sophia},
        "@clinic": {sofia},
        "555-0199": {sophia},
        "(312) 555": {sofia},  # digits of a formatted number
        "0111": {sofia},
        "55": set(),  # two digits are not a phone search
        "test two": set(),  # the end of one address and the start of the next is no address
        "zzz": set(),
        "ia_va": set(),  # % and _ are characters, not wildcards, on every path
        "a%": set(),
        "Patient": {await _contact_of(services, p.conv_a), await _contact_of(services, p.conv_b)},
    }
    for q, want in cases.items():
        assert await _found(services, admin, q) == want, q
        assert await _expected(services, q) == want, q


async def _contact_of(services: Services, conversation_id: int) -> int:
    async with services.read() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.contact_id


async def test_results_follow_renames_phone_and_email_changes_merges_and_deletes(services: Services) -> None:
    p = await seed_practice(services)
    admin = await admin_actor(services, p)
    sophia = await _patient(services, p, "Sophia Valski", "+12025550199", "sophia.v@example.org")
    dupe = await _patient(services, p, "Sophie Dupe", "+16175550100", "dup@example.com")

    await update_contact(services, admin, sophia, ContactUpdate(last_name="Valsky"))
    assert await _found(services, admin, "Valski") == set()
    assert await _found(services, admin, "hia valsky") == {sophia}

    phones = [PhoneIn(number="+12025550199"), PhoneIn(number="(415) 555-0123")]
    await update_contact(services, admin, sophia, ContactUpdate(phones=phones))
    assert await _found(services, admin, "415-555") == {sophia}
    await update_contact(services, admin, sophia, ContactUpdate(phones=phones[1:]))
    assert await _found(services, admin, "5550199") == set()
    assert await _found(services, admin, "4155550123") == {sophia}

    await update_contact(services, admin, sophia, ContactUpdate(emails=["new.addr@example.net"]))
    assert await _found(services, admin, "sophia.v@") == set()
    assert await _found(services, admin, "addr@example.n") == {sophia}

    await merge_contacts(services, admin, sophia, dupe)
    # The duplicate's record is gone from search; what it brought now finds the kept patient.
    assert await _found(services, admin, "Dupe") == set()
    assert await _found(services, admin, "617555") == {sophia}
    assert await _found(services, admin, "dup@example") == {sophia}

    async with services.unit() as unit:
        contact = await unit.session.get(Contact, sophia)
        assert contact is not None
        await unit.session.delete(contact)
    assert await _found(services, admin, "Sophia") == set()
    assert await _found(services, admin, "617555") == set()


async def test_fts_syntax_typed_in_a_search_is_only_text(services: Services) -> None:
    p = await seed_practice(services)
    admin = await admin_actor(services, p)
    await _patient(services, p, 'Jo"hn NEAR(x)', "+12025550111", "o*neil-y:z@example.com")
    await _patient(services, p, "Ann OR-Smith", "+12025550122", "ann^and@example.com")
    needles = [
        '"', '""', '"""', 'Jo"hn', 'o"h', '"hn NEAR', "NEAR", "NEAR(", "NEAR(x)", "NEAR(x y, 2)", "(x)",
        "*", "jo*", "o*neil", "-y:z", ":z@", "-", ":", "name:", "name : jo", "{name emails}: jo",
        "emails:ann", "phones:202", "AND", "OR", "NOT", "ann OR jo", "jo AND ann", "ann NOT jo", "^ann",
        "+ann", "'; DROP TABLE contact_fts; --", "a:b & c | !d",
    ]  # fmt: skip
    for q in needles:
        assert await _found(services, admin, q) == await _expected(services, q), q
    assert await _found(services, admin, "ann OR") == await _expected(services, "ann OR") != set()
    # A pasted NUL reads as a space (PostgreSQL refuses NUL in any text it is sent).
    assert await _found(services, admin, "jo\0hn") == set()
    assert await _found(services, admin, "ann\0") == await _expected(services, "ann") != set()
    assert await _found(services, admin, "Ann\x00 \x1f") == await _expected(services, "ann")


async def test_naughty_strings_find_exactly_what_like_finds(services: Services) -> None:
    corpus = json.loads(shared_file("blns.json").read_text(encoding="utf-8"))
    strings = [s.strip() for s in corpus if s.strip()]
    p = await seed_practice(services)
    names = {s for s in strings if not has_controls(s) and len(s) <= 100}
    async with services.unit() as unit:
        contacts = [Contact(practice_id=p.practice_id, first_name=s) for s in sorted(names)]
        unit.session.add_all(contacts)
        await unit.session.flush()
        ids = {c.first_name: c.id for c in contacts}
    sqlite = services.settings.database.is_sqlite
    async with services.read() as s:
        for q in strings:
            found = set(await s.scalars(select(Contact.id).where(contact_match(q, sqlite))))
            if q in ids and (q.isascii() or (sqlite and len(q) >= 3)):
                assert ids[q] in found, q
            if sqlite and q.isascii():
                scanned = set(await s.scalars(select(Contact.id).where(contact_match(q, False))))
                assert found == scanned, q


async def test_the_bench_store_fills_the_search_table_as_its_triggers_would(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine, _services, _store = await open_store(path, StoreShape(conversations=300, items=3000))
    await engine.dispose()
    with sqlite3.connect(path) as con:
        table = con.execute("SELECT rowid, name, emails, phones FROM contact_fts ORDER BY rowid").fetchall()
        source = con.execute("SELECT id, name, emails, phones FROM contact_fts_source ORDER BY id").fetchall()
        triggers = con.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'contact_fts_*'"
        ).fetchone()[0]
    assert len(table) == 300 and table == source and triggers == 9
