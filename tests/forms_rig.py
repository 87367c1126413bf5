"""Intake form test helpers: a template an admin published, the link a patient was texted, and small
valid files to upload."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

from sqlalchemy import select

from comms.models import TimelineItem
from tests.carrier import Carrier
from tests.voice import Desk
from web.keys import SERVICES

INTAKE: dict[str, Any] = {
    "sections": [
        {
            "title": "About you",
            "fields": [
                {
                    "key": "first",
                    "label": "First name",
                    "kind": "text",
                    "required": True,
                    "maps_to": "first_name",
                },
                {
                    "key": "last",
                    "label": "Last name",
                    "kind": "text",
                    "required": True,
                    "maps_to": "last_name",
                },
                {
                    "key": "dob",
                    "label": "Date of birth",
                    "kind": "date",
                    "required": True,
                    "maps_to": "date_of_birth",
                },
                {"key": "mail", "label": "E-mail", "kind": "email", "maps_to": "email"},
                {"key": "street", "label": "Street address", "kind": "text", "maps_to": "address_line1"},
                {"key": "city", "label": "City", "kind": "text", "maps_to": "address_city"},
                {"key": "zip", "label": "ZIP code", "kind": "text", "maps_to": "address_postal_code"},
            ],
        },
        {
            "title": "Insurance",
            "fields": [
                {"key": "insured", "label": "I have dental insurance", "kind": "checkbox"},
                {
                    "key": "carrier",
                    "label": "Insurer",
                    "kind": "choice",
                    "required": True,
                    "options": ["Delta", "Cigna", "Other"],
                    "show_if": {"field": "insured", "equals": True},
                    "maps_to": "insurance_carrier",
                },
                {
                    "key": "member",
                    "label": "Member ID",
                    "kind": "text",
                    "show_if": {"field": "insured", "equals": True},
                    "maps_to": "insurance_member_id",
                },
                {
                    "key": "card",
                    "label": "Photo of your insurance card",
                    "kind": "file",
                    "required": True,
                    "show_if": {"field": "insured", "equals": True},
                    "maps_to": "insurance_card",
                },
            ],
        },
        {
            "title": "Consent",
            "fields": [
                {
                    "key": "agree",
                    "label": "I agree to the office policies",
                    "kind": "checkbox",
                    "required": True,
                },
                {"key": "sign", "label": "Your signature", "kind": "signature", "required": True},
            ],
        },
    ]
}


def png(width: int = 4, height: int = 2) -> bytes:
    """A real (tiny) PNG: what the signature canvas sends."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"


async def published_template(
    desk: Desk, base: str, definition: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An admin's template, published (the desk must be an admin's)."""
    body = {"name": "New patient intake", "definition": definition or INTAKE}
    made = await desk.api("POST", f"{base}/api/v1/form-templates", body)
    return dict(await desk.api("POST", f"{base}/api/v1/form-templates/{made['id']}/publish"))


async def link_of(carrier: Carrier, request_id: int) -> str:
    """The private link in the text the patient was sent for this request."""
    async with carrier.app[SERVICES].read() as s:
        texts = await s.scalars(select(TimelineItem).where(TimelineItem.kind == "sms"))
        for text in texts:
            if text.meta.get("form_request_id") == request_id:
                found = re.search(r"http\S+/f/[A-Za-z0-9_-]+", text.body)
                assert found is not None, "the text carries the link"
                return found.group(0)
    raise AssertionError("no text for this form request")
