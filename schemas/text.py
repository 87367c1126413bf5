"""A name or label on the wire: one line that PostgreSQL can store and staff can read.

The same rule as `comms.one_line`, checked as the request is parsed, for the many setup forms whose
names are stored as given (providers, appointment types, holidays, phone-tree choices): a control
character is a 422 naming the field, and whitespace from pasting collapses to single spaces.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def has_controls(text: str) -> bool:
    """Whether the text holds a control character (other than tab and line breaks) or a lone surrogate."""
    return UNSTORABLE.search(text) is not None


def _one_line(raw: str) -> str:
    if has_controls(raw):
        raise ValueError("contains control characters, which cannot be stored")
    tidy = " ".join(raw.split())
    if raw and not tidy:
        raise ValueError("must not be blank")
    return tidy


OneLine = Annotated[str, AfterValidator(_one_line)]
