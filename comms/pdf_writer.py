"""A small PDF 1.4 writer, with no I/O and no dependency: pages of text in the standard Helvetica fonts
(wrapped by their real glyph widths), lines, and JPEG or PNG pictures. Enough for a completed intake
form; not a general layout engine.

PNG pixels go in as they are: a PDF reader undoes PNG's row filters itself (FlateDecode with the PNG
predictor). A PNG with an alpha channel (the signature pad's) is split into its colour and its alpha
(a soft mask) without decoding: each filter only ever looks at the same channel of other pixels, so
every channel's bytes, taken apart row by row, are still correctly filtered on their own.
"""

from __future__ import annotations

import struct
import unicodedata
import zlib
from dataclasses import dataclass, field

# Advance widths (1/1000 em) of the printable ASCII characters, 32..126, from Adobe's core-font metrics.
_HELVETICA = (
    "278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556 "
    "556 556 278 278 584 584 584 556 1015 667 667 722 722 667 611 778 722 278 500 667 556 833 722 778 "
    "667 778 722 667 611 722 667 944 667 667 611 278 278 278 469 556 333 556 556 500 556 556 278 556 "
    "556 222 222 500 222 833 556 556 556 556 333 500 278 556 500 722 500 500 500 334 260 334 584"
)
_HELVETICA_BOLD = (
    "278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556 "
    "556 556 333 333 584 584 584 611 975 722 722 722 722 667 611 778 722 278 556 722 611 833 722 778 "
    "667 778 722 667 611 722 667 944 667 667 611 333 278 333 584 556 333 556 611 556 611 556 333 611 "
    "611 278 278 556 278 889 611 611 611 611 389 556 333 611 556 778 556 556 500 389 280 389 584"
)
WIDTHS = {
    "F1": [int(w) for w in _HELVETICA.split()],
    "F2": [int(w) for w in _HELVETICA_BOLD.split()],
}
FONTS = {"F1": "Helvetica", "F2": "Helvetica-Bold"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 30_000_000  # a phone camera's photo fits; a picture claiming more is named, not drawn
# A PNG with alpha is inflated here (the others go in as they are): a signature pad's or a screenshot's
# fits; 30 megapixels of RGBA was a 116 KB upload costing 350 MB and seconds inside the submission.
MAX_DECODED_PIXELS = 8_000_000


def char_width(ch: str, font: str) -> int:
    """One character's width; an accented letter is as wide as its base letter, anything else 'n'."""
    table = WIDTHS[font]
    code = ord(ch)
    if 32 <= code <= 126:
        return table[code - 32]
    base = unicodedata.normalize("NFKD", ch)[:1]
    if base and 32 <= ord(base) <= 126:
        return table[ord(base) - 32]
    return table[ord("n") - 32]


def text_width(text: str, font: str, size: float) -> float:
    return sum(char_width(ch, font) for ch in text) * size / 1000


def _fitting(word: str, font: str, size: float, width: float) -> int:
    """How many of the word's first characters fit in `width` (at least one), in one pass: measuring
    every shorter prefix instead took seconds on a 2,000-character answer, inside the submission."""
    total = 0
    for i, ch in enumerate(word):
        total += char_width(ch, font)
        if total * size / 1000 > width:
            return max(1, i)
    return len(word)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """The text as lines no wider than `width` (words kept whole unless one alone is too wide)."""
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, font, size) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            while text_width(word, font, size) > width:  # one long word: break it where it must
                cut = _fitting(word, font, size, width)
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _literal(text: str) -> bytes:
    """A PDF string in WinAnsi (what the fonts are declared in); characters it lacks become '?'."""
    clean = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    data = clean.encode("cp1252", errors="replace")
    return b"(" + data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _num(value: float) -> bytes:
    return (f"{value:.2f}".rstrip("0").rstrip(".") or "0").encode()


@dataclass
class Image:
    """A picture ready to place: its XObject's dictionary and stream, and an optional soft mask."""

    width: int
    height: int
    entries: bytes
    data: bytes
    mask: Image | None = None


