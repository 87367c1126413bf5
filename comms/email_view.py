"""What staff open from an e-mail: its sanitized HTML, the raw original, its files; each access audited.

Every function checks the item's location against the actor first (not found otherwise, so ids reveal
nothing) and writes the audit row in the same transaction as that check.
"""

from __future__ import annotations

import asyncio
import base64
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from comms import audit, media
from comms.access import Actor
from comms.email_html import sanitize_html
from comms.email_parse import parse_email
from comms.errors import NotFound
from comms.models import Conversation, EmailMessage, Media, TimelineItem
from comms.services import Services, Unit

INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_INLINE_BYTES = 8 * 1024 * 1024  # all inline pictures of one mail, carried inside the page
CID_SRC = re.compile(r'src="cid:([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True)
class StaffFile:
    path: Path
    content_type: str
    filename: str


async def _email_item(unit: Unit, actor: Actor, item_id: int) -> tuple[TimelineItem, EmailMessage | None]:
    s = unit.session
    item = await s.get(TimelineItem, item_id)
    conversation = await s.get(Conversation, item.conversation_id) if item is not None else None
    if item is None or conversation is None or item.kind != "email":
        raise NotFound("no such e-mail")
    actor.require_location(conversation.location_id)
    record = await s.scalar(select(EmailMessage).where(EmailMessage.item_id == item_id))
    return item, record


async def html_for_staff(services: Services, actor: Actor, item_id: int, *, remote_images: bool) -> str:
    """The mail's HTML made safe, inline pictures carried in it; remote pictures only when asked."""
    media_dir = services.settings.storage.media_dir
    async with services.unit() as unit:
        item, record = await _email_item(unit, actor, item_id)
        stored_html = item.meta.get("html")  # items stored before the raw original was re-read
        if not item.meta.get("has_html") and not stored_html:
            raise NotFound("this e-mail has no HTML version")
        inline = await _inline_images(unit, item)
        audit.record(
            unit.session,
            actor,
            "view",
            "timeline_item",
            item_id,
            {"part": "html", "remote_images": remote_images},
        )
    source = None
    if record is not None and record.raw_sha256:
        raw = await asyncio.to_thread(_read, media.path_for(media_dir, record.raw_sha256))
        if raw is not None:
            source = (await asyncio.to_thread(parse_email, raw)).html_source
    if source:
        body = await asyncio.to_thread(sanitize_html, source, allow_remote_images=remote_images)
    else:
        body = str(stored_html or "")
    body = await asyncio.to_thread(_carry_inline_images, body.replace("\x00", ""), inline, media_dir)
    return (
        '<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
        "<style>body{font-family:Arial,Helvetica,sans-serif;font-size:14px;margin:8px;"
        "overflow-wrap:anywhere}img{max-width:100%;height:auto}</style></head><body>"
        f"{body}</body></html>"
    )


async def _inline_images(unit: Unit, item: TimelineItem) -> dict[str, tuple[str, str]]:
    """content-id → (content type, digest) of the mail's inline pictures that may be carried in the page."""
    wanted = {
        int(e["id"]): str(e["content_id"]).lower()
        for e in item.meta.get("media", [])
        if isinstance(e, dict) and e.get("content_id") and e.get("state") == "stored"
    }
    if not wanted:
        return {}
    rows = await unit.session.scalars(select(Media).where(Media.id.in_(list(wanted))))
    return {
        wanted[row.id]: (row.content_type.lower(), row.sha256)
        for row in rows
        if row.sha256 and row.content_type.lower() in INLINE_IMAGE_TYPES
    }


def _carry_inline_images(html: str, images: dict[str, tuple[str, str]], media_dir: str) -> str:
    """cid: pictures become data: URLs (the framed page fetches nothing); unknown ones are dropped."""
    budget = [MAX_INLINE_BYTES]

    def swap(match: re.Match[str]) -> str:
        cid = urllib.parse.unquote(match.group(1)).strip("<>").lower()
        found = images.get(cid)
        if found is None:
            return 'src=""'
        content_type, digest = found
        data = _read(media.path_for(media_dir, digest))
        if data is None or len(data) > budget[0]:
            return 'src=""'
        budget[0] -= len(data)
        return f'src="data:{content_type};base64,{base64.b64encode(data).decode("ascii")}"'

    return CID_SRC.sub(swap, html)


async def raw_for_staff(services: Services, actor: Actor, item_id: int) -> StaffFile:
    """The full original as it arrived (or as we sent it), for staff to download; an audited export."""
    async with services.unit() as unit:
        _item, record = await _email_item(unit, actor, item_id)
        if record is None or not record.raw_sha256:
            raise NotFound("the original of this e-mail is not kept")
        audit.record(unit.session, actor, "export", "timeline_item", item_id, {"part": "raw"})
        path = media.path_for(services.settings.storage.media_dir, record.raw_sha256)
    if not path.exists():
        raise NotFound("the original of this e-mail is missing from storage")
    return StaffFile(path, "message/rfc822", f"email-{item_id}.eml")


async def attachment_for_staff(services: Services, actor: Actor, media_id: int) -> StaffFile:
    """One file of an e-mail, with the name it was sent under; the view is audited."""
    async with services.unit() as unit:
        s = unit.session
        row = await s.get(Media, media_id)
        if row is None:
            raise NotFound("no such file")
        item, _record = await _email_item(unit, actor, row.item_id)
        if row.state != "stored" or not row.sha256:
            raise NotFound("this file is not available")
        entry: dict[str, Any] = next(
            (e for e in item.meta.get("media", []) if isinstance(e, dict) and e.get("id") == media_id), {}
        )
        audit.record(s, actor, "view", "media", media_id, {"item_id": row.item_id})
        path = media.path_for(services.settings.storage.media_dir, row.sha256)
        return StaffFile(path, row.content_type, str(entry.get("filename") or f"attachment-{media_id}"))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
