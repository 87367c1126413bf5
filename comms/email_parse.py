"""Inbound e-mail bytes turned into a `ParsedEmail`: pure, and it never raises, whatever arrives on port 25.

The standard library's modern parser (policy.default) does the MIME work; this module chooses the body,
collects attachments under safe unique names, reads threading headers and delivery reports, and says in
`warnings` what was odd. Anything it cannot make sense of is kept as raw text rather than lost.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import errors, policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser, Parser
from email.utils import getaddresses, parsedate_to_datetime
from typing import cast

from comms.email_html import has_remote_images, html_to_text, sanitize_html
from schemas.email import MAX_FILENAME, BounceInfo, BounceRecipient, ParsedAttachment, ParsedEmail

MiB = 1024 * 1024
MAX_DEPTH = 30
MAX_REFERENCES = 100
# Labels mail clients send that Python does not know, or knows as a narrower charset than what is meant
# (WHATWG's encoding standard maps these the same way: "latin-1" mail is really windows-1252, and so on).
CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "utf8": "utf-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
    "unknown-8bit": "",
    "x-unknown": "",
    "x-user-defined": "",
    "unknown": "",
    "default": "",
}
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "message/rfc822": ".eml",
    "application/pgp-signature": ".asc",
    "application/zip": ".zip",
    "text/csv": ".csv",
    "application/msword": ".doc",
}
DEFECTS: dict[type[errors.MessageDefect], str] = {
    errors.MissingHeaderBodySeparatorDefect: "missing blank line between headers and body",
    errors.StartBoundaryNotFoundDefect: "a multipart boundary was not found",
    errors.CloseBoundaryNotFoundDefect: "truncated: a closing multipart boundary is missing",
    errors.NoBoundaryInMultipartDefect: "a multipart part has no boundary",
    errors.MultipartInvariantViolationDefect: "a part declared multipart is not",
    errors.FirstHeaderLineIsContinuationDefect: "the first header line is a continuation",
    errors.MisplacedEnvelopeHeaderDefect: "a misplaced envelope (From ) line",
    errors.InvalidMultipartContentTransferEncodingDefect: "a multipart has an invalid transfer encoding",
    errors.InvalidBase64PaddingDefect: "damaged base64 content (padding)",
    errors.InvalidBase64CharactersDefect: "damaged base64 content (invalid characters)",
    errors.InvalidBase64LengthDefect: "damaged base64 content (length)",
    errors.UndecodableBytesDefect: "undecodable bytes",
}
AUTO_SUBJECT = re.compile(r"\s*(auto:|out of office|automatic reply|auto-?reply\s*:)", re.IGNORECASE)
STATUS_CODE = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")


@dataclass
class _State:
    """What the walk collects; forks share the attachment and warning lists but not the body parts."""

    limit: int
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    counter: list[int] = field(default_factory=lambda: [0])  # a shared cell: "attachment-N" across forks
    in_report: bool = False
    reports: list[Message] = field(default_factory=list)
    status_parts: list[Message] = field(default_factory=list)
    original_headers: list[Message] = field(default_factory=list)
    report_text: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def parse_email(raw: bytes, *, max_attachment_bytes: int = 10 * MiB) -> ParsedEmail:
    """Normalize one inbound message; on any failure return the raw text with a warning instead of raising."""
    try:
        return _parse(raw, max_attachment_bytes)
    except Exception as exc:  # the SMTP listener must always be able to store what it accepted
        try:
            text = _clean_text(bytes(raw).decode("utf-8", "replace"))
        except Exception:
            text = ""
        return ParsedEmail(
            text=text,
            raw_size=len(raw),
            warnings=(f"could not parse the message ({exc.__class__.__name__}); stored raw",),
        )


def _parse(raw: bytes, limit: int) -> ParsedEmail:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    state = _State(limit=limit)
    _walk(msg, state, 0)
    subject = _one_line(_header(msg, "subject") or "")
    senders = _addresses(msg, "from", state)
    plain = "\n\n".join(t.strip("\n") for t in state.plain if t.strip())
    html_source = "\n".join(h for h in state.html if h.strip())
    text = plain if plain.strip() else (html_to_text(html_source) if html_source else "")
    html = None
    remote_images = False
    if html_source:
        try:
            html = sanitize_html(html_source).strip() or None
            remote_images = html is not None and has_remote_images(html_source)
        except Exception:
            state.warn("the HTML body could not be sanitized and was left out")
    bounce = _bounce(state)
    return ParsedEmail(
        message_id=_message_id(_raw_header(msg, "message-id")),
        in_reply_to=_message_id(_raw_header(msg, "in-reply-to")),
        references=_references(_raw_header(msg, "references"), state),
        from_address=senders[0][1] if senders else None,
        from_name=(senders[0][0] or None) if senders else None,
        to=tuple(a for _, a in _addresses(msg, "to", state)),
        cc=tuple(a for _, a in _addresses(msg, "cc", state)),
        reply_to=tuple(a for _, a in _addresses(msg, "reply-to", state)),
        subject=subject,
        date=_date(_raw_header(msg, "date"), state),
        text=_clean_text(text).rstrip(),
        html=_clean_text(html) if html else None,
        html_source=_clean_text(html_source) if html else None,
        remote_images=remote_images,
        attachments=tuple(state.attachments),
        auto_submitted=_auto_submitted(msg, subject) or bool(state.reports),
        bounce=bounce,
        warnings=tuple(state.warnings),
        raw_size=len(raw),
    )


# --- the MIME tree -------------------------------------------------------------------------------------


def _walk(part: Message, state: _State, depth: int) -> None:
    if depth > MAX_DEPTH:
        state.warn(f"parts nested deeper than {MAX_DEPTH} levels were skipped")
        return
    _note_defects(part, state)
    ctype = _content_type(part)
    if ctype == "message/delivery-status":
        if state.in_report:
            state.status_parts.append(part)
        return
    if ctype == "text/rfc822-headers" and state.in_report:
        state.original_headers.append(part)
        return
    if ctype in {"message/rfc822", "message/global"}:
        _attach_message(part, state)
        return
    if part.is_multipart():
        children = [p for p in part.get_payload() if isinstance(p, Message)]
        if ctype == "multipart/alternative":
            _alternative(children, state, depth)
        else:
            if ctype == "multipart/report":
                state.reports.append(part)
                state = replace(state, in_report=True)
            for child in children:
                _walk(child, state, depth + 1)
        _recover_epilogue(part, state, depth)
        return
    if ctype.startswith("multipart/"):
        return  # a multipart whose boundary never appeared: the defect is already a warning
    _leaf(part, ctype, state)


def _note_defects(part: Message, state: _State) -> None:
    for defect in part.defects:
        state.warn(DEFECTS.get(type(defect), f"MIME defect: {defect.__class__.__name__}"))


def _alternative(children: list[Message], state: _State, depth: int) -> None:
    """Alternatives say the same thing: keep the last (richest) plain and the last HTML, not all of them."""
    plain: list[str] = []
    html: list[str] = []
    for child in children:
        fork = replace(state, plain=[], html=[])
        _walk(child, fork, depth + 1)
        plain = fork.plain if any(t.strip() for t in fork.plain) else plain
        html = fork.html if any(h.strip() for h in fork.html) else html
    state.plain.extend(plain)
    state.html.extend(html)


def _recover_epilogue(part: Message, state: _State, depth: int) -> None:
    """An inner multipart that reuses its parent's boundary ends the parent early; the rest lands in the
    epilogue, so re-read it as more parts of the parent (Outlook Express for Mac did this)."""
    epilogue = part.epilogue
    boundary = part.get_boundary()
    if not epilogue or not boundary or f"--{boundary}" not in epilogue or '"' in boundary:
        return
    head = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'.encode("ascii", "replace")
    extra = BytesParser(policy=policy.default).parsebytes(head + epilogue.encode("utf-8", "surrogateescape"))
    if not extra.is_multipart():
        return
    state.warn("an inner multipart reused its parent's boundary; the parts after it were recovered")
    for child in extra.get_payload():
        if isinstance(child, Message):
            _walk(child, state, depth + 1)


def _leaf(part: Message, ctype: str, state: _State) -> None:
    disposition = _safely(part.get_content_disposition)
    filename = _safely(part.get_filename)
    data = _payload(part, state)
    _note_defects(part, state)  # decoding a payload records its base64 defects only now
    if ctype in {"text/plain", "text/html"} and disposition != "attachment" and not filename:
        text = _decode(data, _safely(part.get_content_charset), state)
        (state.plain if ctype == "text/plain" else state.html).append(text)
        if state.in_report:
            state.report_text.append(text)
        return
    content_id = _message_id(_raw_header(part, "content-id"))
    inline = disposition == "inline" or (content_id is not None and disposition != "attachment")
    _add_attachment(state, filename, ctype, data, content_id=content_id, inline=inline)


def _attach_message(part: Message, state: _State) -> None:
    """A forwarded or bounced message is kept whole, as an .eml named after its subject."""
    inner = part.get_payload(0) if part.is_multipart() else None
    if isinstance(inner, Message):
        data = _message_bytes(inner)
    else:
        data = _payload(part, state)
        inner = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
    if state.in_report:
        state.original_headers.append(inner)
    base = _safe_name(_one_line(_header(inner, "subject") or ""), 0, "", path=False)
    name = f"{base}.eml" if base else None
    _add_attachment(state, name, "message/rfc822", data, content_id=None, inline=False)


def _message_bytes(inner: Message) -> bytes:
    out = io.BytesIO()
    try:
        verbatim = policy.default.clone(refold_source="none")  # headers exactly as they arrived
        BytesGenerator(out, mangle_from_=False, policy=verbatim).flatten(cast(EmailMessage, inner))
        return out.getvalue()
    except Exception:
        return inner.as_string().encode("utf-8", "surrogateescape")


def _add_attachment(
    state: _State, filename: str | None, ctype: str, data: bytes, *, content_id: str | None, inline: bool
) -> None:
    state.counter[0] += 1
    name = _safe_name(filename or "", state.counter[0], ctype, path=True)
    if len(data) > state.limit:
        state.warn(f"attachment {name!r} dropped: {len(data)} bytes is over the {state.limit}-byte limit")
        return
    name = _unique(name, state.names)
    state.attachments.append(
        ParsedAttachment(
            filename=name,
            content_type=ctype,
            size=len(data),
            content_id=content_id,
            inline=inline,
            data=data,
        )
    )


def _safe_name(name: str, number: int, ctype: str, *, path: bool) -> str:
    """No directories, no control or bidi characters, at most MAX_FILENAME characters, never empty."""
    if "=?" in name:
        name = _decode_words(name)
    name = _fix_surrogates(name)
    name = re.split(r"[/\\]", name)[-1] if path else re.sub(r"[/\\]", "_", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"})
    name = " ".join(name.split()).lstrip(".").strip()
    if not name:
        return f"attachment-{number}{EXTENSIONS.get(ctype, '')}" if number else ""
    return _fit(name, MAX_FILENAME - (4 if not path else 0))


def _fit(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and 0 < len(ext) <= 16 and stem:
        return f"{stem[: limit - len(ext) - 1].rstrip()}.{ext}"
    return name[:limit]


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        suffix = f" ({number})" + (f".{ext}" if ext else "")
        candidate = stem[: MAX_FILENAME - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


# --- decoding ------------------------------------------------------------------------------------------


def _payload(part: Message, state: _State) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        state.warn("a part's transfer encoding could not be decoded; it was kept as is")
        data = str(part.get_payload()).encode("utf-8", "surrogateescape")
    return data if isinstance(data, bytes) else b""


def _decode(data: bytes, charset: str | None, state: _State) -> str:
    """Text in the declared charset; a wrong or unknown one falls back to UTF-8, then to windows-1252."""
    label = (charset or "").strip().strip("\"'").lower()
    codec = CHARSET_ALIASES.get(label, label)
    if codec:
        with contextlib.suppress(Exception):  # a wrong label; hostile bytes make some CJK codecs raise oddly
            return data.decode(codec)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    else:
        if codec and codec != "utf-8":
            state.warn(f"text declared as {label!r} was UTF-8")
        return text
    if not codec:
        state.warn(f"text without a known charset ({label or 'none'}) was read as windows-1252")
        return data.decode("cp1252", "replace")
    try:
        codecs.lookup(codec)
        text = data.decode(codec, "replace")
        state.warn(f"undecodable bytes in {label!r} text were replaced")
        return text
    except Exception:
        state.warn(f"unknown charset {label!r}; the text was read as windows-1252")
        return data.decode("cp1252", "replace")


def _fix_surrogates(value: str) -> str:
    """Undecoded 8-bit header bytes arrive as surrogates: read them as UTF-8, else byte by byte."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return "".join(chr(ord(ch) - 0xDC00) if "\udc80" <= ch <= "\udcff" else ch for ch in value)


