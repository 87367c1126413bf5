"""E-mail in and out, the pure part: real and crafted messages parsed, HTML made safe, quotes, replies."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default as default_policy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comms import email_parse
from comms.email_build import OutgoingAttachment, build_email, reply_subject, thread_references
from comms.email_html import TAGS, html_to_text, sanitize_html
from comms.email_parse import parse_email
from comms.email_quotes import split_quoted
from schemas.email import ParsedAttachment, ParsedEmail
from tests.conftest import testdata as shared_file

OWN = Path(__file__).parent / "data" / "email"
CORPUS = [
    "msg_02.txt",
    "msg_06.txt",
    "msg_08.txt",
    "msg_09.txt",
    "msg_10.txt",
    "msg_12.txt",
    "msg_12a.txt",
    "msg_15.txt",
    "msg_16.txt",
    "msg_35.txt",
    "msg_44.txt",
    "msg_47.txt",
    "msg_48.txt",
]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def corpus(name: str) -> ParsedEmail:
    return parse_email((shared_file("email") / name).read_bytes())


def own(name: str) -> ParsedEmail:
    return parse_email((OWN / name).read_bytes())


def names(parsed: ParsedEmail) -> list[str]:
    return [a.filename for a in parsed.attachments]


def assert_storable(parsed: ParsedEmail) -> None:
    """What the store needs of every parse: UTF-8-encodable strings without NUL (PostgreSQL refuses both)."""
    for value in (
        parsed.text,
        parsed.subject,
        parsed.html or "",
        parsed.from_name or "",
        *parsed.warnings,
        *names(parsed),
    ):
        assert "\x00" not in value
        value.encode("utf-8")


# --- the shared corpus (CPython's tricky messages) ------------------------------------------------------


def test_corpus_is_complete_and_every_message_parses_structurally() -> None:
    folder = shared_file("email")
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("msg_")) == sorted(CORPUS)
    for name in CORPUS:
        parsed = corpus(name)
        assert not any("stored raw" in w for w in parsed.warnings), name
        assert parsed.raw_size == (folder / name).stat().st_size
        assert parsed.from_address and "@" in parsed.from_address
        assert_storable(parsed)


def test_msg_02_digest_keeps_each_message_as_a_named_eml() -> None:
    parsed = corpus("msg_02.txt")
    assert parsed.subject == "Ppp digest, Vol 1 #2 - 5 msgs"
    assert parsed.from_address == "ppp-request@zzz.org" and parsed.to == ("ppp@zzz.org",)
    assert parsed.date == datetime(2001, 4, 21, 0, 18, tzinfo=UTC)
    assert names(parsed) == [
        "[Ppp] testing #1.eml",
        "attachment-2.eml",
        "[Ppp] testing #3.eml",
        "[Ppp] testing #4.eml",
        "[Ppp] testing #5.eml",
    ]
    assert {a.content_type for a in parsed.attachments} == {"message/rfc822"}
    assert "Today's Topics:" in parsed.text and "Send Ppp mailing list submissions" in parsed.text
    assert not parsed.auto_submitted  # Precedence: bulk is on the digested messages, not on the digest


def test_msg_06_forwarded_message_is_an_attachment_that_parses_back() -> None:
    parsed = corpus("msg_06.txt")
    assert parsed.message_id == "15265.9482.641338.555352@python.org"
    assert parsed.from_name == "Barry A. Warsaw"  # from the old "addr (Name)" comment form
    assert parsed.subject == "forwarded message from Barry A. Warsaw"
    assert names(parsed) == ["testing.eml"]
    inner = parse_email(parsed.attachments[0].data)
    assert inner.message_id == "15265.9468.713530.98441@python.org" and inner.subject == "testing"


@pytest.mark.parametrize("name", ["msg_08.txt", "msg_09.txt", "msg_12.txt", "msg_12a.txt"])
def test_empty_mixed_charset_parts_give_an_empty_body(name: str) -> None:
    parsed = corpus(name)
    assert parsed.subject == "Lyrics" and parsed.from_name == "Barry Warsaw"
    assert parsed.to == ("cravindogs@cravindogs.com",)
    assert parsed.text == "" and parsed.html is None and parsed.attachments == ()
    assert parsed.warnings == ()


def test_msg_10_every_transfer_encoding_decodes() -> None:
    parsed = corpus("msg_10.txt")
    assert parsed.text.split("\n\n") == [
        "This is a 7bit encoded message.",
        "This is a Base64 encoded message.",
        "This is a Base64 encoded message.",
        "This has no Content-Transfer-Encoding: header.",
    ]
    assert parsed.html == "¡This is a Quoted Printable encoded message!"


def test_msg_15_inner_boundary_equal_to_outer_recovers_the_attachment() -> None:
    parsed = corpus("msg_15.txt")
    assert parsed.message_id == "xxxx" and parsed.subject == "XX"
    assert parsed.text == "Some removed test."
    assert parsed.html == "Some removed text."  # the <title> is not body text
    assert names(parsed) == ["xx.gif"] and parsed.attachments[0].content_type == "image/gif"
    assert any("reused its parent's boundary" in w for w in parsed.warnings)
    assert any("base64" in w for w in parsed.warnings)  # "Some removed base64 encoded chars."
    assert parsed.to == ()  # "To: XX" has no usable address


def test_msg_16_is_a_permanent_bounce_of_the_original_message() -> None:
    parsed = corpus("msg_16.txt")
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "002001c144a6$8752e060$56104586@oxy.edu"
    assert parsed.bounce.permanent and not parsed.bounce.delayed
    [recipient] = parsed.bounce.recipients
    assert recipient.final_recipient == "jangel1@cougar.noc.ucla.edu"
    assert recipient.original_recipient == "jangel1@cougar.noc.ucla.edu"
    assert (recipient.action, recipient.status) == ("failed", "5.0.0")
    assert parsed.auto_submitted
    assert "recipient reached disk quota" in parsed.text
    assert names(parsed) == ["[scr] yeah for Ians!!.eml"]


def test_msg_35_without_header_body_separator_keeps_the_body() -> None:
    parsed = corpus("msg_35.txt")
    assert parsed.subject == "here's something interesting"
    assert parsed.to == ("bperson@dom.ain",)
    assert parsed.text == "counter to RFC 5322, there's no separating newline here"
    assert "missing blank line between headers and body" in parsed.warnings


def test_msg_44_duplicate_attachment_names_are_made_unique() -> None:
    parsed = corpus("msg_44.txt")
    assert names(parsed) == ["msg.txt", "msg (2).txt"]
    assert (
        parsed.attachments[0].data
        == parsed.attachments[1].data
        == (b"a simple kind of mirror\nto reflect upon our own\n")
    )
    assert parsed.text == ""


def test_msg_47_invalid_date_is_none_with_a_warning() -> None:
    parsed = corpus("msg_47.txt")
    assert parsed.date is None
    assert any("invalid date" in w and "27:39:33" in w for w in parsed.warnings)
    assert parsed.from_address == "123@example.com" and parsed.from_name == "123@abuse.net"
    assert parsed.subject == "VIARGA|CIALIS|LEVITRA"
    assert parsed.text == "### PHARRMACY ON1INE 24/7 ###"


def test_msg_48_signed_message_with_long_in_reply_to() -> None:
    parsed = corpus("msg_48.txt")
    # the top-level header, not the one repeated inside the signed part
    assert parsed.in_reply_to == "somelonglonglonglonglongunwrappablemessageidtoreplyto@mail.foo.bar"
    assert parsed.text == "This is the signed contents."
    assert names(parsed) == ["signature.asc"]
    assert parsed.attachments[0].content_type == "application/pgp-signature"


# --- crafted messages (tests/data/email) ---------------------------------------------------------------


def test_iso_2022_jp_body_subject_and_name() -> None:
    parsed = own("iso2022jp.eml")
    assert parsed.subject == "予約の確認" and parsed.from_name == "山田太郎"
    assert parsed.text == "山田様\nご予約は火曜日の午前10時です。"
    assert parsed.date == datetime(2024, 6, 3, 0, 15, tzinfo=UTC)
    assert parsed.warnings == ()


def test_windows_1252_and_mislabelled_latin_1_bodies_and_addresses() -> None:
    parsed = own("windows1252.eml")
    assert parsed.text == "I was charged €120 \u2013 is that right? “Thanks”\n\nCafé receipt says “paid”."
    assert parsed.from_address == "mary.obrien@example.com" and parsed.from_name == "O'Brien, Mary"
    assert parsed.to == ("front@smile.example", "billing@smile.example")
    assert parsed.cc == ("john@example.com",) and parsed.reply_to == ("mary.home@example.com",)


def test_koi8_r_base64_body_and_subject() -> None:
    parsed = own("koi8r.eml")
    assert parsed.subject == "Перенос приёма"
    assert parsed.text == "Здравствуйте! Можно перенести приём на среду?"


def test_encoded_word_subject_with_emoji_folded_over_two_words() -> None:
    parsed = own("emoji_subject.eml")
    assert parsed.subject == "Cleaning done 🦷✨ thank you 🙏"
    assert parsed.from_name == "José 🦷 Núñez"
    assert parsed.text == "Great visit 😀"
    assert parsed.date == datetime(2024, 6, 7, 1, 30, tzinfo=UTC)


def test_unknown_charset_never_raises_and_warns() -> None:
    parsed = own("unknown_charset.eml")
    assert parsed.text.startswith("Caf") and "raw bytes with a NUL" in parsed.text
    assert any("x-klingon" in w for w in parsed.warnings)
    assert_storable(parsed)


def test_html_only_mail_is_sanitized_and_gets_a_text_version() -> None:
    parsed = own("html_only.eml")
    html = parsed.html or ""
    for bad in (
        "<script",
        "document.cookie",
        "onerror",
        "onload",
        "javascript:",
        "track.example",
        "<iframe",
        "frame text",
        "<form",
        "<input",
        "<style",
        "Newsletter",
        "evil.example",
    ):
        assert bad not in html, bad
    assert '<img src="cid:xray@example.com" alt="x-ray">' in html
    link = '<a href="https://portal.example.com/pay" target="_blank" rel="noopener noreferrer">pay online</a>'
    assert link in html
    assert parsed.text == (
        "Hello front desk,\n\nMy x-ray is attached:\n\n"
        "click me or pay online (https://portal.example.com/pay)"
    )


def test_inline_image_rfc2231_filenames_paths_and_duplicates() -> None:
    parsed = own("html_only.eml")
    assert names(parsed) == [
        "attachment-1.png",
        "Befund Müller — Juni.pdf",
        "evil.exe",
        "Befund Müller — Juni (2).pdf",
    ]
    image = parsed.attachments[0]
    assert (image.content_id, image.inline, image.content_type) == ("xray@example.com", True, "image/png")
    assert image.data.startswith(b"\x89PNG") and image.size == len(image.data)
    assert not any(a.inline for a in parsed.attachments[1:])


def test_auto_reply_fixture() -> None:
    parsed = own("auto_reply.eml")
    assert parsed.auto_submitted and parsed.bounce is None
    assert parsed.in_reply_to == "reminder-1@smile.example"


def test_reply_threading_headers_and_quote_folding() -> None:
    parsed = own("reply_quoted.eml")
    assert parsed.message_id == "CAJane-007@mail.example.com"
    assert parsed.in_reply_to == "reminder-1@smile.example"
    assert parsed.references == ("root-0@smile.example", "reminder-1@smile.example")
    assert not parsed.auto_submitted
    new, quoted = split_quoted(parsed.text)
    assert new == "Yes, Tuesday at 10 works for me.\n\nJane"
    assert quoted.startswith("On Fri, Jun 7, 2024") and quoted.endswith("> Smile Dental")


def test_delayed_dsn_with_rfc822_headers() -> None:
    parsed = own("dsn_delayed.eml")
    assert parsed.bounce is not None
    assert parsed.bounce.delayed and not parsed.bounce.permanent
    assert parsed.bounce.original_message_id == "179000000000.1.2@smile.example"
    [recipient] = parsed.bounce.recipients
    assert (recipient.final_recipient, recipient.status, recipient.action) == (
        "jane@example.com",
        "4.4.7",
        "delayed",
    )
    assert recipient.diagnostic == "smtp; 451 4.4.7 mailbox temporarily unavailable"


# --- parser edge cases ---------------------------------------------------------------------------------


def message(headers: str, body: bytes = b"hello\n") -> bytes:
    return headers.strip("\n").encode() + b"\n\n" + body


@pytest.mark.parametrize(
    ("headers", "auto"),
    [
        ("Auto-Submitted: auto-generated", True),
        ("Auto-Submitted: no", False),
        ("Precedence: bulk", True),
        ("Precedence: junk", True),
        ("Precedence: first-class", False),
        ("X-Autoreply: yes", True),
        ("X-Autorespond: Out of office", True),
        ("Subject: Out of Office: back Monday", True),
        ("Subject: Automatic reply: Appointment", True),
        ("Subject: Auto: Re: Appointment", True),
        ("Subject: Autumn appointment", False),
        ("Subject: Re: I am out of office next week, can we move it?", False),
    ],
)
def test_auto_reply_detection_is_conservative(headers: str, auto: bool) -> None:
    assert parse_email(message("From: a@example.com\n" + headers)).auto_submitted is auto


def test_oversized_attachment_is_dropped_with_its_size() -> None:
    raw = message(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"',
        b"--b\n\nsee attached\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment;"
        b" filename=scan.pdf\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(b"x" * 5000)
        + b"--b--\n",
    )
    parsed = parse_email(raw, max_attachment_bytes=4096)
    assert parsed.attachments == () and parsed.text == "see attached"
    assert any("scan.pdf" in w and "5000 bytes" in w for w in parsed.warnings)
    assert names(parse_email(raw)) == ["scan.pdf"]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\\\Users\\\\pat\\\\report.pdf", "report.pdf"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),  # right-to-left override hides the real extension
        ("...", "attachment-1"),
        ("." + "a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_attachment_filenames_are_sanitized(filename: str, expected: str) -> None:
    raw = message(
        f"From: a@example.com\nContent-Type: application/octet-stream\n"
        f'Content-Disposition: attachment; filename="{filename}"',
        b"data",
    )
    [attachment] = parse_email(raw).attachments
    assert attachment.filename == expected
    assert len(attachment.filename) <= 200


def test_threading_headers_are_normalized() -> None:
    raw = message(
        "From: a@example.com\nMessage-ID:   <abc@x.example>  \nIn-Reply-To: <p@x> (sent by x)\n"
        "References: <r1@x>\n\t<r2@x> <r1@x>\nDate: Mon, 3 Jun 2024 10:00:00 -0000"
    )
    parsed = parse_email(raw)
    assert (parsed.message_id, parsed.in_reply_to) == ("abc@x.example", "p@x")
    assert parsed.references == ("r1@x", "r2@x")
    assert parsed.date == datetime(2024, 6, 3, 10, 0, tzinfo=UTC)
    assert parse_email(message("From: a@example.com")).message_id is None  # never invented here


def test_raw_8bit_headers_and_html_only_fallback() -> None:
    raw = (
        b"From: J\xc3\xb6rg <J@Example.DE>\nSubject: Caf\xe9 =?utf-8?q?=F0=9F=A6=B7?=\n"
        b"Content-Type: text/html; charset=utf-8\n\n<p>Line&nbsp;one<br>two</p><ul><li>a</li></ul>"
    )
    parsed = parse_email(raw)
    assert (parsed.from_name, parsed.from_address) == ("Jörg", "j@example.de")
    assert parsed.subject == "Café 🦷"
    assert parsed.text == "Line one\ntwo\n\n- a"  # &nbsp; is plain space in text


def test_catastrophic_failure_stores_raw_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: bytes, limit: int) -> ParsedEmail:
        raise RuntimeError("boom")

    monkeypatch.setattr(email_parse, "_parse", broken)
    parsed = parse_email(b"Subject: x\n\nbody \xff\x00")
    assert parsed.text == "Subject: x\n\nbody \ufffd"
    assert parsed.warnings == ("could not parse the message (RuntimeError); stored raw",)


def test_attachment_repr_hides_data_and_schema_refuses_paths() -> None:
    attachment = ParsedAttachment(filename="a.pdf", content_type="application/pdf", size=3, data=b"SECRET")
    assert "SECRET" not in repr(attachment)
    with pytest.raises(ValueError):
        ParsedAttachment(filename="../a.pdf", content_type="x/y", size=0, data=b"")
    with pytest.raises(ValueError):
        ParsedEmail(date=datetime(2024, 1, 1))  # naive


@FUZZ
@given(st.binary(max_size=3000))
def test_parse_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    parsed = parse_email(raw)
    assert parsed.raw_size == len(raw)
    assert_storable(parsed)


@FUZZ
@given(st.binary(max_size=400).map(lambda tail: b"Content-Type: multipart/mixed; boundary=b\n\n--b\n" + tail))
def test_parse_never_raises_on_arbitrary_multipart_bodies(raw: bytes) -> None:
    assert_storable(parse_email(raw))


MUTATION = st.tuples(
    st.sampled_from(["delete", "insert", "replace", "truncate"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=16)
    | st.sampled_from([b"\n", b"\n\n", b"--", b"=?utf-8?b?", b"boundary=", b"\r\n", b"\xff", b";", b'"']),
)


@pytest.fixture(scope="module")
def corpus_bytes() -> list[bytes]:
    folder = shared_file("email")
    return [(folder / name).read_bytes() for name in CORPUS] + [p.read_bytes() for p in sorted(OWN.iterdir())]


@FUZZ
@given(st.integers(0, 1000), st.lists(MUTATION, min_size=1, max_size=6))
def test_parse_never_raises_on_mutated_corpus(
    corpus_bytes: list[bytes], which: int, mutations: list[tuple[str, float, bytes]]
) -> None:
    raw = bytearray(corpus_bytes[which % len(corpus_bytes)])
    for kind, where, chunk in mutations:
        at = int(where * len(raw))
        if kind == "delete":
            del raw[at : at + len(chunk)]
        elif kind == "insert":
            raw[at:at] = chunk
        elif kind == "replace":
            raw[at : at + len(chunk)] = chunk
        else:
            del raw[at:]
    parsed = parse_email(bytes(raw))
    assert not any("stored raw" in w for w in parsed.warnings)
    assert_storable(parsed)


# --- HTML ----------------------------------------------------------------------------------------------


class _Inspect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += [(name, value or "") for name, value in attrs]


def test_naughty_strings_come_out_inert() -> None:
    lines = shared_file("blns.txt").read_text(encoding="utf-8").splitlines()
    for line in (ln for ln in lines if ln and not ln.startswith("#")):
        inspect = _Inspect()
        inspect.feed(sanitize_html(line))
        assert inspect.tags <= TAGS, line
        for name, value in inspect.attrs:
            assert not name.startswith("on"), line
            if name in {"href", "src"}:
                assert value.lower().startswith(("http:", "https:", "mailto:", "tel:", "cid:")), line


def test_sanitize_images_links_and_styles() -> None:
    html = (
        '<p style="color: red; position: fixed; background: url(https://t.example/x.gif)">Hi</p>'
        '<img src="https://t.example/p.gif" alt="Our logo"><img src="http://t.example/q.gif">'
        '<img src="data:image/png;base64,iVBORw0KGgo="><img src="data:image/svg+xml;base64,PHN2Zz4=">'
        '<img src="cid:part1@x"><a href="data:text/html,<script>alert(1)</script>">d</a>'
        '<a href="vbscript:msgbox(1)">v</a><a href="/relative">r</a><a href="tel:+15555550100">call</a>'
    )
    safe = sanitize_html(html)
    assert '<p style="color:red">Hi</p>' in safe
    assert "t.example" not in safe and "[image: Our logo]" in safe
    assert '<img src="data:image/png;base64,iVBORw0KGgo=">' in safe and "svg" not in safe
    assert '<img src="cid:part1@x">' in safe
    assert "data:text" not in safe and "vbscript" not in safe and "/relative" not in safe
    assert 'href="tel:+15555550100"' in safe
    shown = sanitize_html(html, allow_remote_images=True)
    assert '<img src="https://t.example/p.gif" alt="Our logo">' in shown
    assert "background" not in shown


def test_html_to_text_blocks_links_quotes_and_hidden_content() -> None:
    html = (
        "<html><head><title>T</title><style>p {}</style></head><body><h1>Visit</h1>"
        "<p>Bring your <a href='https://ex.com/card'>insurance card</a> &amp; ID.<br>Thanks</p>"
        "<script>x()</script><a href='mailto:front@ex.com'>front@ex.com</a>"
        "<blockquote>old<blockquote>older</blockquote></blockquote><pre>a  b\n c</pre>"
        "<table><tr><td>Mon</td><td>9-5</td></tr></table></body></html>"
    )
    assert html_to_text(html) == (
        "Visit\n\nBring your insurance card (https://ex.com/card) & ID.\nThanks\n\n"
        "front@ex.com\n\n> old\n>\n>> older\n\na  b\n c\n\nMon 9-5"
    )


# --- quotes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Merci !\n\nLe lun. 3 juin 2024 à 10:00, Smile <a@b.c> a écrit :\n> Bonjour", "Merci !"),
        ("Danke\n\nAm 03.06.2024 um 10:00 schrieb Smile Dental <a@b.c>:\n> Hallo", "Danke"),
        ("Gracias\n\nEl lun, 3 jun 2024 a las 10:00, Smile (<a@b.c>) escribió:\n> Hola", "Gracias"),
        ("Yes\n\nOn Mon, Jun 3, 2024 at 10:00 AM Smile <\nfront@smile.example> wrote:\n\n> Tuesday?", "Yes"),
        (
            "Thanks\n-- \nJane Doe\n\n-----Original Message-----\nFrom: Smile\nSent: Monday\nTo: Jane\n"
            "Subject: A\n\nSee you\n-- \nSmile Dental",
            "Thanks\n-- \nJane Doe",
        ),
        (
            "Thanks\n\n________________________________\nFrom: Smile Dental <a@b.c>\n"
            "Sent: Monday, June 3, 2024\nTo: Jane <j@x>\nSubject: Appt\n\nSee you",
            "Thanks",
        ),
        ("Sure thing\n> can you come?\n> at 10\n-- \nJane", "Sure thing\n-- \nJane"),
    ],
)
def test_split_quoted_recognizes_history(text: str, new: str) -> None:
    got_new, quoted = split_quoted(text)
    assert got_new == new
    assert quoted and all(line in text for line in quoted.split("\n"))


@pytest.mark.parametrize(
    "text",
    [
        "Just a message\nwith two lines",
        "> everything is a quote\n> from start to end",
        # an inline (interleaved) reply stays whole
        "On Mon Smile wrote:\n> your question\nMy answer\n> another\nAnother answer",
        "On Monday the doctor wrote: take two pills a day",
        "",
    ],
)
def test_split_quoted_leaves_unclear_text_whole(text: str) -> None:
    assert split_quoted(text) == (text, "")


LINES = st.sampled_from(
    [
        "Hello",
        "",
        "> quoted",
        ">",
        "-- ",
        "Jane",
        "On Mon, Jun 3, Smile <a@b.c> wrote:",
        "-----Original Message-----",
        "From: Smile",
        "Sent: Monday",
        "Subject: x",
        "___________",
        "Thanks!",
    ]
) | st.text(max_size=30).filter(lambda s: "\n" not in s)


@settings(max_examples=200, deadline=None)
@given(st.lists(LINES, max_size=25))
def test_split_quoted_never_loses_a_line(lines: list[str]) -> None:
    text = "\n".join(lines)
    new, quoted = split_quoted(text)
    kept = new.split("\n") + quoted.split("\n")
    for line in lines:
        assert line.strip() == "" or line.rstrip() in kept or line in kept, line


# --- building outbound mail ----------------------------------------------------------------------------

LONG_ID = "somelonglonglonglonglongunwrappablemessageidtoreplyto@mail.foo.bar"


def build(**overrides: object) -> tuple[object, str]:
    arguments: dict[str, object] = {
        "from_addr": "front@smile.example",
        "from_name": "Smile Dental, Downtown",
        "to": ["jane@example.com"],
        "subject": "RE: Re: AW: Your appointment ✅",
        "text": "Hi Jane,\nSee you Tuesday — café.\n",
        "in_reply_to": f"<{LONG_ID}>",
        "references": ["<root@x.example>", LONG_ID],
        "domain": "smile.example",
    }
    arguments.update(overrides)
    return build_email(**arguments)  # type: ignore[arg-type]


def test_build_then_parse_round_trip_keeps_threading() -> None:
    pdf = OutgoingAttachment("../Befund März.pdf", "application/pdf", b"%PDF-1.4 test")
    message, message_id = build_email(
        from_addr="front@smile.example",
        from_name="Smile Dental, Downtown",
        to=["jane@example.com"],
        subject="RE: Re: AW: Your appointment ✅",
        text="Hi Jane,\nSee you Tuesday — café.\n",
        html="<p>Hi <b>Jane</b><script>x()</script></p>",
        in_reply_to=f"<{LONG_ID}>",
        references=["<root@x.example>", LONG_ID],
        attachments=[pdf],
        domain="smile.example",
        date=datetime(2024, 6, 3, 12, 0, tzinfo=UTC),
    )
    raw = message.as_bytes()
    assert f"<{LONG_ID}>".encode() in raw and b"=?utf-8?q?=3C" not in raw  # ids are never encoded words
    assert b"filename*=utf-8''Befund%20M%C3%A4rz.pdf" in raw
    parsed = parse_email(raw)
    assert parsed.message_id == message_id and message_id.endswith("@smile.example")
    assert parsed.in_reply_to == LONG_ID
    assert parsed.references == ("root@x.example", LONG_ID)
    assert parsed.subject == "Re: Your appointment ✅"
    assert (parsed.from_name, parsed.from_address, parsed.to) == (
        "Smile Dental, Downtown",
        "front@smile.example",
        ("jane@example.com",),
    )
    assert parsed.text == "Hi Jane,\nSee you Tuesday — café."
    assert parsed.html == "<p>Hi <b>Jane</b></p>"
    assert parsed.date == datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
    assert [(a.filename, a.data) for a in parsed.attachments] == [("Befund März.pdf", b"%PDF-1.4 test")]
    assert parsed.warnings == ()


def test_build_new_message_without_parent_and_plain_ascii() -> None:
    message, message_id = build_email(
        from_addr="front@smile.example",
        from_name=None,
        to=["a@b.example"],
        subject=" Welcome ",
        text="Hello",
        domain="smile.example",
    )
    assert message["Subject"] == "Welcome" and message["In-Reply-To"] is None
    assert message["References"] is None and message["Content-Transfer-Encoding"] == "7bit"
    assert message["Message-ID"] == f"<{message_id}>"
    parsed = BytesParser(policy=default_policy).parsebytes(message.as_bytes())
    assert parsed["Date"].datetime.tzinfo is not None


def test_reply_subject_and_references_cap() -> None:
    assert reply_subject("RE: Re: AW: Sv: x") == "Re: x"
    assert reply_subject("Your visit") == "Re: Your visit"
    chain = thread_references([f"<r{i}@x>" for i in range(40)], "parent@x")
    assert len(chain) == 20 and chain[:3] == ["r0@x", "r1@x", "r2@x"]
    assert chain[-2:] == ["r39@x", "parent@x"]
    assert thread_references(["parent@x", "a@x"], "parent@x") == ["a@x", "parent@x"]


@pytest.mark.parametrize(
    "field", ["subject", "from_name", "from_addr", "to", "in_reply_to", "references", "domain", "attachment"]
)
@pytest.mark.parametrize("evil", ["\r\nBcc: victim@example.com", "\nBcc: v@x", "\rX: y", "a\u2028b"])
def test_header_injection_is_refused(field: str, evil: str) -> None:
    value = "x@example.com" + evil
    cases: dict[str, dict[str, object]] = {
        "subject": {"subject": "Hi" + evil},
        "from_name": {"from_name": "Smile" + evil},
        "from_addr": {"from_addr": value},
        "to": {"to": [value]},
        "in_reply_to": {"in_reply_to": value},
        "references": {"references": [value]},
        "domain": {"domain": "smile.example" + evil},
        "attachment": {"attachments": [OutgoingAttachment("a.pdf" + evil, "application/pdf", b"x")]},
    }
    with pytest.raises(ValueError):
        build(**cases[field])


@pytest.mark.parametrize(
    "overrides",
    [
        {"to": []},
        {"to": ["not an address"]},
        {"from_addr": "nobody"},
        {"in_reply_to": "no id here"},
        {"domain": "bad domain"},
        {"date": datetime(2024, 1, 1)},
        {"attachments": [OutgoingAttachment("a", "multipart/mixed", b"")]},
    ],
)
def test_build_refuses_bad_input(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build(**overrides)
