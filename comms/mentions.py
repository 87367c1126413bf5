"""@mentions in chat messages and conversation notes: whom a text addresses, decided without any I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.models import StaffUser

StaffHandle = tuple[int, str, str]  # (user id, display name, e-mail)

# An "@" that starts a word: not after a letter, digit, dot or slash (so "bob@example.com" and
# ".../@nora" URLs are not mentions), and a handle not followed by another "@" ("@nora@example.com" is an
# address). The possessive `++` stops the engine from shortening the handle to dodge that last check.
_MENTION = re.compile(r"(?<![\w.+\-@/])@([\w.+\-]++)(?!@)")
_TRAILING = ".+-"  # "@nora." at the end of a sentence still means nora


def local_part(email: str) -> str:
    """The handle an e-mail address gives its owner: everything before the last "@", case-folded."""
    return email.rpartition("@")[0].casefold() if "@" in email else email.casefold()


def first_name(name: str) -> str:
    """The other handle staff may use: the first word of the display name, case-folded."""
    words = name.split()
    return words[0].casefold().rstrip(_TRAILING) if words else ""


def parse_mentions(body: str, staff: Sequence[StaffHandle]) -> set[int]:
    """The ids of the staff an @handle in `body` names, by e-mail local part first, then first name.

    A first name two colleagues share names both of them: an extra notification is better than a
    missed one, and the local part is there for anyone who wants to be exact.
    """
    by_local: dict[str, set[int]] = {}
    by_first: dict[str, set[int]] = {}
    for user_id, name, email in staff:
        by_local.setdefault(local_part(email), set()).add(user_id)
        if first := first_name(name):
            by_first.setdefault(first, set()).add(user_id)
    found: set[int] = set()
    for match in _MENTION.finditer(body):
        token = match.group(1).casefold()
        for candidate in dict.fromkeys((token, token.rstrip(_TRAILING))):
            ids = by_local.get(candidate) or by_first.get(candidate)
            if ids:
                found |= ids
                break
    return found


async def staff_handles(session: AsyncSession, practice_id: int) -> list[StaffHandle]:
    """The active staff of a practice as (id, name, e-mail): the people a mention can reach."""
    rows = await session.execute(
        select(StaffUser.id, StaffUser.name, StaffUser.email)
        .where(StaffUser.practice_id == practice_id, StaffUser.active.is_(True))
        .order_by(StaffUser.id)
    )
    return [(user_id, name, email) for user_id, name, email in rows]


async def mentioned_in(session: AsyncSession, practice_id: int, body: str) -> set[int]:
    """The staff a note or chat message @mentions; most mention no one, and then nothing is read."""
    if "@" not in body:
        return set()
    return parse_mentions(body, await staff_handles(session, practice_id))
