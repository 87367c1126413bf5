"""One line of text for a record column (a name, an address part): what PostgreSQL can store and staff read.

PostgreSQL refuses NUL in text (a staff edit holding one was a 500); the other C0 and C1 controls and
lone surrogates are never typed on purpose, so they are refused too, naming the field. Tabs and line
breaks come from pasting and become single spaces, as any run of whitespace does.
"""

from __future__ import annotations

import re

from comms.errors import InvalidRequest

_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def has_controls(text: str) -> bool:
    """Whether the text holds a control character (other than tab and line breaks) or a lone surrogate."""
    return _UNSTORABLE.search(text) is not None


def without_controls(text: str) -> str:
    """For what is only looked up, never stored (a search): controls read as spaces, not as an error."""
    return _UNSTORABLE.sub(" ", text)


def one_line(raw: str, field: str) -> str:
    """The text trimmed, inner whitespace collapsed; InvalidRequest naming the field if it has controls."""
    if has_controls(raw):
        raise InvalidRequest(f"{field} contains control characters, which cannot be stored")
    return " ".join(raw.split())
