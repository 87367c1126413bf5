"""Staff's reply turned into mail: an HTML twin of their text, vetted attachments, the thread's ids.

Pure: no I/O. The e-mail actions call these before anything is stored.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence

from comms.email_build import OutgoingAttachment, clean_message_id, thread_references
from comms.errors import InvalidRequest

MAX_ATTACHMENTS = 10
MAX_FILENAME = 150
# What staff may attach: documents and pictures patients can open; nothing executable or scriptable
# (no HTML, SVG or archives), so a file cannot run in the patient's mail client.
ALLOWED_TYPES = frozenset(
    {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "text/plain",
        "text/csv",
        "text/calendar",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.text",
        "application/rtf",
    }
)
_ZIP = (b"PK\x03\x04",)
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
# The first bytes each binary type must start with: a renamed file (an .exe called scan.pdf) is refused.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/msword": _OLE,
    "application/vnd.ms-excel": _OLE,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _ZIP,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _ZIP,
    "application/vnd.oasis.opendocument.text": _ZIP,
    "application/rtf": (b"{\\rtf",),
}
TEXT_TYPES = frozenset({"text/plain", "text/csv", "text/calendar"})


def text_to_html(text: str) -> str:
    """The HTML alternative of staff's text: every character escaped, paragraphs and line breaks kept."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    paragraphs = [p for p in re.split(r"\n\s*\n", normalized) if p.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line, quote=True) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"></head>\n'
        '<body style="font-family: Arial, Helvetica, sans-serif; font-size: 14px; line-height: 1.4">\n'
        f"{body}\n</body></html>\n"
    )


def clean_filename(name: str) -> str:
    """Only the file's own name: no folders, control or direction characters; short, extension kept."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    base = " ".join(base.split()).strip(". ")
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        base = (stem if keep else base)[: MAX_FILENAME - len(keep) - 1].rstrip() + (
            f".{keep}" if keep else ""
        )
    return base or "attachment"


def vet_attachments(files: Sequence[OutgoingAttachment], max_total_bytes: int) -> list[OutgoingAttachment]:
    """Staff's files, checked: allowed type whose bytes match it, within the count and size limits."""
    if len(files) > MAX_ATTACHMENTS:
        raise InvalidRequest(f"at most {MAX_ATTACHMENTS} attachments per e-mail")
    total = sum(len(f.data) for f in files)
    if total > max_total_bytes:
        raise InvalidRequest(
            f"attachments are {_size(total)} together; the limit is {_size(max_total_bytes)}"
        )
    vetted = []
    for f in files:
        name = clean_filename(f.filename)
        content_type = f.content_type.split(";", 1)[0].strip().lower()
        if content_type not in ALLOWED_TYPES:
            raise InvalidRequest(f"{name}: files of type {content_type or 'unknown'} cannot be attached")
        if not f.data:
            raise InvalidRequest(f"{name}: the file is empty")
        signatures = SIGNATURES.get(content_type)
        if signatures and not f.data.startswith(signatures):
            raise InvalidRequest(f"{name}: the file's content is not {content_type}")
        if content_type == "image/webp" and not (f.data[:4] == b"RIFF" and f.data[8:12] == b"WEBP"):
            raise InvalidRequest(f"{name}: the file's content is not {content_type}")
        if content_type in TEXT_TYPES and b"\x00" in f.data[:4096]:
            raise InvalidRequest(f"{name}: the file's content is not text")
        vetted.append(OutgoingAttachment(name, content_type, f.data))
    return vetted


def valid_message_id(value: object) -> str | None:
    """A Message-ID we can put in a header, or None (a sender's malformed id is not threaded on)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return clean_message_id(value)
    except ValueError:
        return None


def reply_chain(parent_references: Iterable[object], parent_id: str) -> list[str]:
    """References for a reply: the parent's own chain (valid ids only) and then the parent."""
    known = [i for i in (valid_message_id(r) for r in parent_references) if i]
    return thread_references(known, parent_id)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"