def _clean_text(value: str) -> str:
    """Bodies as the database and browsers want them: \\n line ends, no NUL, no lone surrogates."""
    value = _fix_surrogates(value).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return value.encode("utf-8", "replace").decode("utf-8")


def _one_line(value: str) -> str:
    value = _clean_text(value)
    return " ".join("".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value).split())


def _decode_words(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def _safely(getter: Callable[[], object]) -> str | None:
    """Header-derived getters can raise on malformed parameters; a missing value is the safe answer."""
    try:
        value = getter()
    except Exception:
        return None
    return value if isinstance(value, str) else None


# --- headers -------------------------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def _source(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name:
            return re.sub(r"\r?\n(?=[ \t])", "", str(value))
    return None


def _raw_header(msg: Message, name: str) -> str | None:
    """The unfolded source text of a header, without the registry's parsing (which can raise)."""
    value = _source(msg, name)
    return None if value is None else _fix_surrogates(value)


def _header(msg: Message, name: str) -> str | None:
    """A header with its encoded words decoded; raw 8-bit text (against the RFC, but common) read as UTF-8."""
    source = _source(msg, name)
    if source is None:
        return None
    if any("\udc80" <= ch <= "\udcff" for ch in source):
        fixed = _fix_surrogates(source)
        try:
            return str(policy.default.header_factory(name, fixed))
        except Exception:
            return fixed
    try:
        value = msg.get(name)
        return _fix_surrogates(str(value)) if value is not None else None
    except Exception:
        return _decode_words(source)


def _addresses(msg: Message, name: str, state: _State) -> list[tuple[str, str]]:
    """(display name, lower-cased addr-spec) pairs; anything without an @ is not an address we can use."""
    found: list[tuple[str, str]] = []
    try:
        for header in msg.get_all(name) or []:
            for address in getattr(header, "addresses", ()):
                found.append((address.display_name, address.addr_spec))
    except Exception:
        found = []
    raws = [_decode_words(v) for k, v in msg.raw_items() if k.lower() == name]
    comments = getaddresses([_fix_surrogates(str(v)) for v in raws])
    if not found:
        found = comments
    names = {addr.lower(): display for display, addr in comments}
    out = []
    for display, addr in found:
        addr = _one_line(addr).lower()
        if "@" not in addr or " " in addr:
            continue
        out.append((_one_line(display or names.get(addr, "")), addr))
    if name == "from" and raws and not out:
        state.warn("the From address could not be read")
    return out


def _message_id(value: str | None) -> str | None:
    """A Message-ID without its angle brackets, as threading compares them."""
    if not value:
        return None
    found = re.search(r"<([^<>]+)>", value)
    ident = found.group(1) if found else (value.split() or [""])[0]
    ident = "".join(ch for ch in ident if not ch.isspace() and unicodedata.category(ch) != "Cc").strip("<>")
    return ident[:995] or None


def _references(value: str | None, state: _State) -> tuple[str, ...]:
    if not value:
        return ()
    tokens = re.findall(r"<[^<>]+>", value) or value.split()
    ids = list(dict.fromkeys(i for i in (_message_id(t) for t in tokens) if i))
    if len(ids) > MAX_REFERENCES:
        state.warn(f"References had {len(ids)} ids; kept the first and the last {MAX_REFERENCES - 1}")
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return tuple(ids)


def _date(value: str | None, state: _State) -> datetime | None:
    if not value or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000": the sender's zone is unknown, the time is UTC
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except Exception:
        state.warn(f"invalid date {_one_line(value)[:80]!r}")
        return None


def _auto_submitted(msg: Message, subject: str) -> bool:
    """Auto-replies must not reopen a conversation or trigger one of ours: headers first, then subjects."""
    auto = (_raw_header(msg, "auto-submitted") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return True
    if (_raw_header(msg, "precedence") or "").strip().lower() in {"bulk", "junk", "list", "auto_reply"}:
        return True
    for name in ("x-autoreply", "x-autorespond"):
        value = _raw_header(msg, name)
        if value is not None and value.strip().lower() not in {"no", "false", "0"}:
            return True
    return bool(AUTO_SUBJECT.match(subject))


# --- delivery status notifications (RFC 3464) ----------------------------------------------------------


def _bounce(state: _State) -> BounceInfo | None:
    """Only failures and delays are bounces; a "delivered" report changes nothing about our message."""
    recipients = [r for part in state.status_parts for r in _status_blocks(part, state)]
    if not recipients:
        return None
    permanent = any(r.action == "failed" or r.status.startswith("5.") for r in recipients)
    delayed = not permanent and any(r.action == "delayed" or r.status.startswith("4.") for r in recipients)
    if not (permanent or delayed):
        return None
    return BounceInfo(
        original_message_id=_original_id(state),
        recipients=tuple(recipients),
        permanent=permanent,
        delayed=delayed,
    )


def _status_blocks(part: Message, state: _State) -> list[BounceRecipient]:
    if part.is_multipart():
        blocks = [b for b in part.get_payload() if isinstance(b, Message)]
    else:
        text = _decode(_payload(part, state), "utf-8", state)
        blocks = [
            Parser(policy=policy.default).parsestr(b.strip() + "\n", headersonly=True)
            for b in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n"))
            if b.strip()
        ]
    out = []
    for block in blocks:
        final = _raw_header(block, "final-recipient")
        if not final:
            continue
        status = STATUS_CODE.search(_raw_header(block, "status") or "")
        original = _raw_header(block, "original-recipient")
        diagnostic = _raw_header(block, "diagnostic-code")
        out.append(
            BounceRecipient(
                final_recipient=_dsn_address(final),
                original_recipient=_dsn_address(original) if original else None,
                action=_one_line(_raw_header(block, "action") or "").lower(),
                status=status.group(0) if status else "",
                diagnostic=_one_line(diagnostic)[:500] if diagnostic else None,
            )
        )
    return out


def _dsn_address(value: str) -> str:
    """ "rfc822; jane@example.com" → "jane@example.com"."""
    return _one_line(value.split(";", 1)[-1]).strip("<>").lower()


def _original_id(state: _State) -> str | None:
    """Our Message-ID from the returned message or its headers, else from the human-readable report."""
    for original in state.original_headers:
        if _content_type(original) == "text/rfc822-headers":
            data = original.get_payload(decode=True)
            original = BytesParser(policy=policy.default).parsebytes(
                data if isinstance(data, bytes) else b"", headersonly=True
            )
        found = _message_id(_raw_header(original, "message-id"))
        if found:
            return found
    for text in state.report_text:
        match = re.search(r"^\s*message-id:\s*(<[^<>\s]+>)", text, re.IGNORECASE | re.MULTILINE)
        if match:
            return _message_id(match.group(1))
    return None
