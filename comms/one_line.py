"""One line of text for a record column (a name, an address part): what PostgreSQL can store and staff read.

PostgreSQL refuses NUL in text (a staff edit holding one was a 500); the other C0 and C1 controls and
lone surrogates are never typed on purpose, so they are refused too, naming the field. Tabs and line
breaks come from pasting and become single spaces, as any run of whitespace does.
"""

from __future__ import annotations

from comms.errors import InvalidRequest
from schemas.text import UNSTORABLE, has_controls

__all__ = ["has_controls", "one_line", "without_controls"]


def without_controls(text: str) -> str:
    """For what is only looked up, never stored (a search): controls read as spaces, not as an error."""
    return UNSTORABLE.sub(" ", text)


def one_line(raw: str, field: str) -> str:
    """The text trimmed, inner whitespace collapsed; InvalidRequest naming the field if it has controls."""
    if has_controls(raw):
        raise InvalidRequest(f"{field} contains control characters, which cannot be stored")
    return " ".join(raw.split())