def jpeg_image(data: bytes) -> Image | None:
    """A baseline or progressive JPEG as it is (DCTDecode); None when it cannot be placed (CMYK, bad)."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            components = data[i + 9] if i + 9 < len(data) else 0
            space = {1: b"/DeviceGray", 3: b"/DeviceRGB"}.get(components)
            if space is None or not width or not height:
                return None
            entries = b"/ColorSpace " + space + b" /BitsPerComponent 8 /Filter /DCTDecode"
            return Image(width, height, entries, data)
        i += 2 + length
    return None


def _predictor(colors: int, bits: int, width: int) -> bytes:
    return b"/DecodeParms <</Predictor 15 /Colors %d /BitsPerComponent %d /Columns %d>>" % (
        colors,
        bits,
        width,
    )


def png_image(data: bytes) -> Image | None:
    """A non-interlaced PNG (grey, RGB or palette, with or without alpha); None for anything else."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    pos, header, palette, idat = 8, b"", b"", []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            return None
        if kind == b"IHDR":
            header = body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if len(header) != 13 or not idat:
        return None
    width, height, bits, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if interlace or not width or not height or width * height > MAX_PIXELS:
        return None
    stream = b"".join(idat)
    if color in (0, 2) and bits in (1, 2, 4, 8, 16):
        colors = 1 if color == 0 else 3
        space = b"/DeviceGray" if color == 0 else b"/DeviceRGB"
        entries = b"/ColorSpace %s /BitsPerComponent %d /Filter /FlateDecode %s" % (
            space,
            bits,
            _predictor(colors, bits, width),
        )
        return Image(width, height, entries, stream)
    if color == 3 and bits in (1, 2, 4, 8) and palette and len(palette) % 3 == 0:
        space = b"[/Indexed /DeviceRGB %d <%s>]" % (len(palette) // 3 - 1, palette.hex().encode())
        entries = b"/ColorSpace %s /BitsPerComponent %d /Filter /FlateDecode %s" % (
            space,
            bits,
            _predictor(1, bits, width),
        )
        return Image(width, height, entries, stream)
    if color in (4, 6) and bits == 8 and width * height <= MAX_DECODED_PIXELS:
        channels = 2 if color == 4 else 4
        # Never more than the picture's own size: a small file that inflates without end is refused.
        raw = zlib.decompressobj().decompress(stream, (1 + width * channels) * height)
        return _split_alpha(width, height, channels, raw)
    return None


def _split_alpha(width: int, height: int, channels: int, raw: bytes) -> Image | None:
    """Colour and alpha apart, each row keeping its filter byte (see the module's docstring)."""
    stride = 1 + width * channels
    if len(raw) < stride * height:
        return None
    colors = channels - 1
    color_rows, alpha_rows = bytearray(), bytearray()
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        pixels = row[1:]
        color = bytearray(width * colors)
        for c in range(colors):
            color[c::colors] = pixels[c::channels]
        color_rows += row[:1] + color
        alpha_rows += row[:1] + pixels[colors::channels]
    mask = Image(
        width,
        height,
        b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode " + _predictor(1, 8, width),
        zlib.compress(bytes(alpha_rows)),
    )
    space = b"/DeviceGray" if colors == 1 else b"/DeviceRGB"
    entries = b"/ColorSpace %s /BitsPerComponent 8 /Filter /FlateDecode %s" % (
        space,
        _predictor(colors, 8, width),
    )
    return Image(width, height, entries, zlib.compress(bytes(color_rows)), mask)


def picture(data: bytes) -> Image | None:
    """A JPEG or PNG ready to place, or None when it is neither (or cannot be shown)."""
    try:
        if data.startswith(b"\xff\xd8\xff"):
            return jpeg_image(data)
        return png_image(data)
    except (zlib.error, struct.error, IndexError):
        return None


@dataclass
class Page:
    """One page's drawing operations (PDF user space: points, origin at the bottom left)."""

    ops: list[bytes] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)

    def text(
        self, x: float, y: float, text: str, *, font: str = "F1", size: float = 10, gray: float = 0
    ) -> None:
        self.ops.append(
            b"BT %s g /%s %s Tf %s %s Td %s Tj ET"
            % (_num(gray), font.encode(), _num(size), _num(x), _num(y), _literal(text))
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, *, gray: float = 0.6) -> None:
        self.ops.append(
            b"%s G 0.5 w %s %s m %s %s l S" % (_num(gray), _num(x1), _num(y1), _num(x2), _num(y2))
        )

    def image(self, image: Image, x: float, y: float, width: float, height: float) -> None:
        self.images.append(image)
        name = b"/Im%d" % len(self.images)
        self.ops.append(b"q %s 0 0 %s %s %s cm %s Do Q" % (_num(width), _num(height), _num(x), _num(y), name))


class Document:
    """Pages in order; `render` writes the whole file (objects, cross-reference table, trailer)."""

    def __init__(self, width: float = 612, height: float = 792, title: str = "") -> None:
        self.width, self.height, self.title = width, height, title
        self.pages: list[Page] = []

    def add_page(self) -> Page:
        page = Page()
        self.pages.append(page)
        return page

    def render(self) -> bytes:
        objects: list[bytes] = []

        def add(body: bytes) -> int:
            objects.append(body)
            return len(objects)

        def add_stream(entries: bytes, data: bytes) -> int:
            return add(b"<<%s /Length %d>>\nstream\n%s\nendstream" % (entries, len(data), data))

        def add_image(image: Image) -> int:
            mask = b""
            if image.mask is not None:
                mask = b" /SMask %d 0 R" % add_image(image.mask)
            head = b"/Type /XObject /Subtype /Image /Width %d /Height %d %s%s" % (
                image.width,
                image.height,
                image.entries,
                mask,
            )
            return add_stream(head, image.data)

        catalog = add(b"")  # filled in below, once the pages' numbers are known
        pages_id = add(b"")
        fonts = {
            name: add(
                b"<</Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding>>" % base.encode()
            )
            for name, base in FONTS.items()
        }
        font_dict = b" ".join(b"/%s %d 0 R" % (n.encode(), i) for n, i in fonts.items())
        kids = []
        for page in self.pages:
            xobjects = b" ".join(b"/Im%d %d 0 R" % (n, add_image(im)) for n, im in enumerate(page.images, 1))
            content = add_stream(b"/Filter /FlateDecode", zlib.compress(b"\n".join(page.ops)))
            resources = b"<</Font <<%s>> /XObject <<%s>>>>" % (font_dict, xobjects)
            kids.append(
                add(
                    b"<</Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources %s /Contents %d 0 R>>"
                    % (pages_id, _num(self.width), _num(self.height), resources, content)
                )
            )
        objects[catalog - 1] = b"<</Type /Catalog /Pages %d 0 R>>" % pages_id
        refs = b" ".join(b"%d 0 R" % k for k in kids)
        objects[pages_id - 1] = b"<</Type /Pages /Kids [%s] /Count %d>>" % (refs, len(kids))
        info = add(b"<</Producer (Frontdesk) /Title %s>>" % _literal(self.title))
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<</Size %d /Root %d 0 R /Info %d 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (
            len(objects) + 1,
            catalog,
            info,
            xref,
        )
        return bytes(out)
