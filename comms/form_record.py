"""A completed intake form's answers written into the patient's record, in the submission's transaction.

The patient's answer wins (it is what they just told the practice), but nothing they replaced is lost:
a new e-mail goes first and the old ones stay on the record, and every value overwritten is kept in the
audit entry of the change (the audit log is the record's history; application logs never see it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from comms.contacts import DETAIL_COLUMNS
from comms.models import Contact, ContactEmail

# Contact fields a form fills → the column (e-mail and date of birth are handled on their own).
COLUMNS = {
    **{name: name for name in ("first_name", "last_name", *DETAIL_COLUMNS)},
    "insurance_card": "insurance_card_upload_id",
}


@dataclass
class RecordChange:
    """The record columns a form changed, and the values it replaced (for the audit entry)."""

    fields: list[str] = field(default_factory=list)
    previous: dict[str, str | int] = field(default_factory=dict)


async def apply_answers(s: AsyncSession, contact: Contact, values: Mapping[str, str | int]) -> RecordChange:
    """Write the mapped answers into the contact; an unknown sender who gave a name is identified."""
    out = RecordChange()
    for name, value in values.items():
        if name == "email":
            await _put_email_first(s, contact, str(value), out)
            continue
        new: str | int | dt.date = value
        attr = COLUMNS.get(name, name)
        if name == "date_of_birth":
            new = dt.date.fromisoformat(str(value))
        old = getattr(contact, attr)
        if old == new:
            continue
        if old not in (None, ""):
            out.previous[attr] = old.isoformat() if isinstance(old, dt.date) else old
        setattr(contact, attr, new)
        out.fields.append(attr)
    if contact.is_unknown and (contact.first_name or contact.last_name):
        contact.is_unknown = False
        out.fields.append("is_unknown")
    return out


async def _put_email_first(s: AsyncSession, contact: Contact, address: str, out: RecordChange) -> None:
    """The patient's e-mail becomes the one mail goes to; the others stay, after it."""
    current = [e.address for e in contact.emails]
    if current[:1] == [address]:
        return
    if current:
        out.previous["email"] = current[0]
    contact.emails.clear()
    await s.flush()  # delete before insert: (contact, address) is unique; ids keep the order
    contact.emails.extend(ContactEmail(address=a) for a in [address, *(a for a in current if a != address)])
    await s.flush()
    out.fields.append("emails")
