"""The completed form's PDF: the writer's pieces on their own (glyph widths, wrapping, PNG pixels kept
exactly, alpha split off as a soft mask), and end to end: made at completion, stored, served to staff
of the form's location only, every fetch audited, linked from the completed card."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from comms.form_models import FormRequest
from comms.form_pdf import CompletedForm, FormFile, render
from comms.media import path_for
from comms.models import AuditEntry
from comms.pdf_writer import picture, png_image, text_width, wrap
from schemas.forms import FormDefinition
from tests.carrier import Carrier, start_pair
from tests.forms_rig import INTAKE, JPEG, link_of, png, published_template
from tests.pdf_check import images, parse, stream_of
from tests.voice import open_desk
from web.keys import SERVICES


def test_text_is_measured_with_helveticas_own_widths_and_wrapped_within_the_width() -> None:
    assert text_width("Hello", "F1", 1000) == 722 + 556 + 222 + 222 + 556
    assert text_width("Hello", "F2", 1000) == 722 + 556 + 278 + 278 + 611
    assert text_width("é", "F1", 10) == text_width("e", "F1", 10)
    text = "Allergic to penicillin since childhood; " * 8 + "x" * 200
    lines = wrap(text, "F1", 10, 200)
    assert all(text_width(line, "F1", 10) <= 200 for line in lines)
    assert " ".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost, only broken
    assert wrap("one\ntwo", "F1", 10, 500) == ["one", "two"]


def _filter(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    """PNG's row filters, as the PNG specification defines them (the test's reference)."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prior[i]
        c = prior[i - bpp] if i >= bpp else 0
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = a
        elif kind == 2:
            pred = b
        elif kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        out.append((x - pred) % 256)
    return bytes(out)


