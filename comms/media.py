"""Media files: content-addressed on disk, rows in the store, handed only to staff who may see them."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from comms import audit
from comms.access import Actor
from comms.errors import NotFound
from comms.messaging import publish_update
from comms.models import Conversation, Media, TimelineItem, utcnow
from comms.services import Services

ALLOWED_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "image/heif",
    "video/mp4",
    "video/3gpp",
    "video/quicktime",
    "audio/mpeg",
    "audio/wav",
    "audio/x-wav",
    "audio/mp4",
    "audio/amr",
    "audio/ogg",
    "application/pdf",
    "text/vcard",
    "text/x-vcard",
    "text/plain",
)
MAX_ATTEMPTS = 5


def allowed(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in ALLOWED_TYPES


def store_bytes(media_dir: str, data: bytes) -> str:
    """Write once under its SHA-256 (identical files share one copy); returns the digest."""
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(media_dir) / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return digest


def path_for(media_dir: str, digest: str) -> Path:
    return Path(media_dir) / digest[:2] / digest


@dataclass(frozen=True)
class PendingMedia:
    id: int
    url: str
    content_type: str
    attempts: int


async def due(services: Services, limit: int = 10) -> list[PendingMedia]:
    """Media still to fetch; a crash between webhook and fetch leaves rows here, so nothing is lost."""
    async with services.read() as session:
        rows = await session.scalars(
            select(Media)
            .where(Media.state == "pending", Media.attempts < MAX_ATTEMPTS)
            .order_by(Media.id)
            .limit(limit)
        )
        return [PendingMedia(m.id, m.source_url or "", m.content_type, m.attempts) for m in rows]


async def record(
    services: Services,
    media_id: int,
    *,
    state: str,
    content_type: str | None = None,
    size: int | None = None,
    digest: str | None = None,
    error: str | None = None,
) -> None:
    """Record a fetch outcome: stored, refused (too big, wrong type) or a failed try to repeat."""
    values: dict[str, object] = {"state": state, "attempts": Media.attempts + 1}
    if content_type:
        values["content_type"] = content_type
    if size is not None:
        values["size"] = size
    if digest:
        values["sha256"] = digest
    if error:
        values["error"] = error[:300]
    async with services.unit() as unit:
        s = unit.session
        await s.execute(update(Media).where(Media.id == media_id).values(**values))
        row = await s.get(Media, media_id, populate_existing=True)
        if row is None or state == "pending":
            return
        # Locked and read afresh: a call's callbacks rewrite the same item's meta (a second recording).
        item = await s.get(TimelineItem, row.item_id, with_for_update=True, populate_existing=True)
        if item is not None:
            entries = [dict(e) for e in item.meta.get("media", [])]
            for entry in entries:
                if entry.get("id") == media_id:
                    entry.update(state=state, content_type=row.content_type, error=row.error)
            item.meta = {**item.meta, "media": entries}
            await publish_update(unit, item)


async def for_staff(services: Services, actor: Actor, media_id: int) -> tuple[Path, str]:
    """A stored file for a staff member who may see its conversation; the view is audited."""
    async with services.unit() as unit:
        s = unit.session
        row = (
            await s.execute(
                select(Media, Conversation.location_id)
                .join(TimelineItem, TimelineItem.id == Media.item_id)
                .join(Conversation, Conversation.id == TimelineItem.conversation_id)
                .where(Media.id == media_id)
            )
        ).first()
        if row is None:
            raise NotFound("no such file")
        media, location_id = row
        actor.require_location(location_id)
        if media.state != "stored" or not media.sha256:
            raise NotFound("this file is not available" + (f": {media.error}" if media.error else ""))
        audit.record(
            s, actor, "view", "media", media.id, {"item_id": media.item_id, "at": utcnow().isoformat()}
        )
        return path_for(services.settings.storage.media_dir, media.sha256), media.content_type
