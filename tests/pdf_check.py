"""Reading back the PDFs we write, independently of the writer: the header, the cross-reference table
(every offset lands on its object), the page tree, the text shown on each page and the images."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

_OBJ = re.compile(rb"(\d+) 0 obj\n(.*?)\nendobj\n", re.S)
_STREAM = re.compile(rb"^(<<.*?>>)\nstream\n(.*)\nendstream$", re.S)
_TJ = re.compile(rb"\((?:\\.|[^\\)])*\) Tj", re.S)


@dataclass
class ParsedPdf:
    objects: dict[int, bytes]
    page_ids: list[int]
    page_texts: list[list[str]] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(line for page in self.page_texts for line in page)


def _unescape(literal: bytes) -> str:
    out, i = bytearray(), 0
    while i < len(literal):
        if literal[i : i + 1] == b"\\":
            out += literal[i + 1 : i + 2]
            i += 2
        else:
            out += literal[i : i + 1]
            i += 1
    return out.decode("cp1252")


def stream_of(body: bytes) -> tuple[bytes, bytes]:
    """(the stream's dictionary, its bytes after the declared filter)."""
    found = _STREAM.match(body)
    assert found, "a stream object"
    head, data = found.group(1), found.group(2)
    length = int(re.search(rb"/Length (\d+)", head).group(1))  # type: ignore[union-attr]
    assert len(data) == length, "the declared /Length is the stream's"
    if b"/FlateDecode" in head and b"/Subtype /Image" not in head:
        data = zlib.decompress(data)
    return head, data


def parse(pdf: bytes) -> ParsedPdf:
    assert pdf.startswith(b"%PDF-1."), "the PDF header"
    assert pdf.rstrip().endswith(b"%%EOF")
    startxref = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[startxref : startxref + 4] == b"xref", "startxref points at the table"
    lines = pdf[startxref:].split(b"\n")
    first, count = map(int, lines[1].split())
    assert first == 0
    entries = lines[2 : 2 + count]
    assert entries[0] == b"0000000000 65535 f "
    objects = {number: body for number, body in ((int(m.group(1)), m.group(2)) for m in _OBJ.finditer(pdf))}
    for number, entry in enumerate(entries[1:], 1):
        assert len(entry) == 19 and entry.endswith(b" n "), "a 20-byte entry in use"
        offset = int(entry[:10])
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number), f"object {number} sits at its offset"
    assert set(objects) == set(range(1, count)), "every object listed, none more"
    trailer = pdf[startxref:].split(b"trailer", 1)[1]
    assert re.search(rb"/Size %d\b" % count, trailer)
    root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))  # type: ignore[union-attr]
    pages = int(re.search(rb"/Pages (\d+) 0 R", objects[root]).group(1))  # type: ignore[union-attr]
    tree = objects[pages]
    kids = [int(k) for k in re.findall(rb"(\d+) 0 R", re.search(rb"/Kids \[(.*?)\]", tree).group(1))]  # type: ignore[union-attr]
    assert int(re.search(rb"/Count (\d+)", tree).group(1)) == len(kids)  # type: ignore[union-attr]
    assert len([b for b in objects.values() if b.startswith(b"<</Type /Page ")]) == len(kids)
    parsed = ParsedPdf(objects, kids)
    for kid in kids:
        content = int(re.search(rb"/Contents (\d+) 0 R", objects[kid]).group(1))  # type: ignore[union-attr]
        _, ops = stream_of(objects[content])
        parsed.page_texts.append([_unescape(m.group(0)[1:-4]) for m in _TJ.finditer(ops)])
    return parsed


def images(parsed: ParsedPdf) -> list[bytes]:
    """The image XObjects' dictionaries (their soft masks included)."""
    return [b for b in parsed.objects.values() if b"/Subtype /Image" in b.split(b"stream", 1)[0]]