def _unfilter(data: bytes, width: int, height: int, bpp: int) -> list[bytes]:
    rows, prior, stride = [], bytes(width * bpp), width * bpp
    for y in range(height):
        kind, line = data[y * (stride + 1)], bytearray(data[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            if kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            else:
                pred = (0, a, b, (a + b) // 2)[kind]
            line[i] = (line[i] + pred) % 256
        rows.append(bytes(line))
        prior = bytes(line)
    return rows


def _rgba_png(width: int, height: int) -> tuple[bytes, list[bytes]]:
    """An RGBA PNG whose rows use every filter type in turn; and its pixel rows."""
    pixels = [
        bytes(
            ((x * 37 + y * 11) % 256, (x * y) % 256, (255 - x * 5) % 256, (x * 60) % 256)[c]
            for x in range(width)
            for c in range(4)
        )
        for y in range(height)
    ]
    raw, prior = bytearray(), bytes(width * 4)
    for y, row in enumerate(pixels):
        raw += bytes([y % 5]) + _filter(y % 5, row, prior, 4)
        prior = row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )
    return data, pixels


def test_a_signatures_alpha_goes_into_a_soft_mask_and_every_pixel_stays_exact() -> None:
    width, height = 9, 10  # two rows of each filter type
    data, pixels = _rgba_png(width, height)
    image = png_image(data)
    assert image is not None and image.mask is not None
    assert b"/Predictor 15 /Colors 3 /BitsPerComponent 8 /Columns 9" in image.entries
    assert b"/Colors 1" in image.mask.entries
    color = _unfilter(zlib.decompress(image.data), width, height, 3)
    alpha = _unfilter(zlib.decompress(image.mask.data), width, height, 1)
    for y in range(height):
        assert color[y] == bytes(b for x in range(width) for b in pixels[y][x * 4 : x * 4 + 3])
        assert alpha[y] == pixels[y][3::4]


def test_an_rgb_png_goes_in_as_it_is_and_what_cannot_be_drawn_is_refused() -> None:
    small = png()
    image = png_image(small)
    assert image is not None and image.mask is None and b"/Colors 3" in image.entries
    assert image.data == zlib.compress(b"".join(b"\x00" + b"\x00\x00\x00" * 4 for _ in range(2)))
    assert picture(JPEG) is None  # no frame header: not a picture we can place
    assert picture(b"%PDF-1.4 not a picture") is None
    assert picture(small[:40]) is None  # cut short
    interlaced = bytearray(small)
    interlaced[8 + 8 + 12] = 1  # IHDR's interlace byte
    assert png_image(bytes(interlaced)) is None
    huge = bytearray(_rgba_png(2, 2)[0])
    huge[16:24] = struct.pack(">II", 6000, 6000)  # claims 36 megapixels: named, never inflated
    assert png_image(bytes(huge)) is None
    short = bytearray(_rgba_png(2, 2)[0])
    short[16:24] = struct.pack(">II", 200, 200)  # claims more rows than its data holds
    assert png_image(bytes(short)) is None


def _jpeg(width: int, height: int) -> bytes:
    """A JPEG's markers up to its frame header (all the writer reads)."""
    sof = (
        b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof + b"\xff\xd9"


def _definition() -> FormDefinition:
    return FormDefinition.model_validate(INTAKE)


def test_a_completed_form_renders_to_a_pdf_with_its_answers_pictures_and_pages() -> None:
    signature, _ = _rgba_png(60, 20)
    card = _jpeg(320, 200)
    notes = "Peanuts (severe) \\ latex; " * 120  # long enough to need more pages
    definition = _definition()
    definition.sections[0].fields[0].help = None
    form = CompletedForm(
        title="New patient intake",
        patient="Zoë Ng",
        location="North",
        version=3,
        request_id=41,
        completed_at=dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC),
        definition=definition,
        answers={
            "first": "Zoë",
            "last": notes,
            "dob": "1990-04-23",
            "insured": True,
            "carrier": "Delta",
            "card": 1,
            "agree": True,
            "sign": 2,
        },
        files={
            "card": FormFile("image/jpeg", len(card), card),
            "sign": FormFile("image/png", len(signature), signature),
        },
    )
    pdf = render(form)
    assert render(form) == pdf  # the same form, the same bytes
    parsed = parse(pdf)
    assert len(parsed.page_ids) >= 2
    text = parsed.text()
    for expected in (
        "New patient intake",
        "Zoë Ng · North",
        "1990-04-23",
        "Delta",
        "Yes",
        "Date of birth",
        "Insurance",
        "Page 1 of",
        "Completed December 2, 2026 09:30 UTC",
    ):
        assert expected in text, expected
    assert "Peanuts (severe) \\ latex;" in text  # parentheses and backslashes escaped and read back
    assert all(
        f"Page {n} of {len(parsed.page_ids)}" in "\n".join(page)
        for n, page in enumerate(parsed.page_texts, 1)
    )
    heads = images(parsed)
    assert any(b"/DCTDecode" in h and b"/Width 320 /Height 200" in h for h in heads)
    assert any(b"/SMask" in h and b"/Width 60 /Height 20" in h for h in heads)
    assert len(heads) == 3  # the card, the signature and its mask
    streams = [stream_of(body) for body in parsed.objects.values() if b"\nstream\n" in body]
    assert len(streams) == len(parsed.page_ids) + 3  # every stream's /Length is right (stream_of checks)


def test_an_upload_that_is_not_a_picture_is_named_in_the_pdf() -> None:
    form = CompletedForm(
        title="Intake",
        patient="Ana Ng",
        location="North",
        version=1,
        request_id=1,
        completed_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC),
        definition=_definition(),
        answers={"card": 1, "sign": 2},
        files={"card": FormFile("application/pdf", 3000, None), "sign": FormFile("image/png", 10, b"broken")},
    )
    text = parse(render(form)).text()
    assert "application/pdf file (3 KB), kept with the form" in text
    assert "Signature (1 KB), kept with the form" in text


@pytest.fixture
async def carrier(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Carrier]:
    yield await start_pair(db_settings, aiohttp_server, tmp_path)


async def test_the_pdf_is_made_at_completion_stored_and_served_to_staff_only_each_view_audited(
    carrier: Carrier,
) -> None:
    base, services = carrier.base, carrier.app[SERVICES]
    admin = await open_desk(base, carrier.practice.admin, on_duty=False)
    staff = await open_desk(base, carrier.practice.staff_a, on_duty=False)
    other = await open_desk(base, carrier.practice.staff_b, on_duty=False)
    try:
        template = await published_template(admin, base)
        out = await staff.api(
            "POST",
            f"{base}/api/v1/conversations/{carrier.practice.conv_a}/form-requests",
            {"template_id": template["id"]},
        )
        link = await link_of(carrier, out["id"])
        pdf_url = f"{base}/api/v1/form-requests/{out['id']}/pdf"
        async with staff.http.get(pdf_url) as r:
            assert r.status == 404  # not completed: no PDF yet
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{link}/uploads/sign", data=png(30, 10)) as r:
                sign = (await r.json())["upload_id"]
            answers = {
                "first": "Ana",
                "last": "Ng",
                "dob": "1990-04-23",
                "agree": True,
                "sign": sign,
                "mail": "ana@example.com",
            }
            async with http.post(f"{link}/submit", json={"answers": answers}) as r:
                assert r.status == 200, await r.text()
        card = await staff.event(
            lambda e: (
                e.get("type") == "timeline.item_updated"
                and e["item"]["kind"] == "form"
                and e["item"]["status"] == "completed"
            )
        )
        assert card["item"]["meta"]["pdf"] is True
        async with staff.http.get(pdf_url) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/pdf"
            assert r.headers["Cache-Control"] == "private, no-store"
            body = await r.read()
        parsed = parse(body)
        text = parsed.text()
        assert "Ana Ng · North" in text and "1990-04-23" in text and "ana@example.com" in text
        assert any(b"/SMask" in h or b"/Width 30 /Height 10" in h for h in images(parsed))
        async with services.read() as s:
            row = await s.get(FormRequest, out["id"])
            assert row is not None and row.pdf_sha256 is not None and row.pdf_size == len(body)
            assert path_for(services.settings.storage.media_dir, row.pdf_sha256).read_bytes() == body
        async with other.http.get(pdf_url) as r:
            assert r.status == 404  # another location's staff
        async with aiohttp.ClientSession() as anonymous, anonymous.get(pdf_url) as r:
            assert r.status == 401
        async with staff.http.get(pdf_url) as r:
            assert r.status == 200
        async with services.read() as s:
            views = list(await s.scalars(select(AuditEntry).where(AuditEntry.record_type == "form_pdf")))
        assert [(v.action, v.record_id, v.actor_id is not None) for v in views] == [
            ("view", str(out["id"]), True)
        ] * 2
        # "Who looked at this patient's records" names the PDF views, with the patient.
        report = await admin.api("GET", f"{base}/api/v1/audit?patient_id={out['contact_id']}")
        pdf_rows = [r for r in report["entries"] if r["record_type"] == "form_pdf"]
        assert [(r["action"], r["patient_id"]) for r in pdf_rows] == [("view", out["contact_id"])] * 2
    finally:
        for desk in (admin, staff, other):
            await desk.close()


def test_a_long_word_is_broken_in_one_pass_over_its_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """A patient's 2,000-character answer with no space once took seconds of the submission to wrap."""
    import comms.pdf_writer as writer

    calls = 0
    measure = writer.char_width

    def counted(ch: str, font: str) -> int:
        nonlocal calls
        calls += 1
        return measure(ch, font)

    monkeypatch.setattr(writer, "char_width", counted)
    word = "W" * 2000
    lines = wrap(word, "F1", 10, 504)
    assert "".join(lines) == word
    assert all(text_width(line, "F1", 10) <= 504 for line in lines)
    assert len(lines) > 10
    assert calls < 50 * len(word)  # linear, not one measurement of every prefix


def test_a_png_with_alpha_is_inflated_only_up_to_a_signature_or_screenshot_size() -> None:
    """12 megapixels of blank RGBA is a 47 KB upload that inflated to 48 MB (and 350 MB at 30 MP)."""
    width, height = 4000, 3000

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 4)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    assert len(bomb) < 100_000
    assert png_image(bomb) is None  # named in the PDF, never inflated
    assert png_image(_rgba_png(600, 200)[0]) is not None  # a signature pad's picture still draws
