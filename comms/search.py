"""Search by patient name, phone, e-mail and message text: one API over SQLite FTS5 and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, String, func, literal_column, or_, select, text

from comms import audit
from comms.access import Actor
from comms.models import Contact, ContactEmail, ContactPhone, Conversation, TimelineItem
from comms.one_line import without_controls
from comms.services import Services
from comms.summaries import PREVIEW_CHARS, conversation_state
from schemas.inbox import ItemPreview
from schemas.search import MessageHit, SearchResult

_WORD = re.compile(r"\w+", re.UNICODE)
Ts = TypeVarTuple("Ts")


def words(query: str) -> list[str]:
    """The query's words, as the full-text engines tokenize them (punctuation is never syntax)."""
    return _WORD.findall(query.casefold())[:8]


def fts5_query(tokens: list[str]) -> str:
    """Each word quoted (so nothing the user types is FTS5 syntax) and prefix-matched."""
    return " ".join('"' + t.replace('"', '""') + '"*' for t in tokens)


def tsquery(tokens: list[str]) -> str:
    """PostgreSQL to_tsquery text: words already reduced to \\w+, prefix-matched and ANDed."""
    return " & ".join(f"{t}:*" for t in tokens)


def _scoped(query: Select[*Ts], actor: Actor) -> Select[*Ts]:
    if actor.locations is not None:
        return query.where(Conversation.location_id.in_(sorted(actor.locations)))
    return query


def _phrase(text: str) -> str:
    """One FTS5 string: inside double quotes nothing is syntax, and a quote is written twice."""
    return '"' + text.replace('"', '""') + '"'


def contact_fts_query(q: str) -> str | None:
    """MATCH text for contact_fts that finds q as a substring, as contact_match's LIKE does; None when
    trigram cannot take it (under 3 characters, or a NUL, which ends FTS5's query text)."""
    if len(q) < 3 or "\0" in q:
        return None
    # E-mails are space-joined in their column and hold no space themselves: a needle with one would
    # only match across two addresses.
    columns = "name" if " " in q else "{name emails}"
    clauses = [f"{columns} : {_phrase(q)}"]
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3:
        clauses.append(f"phones : {_phrase(digits)}")
    return " OR ".join(clauses)


def contact_match(q: str, fts: bool = False) -> ColumnElement[bool]:
    """Patients whose full name or an e-mail contains q, or a phone contains its digits (3 or more);
    through SQLite's contact_fts trigram index when `fts` and the needle allows it, else by scanning."""
    match = contact_fts_query(q) if fts else None
    if match is not None:
        return Contact.id.in_(
            select(literal_column("rowid"))
            .select_from(text("contact_fts"))
            .where(text("contact_fts MATCH :contact_fts").bindparams(contact_fts=match))
        )
    # autoescape: a typed % or _ is that character, as it is to the trigram index, not a wildcard.
    needle = q.casefold()
    full_name = func.lower(Contact.first_name + literal_column("' '") + Contact.last_name, type_=String)
    address = func.lower(ContactEmail.address, type_=String)
    clauses = [
        full_name.contains(needle, autoescape=True),
        Contact.id.in_(select(ContactEmail.contact_id).where(address.contains(needle, autoescape=True))),
    ]
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3:
        clauses.append(
            Contact.id.in_(select(ContactPhone.contact_id).where(ContactPhone.e164.contains(digits)))
        )
    return or_(*clauses)


async def search(services: Services, actor: Actor, q: str, limit: int = 20) -> SearchResult:
    """Patients first, then messages; only from locations the actor may see. The query is not audited
    verbatim (it may be a patient's name), only that a search was made and how much it found."""
    q = without_controls(q).strip()  # a pasted NUL must not reach the database (PostgreSQL refuses it)
    tokens = words(q)
    sqlite = services.settings.database.is_sqlite
    # Read outside the audit's write transaction: on SQLite that one holds the database's write lock,
    # and a search over every patient would keep texts and notes waiting for it.
    async with services.read() as s:
        contact_rows = await s.execute(
            _scoped(
                select(Conversation, Contact, TimelineItem)
                .join(Contact, Contact.id == Conversation.contact_id)
                .outerjoin(TimelineItem, TimelineItem.id == Conversation.last_item_id)  # not one get each
                # Matching patients first (one pass over contacts), then their threads by contact id.
                .where(
                    Conversation.contact_id.in_(
                        select(Contact.id).where(contact_match(q, sqlite), Contact.merged_into_id.is_(None))
                    )
                )
                .order_by(Conversation.last_item_at.desc())
                .limit(limit),
                actor,
            )
        )
        conversations = [conversation_state(conv, contact, last) for conv, contact, last in contact_rows]

        hits: list[MessageHit] = []
        if tokens:
            if sqlite:
                matched: Select[Any] = (
                    select(literal_column("rowid"))
                    .select_from(text("timeline_fts"))
                    .where(text("timeline_fts MATCH :fts"))
                    # The newest matches, as PostgreSQL's branch finds them; ranking every match
                    # (tens of thousands for a common word) cost more than the rest of the search.
                    .order_by(literal_column("rowid").desc())
                    .limit(500)
                )
                condition: ColumnElement[bool] = TimelineItem.id.in_(matched)
                params = {"fts": fts5_query(tokens)}
            else:
                condition = func.to_tsvector(literal_column("'simple'"), TimelineItem.body).op("@@")(
                    func.to_tsquery(literal_column("'simple'"), tsquery(tokens))
                )
                params = {}
            rows = await s.execute(
                _scoped(
                    select(TimelineItem, Contact)
                    .join(Conversation, Conversation.id == TimelineItem.conversation_id)
                    .join(Contact, Contact.id == Conversation.contact_id)
                    .where(condition)
                    .order_by(TimelineItem.id.desc())
                    .limit(limit),
                    actor,
                ),
                params,
            )
            for item, contact in rows:
                hits.append(
                    MessageHit(
                        conversation_id=item.conversation_id,
                        contact_name=contact.display_name,
                        item=ItemPreview(
                            id=item.id,
                            kind=item.kind,
                            direction=item.direction,
                            body=item.body[:PREVIEW_CHARS],
                            created_at=item.created_at,
                        ),
                    )
                )
    async with services.unit() as unit:
        audit.record(
            unit.session,
            actor,
            "search",
            "conversation",
            "-",
            {"conversations": len(conversations), "messages": len(hits)},
        )
    return SearchResult(conversations=conversations, messages=hits)
