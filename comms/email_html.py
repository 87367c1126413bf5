"""HTML e-mail made safe to show in the staff UI, and turned into plain text when a sender sent only HTML."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import nh3

TAGS = set(
    (
        "a abbr address b bdi bdo big blockquote br caption center cite code col colgroup dd del dfn div "
        "dl dt em font h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strike "
        "strong sub sup table tbody td tfoot th thead tr tt u ul var wbr"
    ).split()
)
# Removed with everything inside them: active content, and text that is not part of the message body.
DROPPED_WITH_CONTENT = set(
    (
        "script style title iframe frame frameset object embed applet noscript noembed noframes template "
        "textarea select svg math xmp"
    ).split()
)
CELL = {"align", "valign", "width", "height", "colspan", "rowspan", "bgcolor", "nowrap"}
ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "dir", "lang", "style"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "align", "border"},
    "table": {"align", "width", "border", "cellpadding", "cellspacing", "bgcolor"},
    "td": CELL,
    "th": CELL,
    "tr": {"align", "valign", "bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "p": {"align"},
    "div": {"align"},
    **{f"h{level}": {"align"} for level in range(1, 7)},
}
# Layout and typography only: no url()-carrying properties (background, list-style-image, cursor, content)
# and nothing that can lift the mail out of its box (position, z-index).
STYLE_PROPERTIES = set(
    (
        "color background-color font font-family font-size font-style font-weight text-align "
        "text-decoration text-transform text-indent vertical-align line-height letter-spacing white-space "
        "word-break direction width height max-width min-width margin margin-top margin-right "
        "margin-bottom margin-left padding padding-top padding-right padding-bottom padding-left border "
        "border-top border-right border-bottom border-left border-color border-style border-width "
        "border-collapse border-spacing border-radius display list-style-type"
    ).split()
)
LINK_SCHEMES = ("http:", "https:", "mailto:", "tel:")
SAFE_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|jpg|gif)(;[a-z0-9=._+-]*)*,", re.IGNORECASE)
# nh3 serializes every attribute as name="value" with quotes escaped, so this pattern is exact on its output.
IMG_TAG = re.compile(r'<img((?:\s+[^\s=>"/]+="[^"]*")*)\s*/?>')
ALT_ATTR = re.compile(r'\salt="([^"]*)"')


def sanitize_html(html: str, *, allow_remote_images: bool = False) -> str:
    """Only formatting survives: no scripts, handlers, forms, or remote images that report a read."""
    cleaner = nh3.Cleaner(
        tags=TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=_url_filter(allow_remote_images),
        strip_comments=True,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        filter_style_properties=STYLE_PROPERTIES,
        url_relative="deny",
    )
    return IMG_TAG.sub(_image_or_placeholder, cleaner.clean(html))


REMOTE_IMG = re.compile(r'<img\s[^>]*\bsrc="https?:', re.IGNORECASE)


def has_remote_images(html: str) -> bool:
    """Whether the mail shows pictures from the internet, so staff are offered to load them."""
    return bool(REMOTE_IMG.search(sanitize_html(html, allow_remote_images=True)))


def _url_filter(allow_remote_images: bool) -> Callable[[str, str, str], str | None]:
    """nh3 checks schemes globally; this narrows them per attribute (data: and cid: only on images)."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        # nh3 strips (and reports as unraisable) on an exception, so this must never raise.
        lowered = value.strip().lower()
        if attribute == "href":
            return value if lowered.startswith(LINK_SCHEMES) else None
        if attribute != "src":
            return value
        if lowered.startswith("cid:"):
            return value
        if lowered.startswith("data:"):
            return value if SAFE_DATA_IMAGE.match(lowered) else None
        if lowered.startswith(("http:", "https:")):
            return value if allow_remote_images else None
        return None

    return keep


def _image_or_placeholder(match: re.Match[str]) -> str:
    """An image whose source was refused becomes its alt text, so nothing is fetched and nothing is lost."""
    attributes = match.group(1)
    if ' src="' in attributes:
        return match.group(0)
    alt = ALT_ATTR.search(attributes)
    return f"[image: {alt.group(1)}]" if alt and alt.group(1).strip() else ""


BLOCK = set(
    (
        "address article aside blockquote center dd div dl dt fieldset figure footer form h1 h2 h3 h4 h5 "
        "h6 header hr li main nav ol p pre section table tbody tfoot thead tr ul"
    ).split()
)
PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "pre", "hr"}
SKIPPED = DROPPED_WITH_CONTENT | {"head"}
VOID = {"br", "hr", "img", "meta", "link", "input", "col", "wbr", "area", "base", "source"}


class _TextWriter(HTMLParser):
    """Collects lines with their blockquote depth, so quoted history comes out "> "-prefixed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self.line: list[str] = []
        self.line_depth = 0
        self.quote_depth = 0
        self.pre_depth = 0
        self.skip_stack: list[str] = []
        self.links: list[tuple[str | None, list[str]]] = []
        self.blank_pending = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_stack:
            if tag == self.skip_stack[-1] or (tag in SKIPPED and tag not in VOID):
                self.skip_stack.append(tag)
            return
        if tag in SKIPPED:
            self.skip_stack.append(tag)
            return
        if tag == "br":
            self._newline(force=True)
        elif tag in BLOCK:
            self._break(paragraph=tag in PARAGRAPH)
            if tag == "li":
                self._write("- ")
            elif tag == "hr":
                self._write("---")
                self._break(paragraph=True)
        elif tag in {"td", "th"}:
            if self.line:
                self._write(" ")
        if tag == "blockquote":
            self.quote_depth += 1
        elif tag == "pre":
            self.pre_depth += 1
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skip_stack:
            if tag in self.skip_stack:
                while self.skip_stack and self.skip_stack.pop() != tag:
                    pass
            return
        if tag == "a" and self.links:
            href, chunks = self.links.pop()
            text = " ".join("".join(chunks).split())
            if href and text and href.lower().startswith(LINK_SCHEMES) and href not in text:
                shown = href[7:] if href.lower().startswith("mailto:") else href
                if shown != text:
                    self._write(f" ({shown})")
        elif tag in BLOCK:
            self._break(paragraph=tag in PARAGRAPH)
        if tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
        elif tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_stack:
            return
        if self.pre_depth:
            first, *rest = data.split("\n")
            self._write(first)
            if self.links:
                self.links[-1][1].append(data)
            for piece in rest:
                self._newline(force=True)
                self._write(piece)
            return
        text = re.sub(r"\s+", " ", data)
        if not self.line:
            text = text.lstrip()
        elif self.line[-1].endswith(" "):
            text = text.lstrip(" ")
        self._write(text)
        if self.links:
            self.links[-1][1].append(text)

    def _write(self, text: str) -> None:
        if not text:
            return
        if not self.line:
            if self.blank_pending and self.lines and self.lines[-1][1]:
                self.lines.append((min(self.line_depth, self.quote_depth), ""))
            self.blank_pending = False
            self.line_depth = self.quote_depth
        self.line.append(text)

    def _newline(self, *, force: bool) -> None:
        if self.line or force:
            depth = self.line_depth if self.line else self.quote_depth
            self.lines.append((depth, "".join(self.line).rstrip()))
            self.line = []

    def _break(self, *, paragraph: bool) -> None:
        self._newline(force=False)
        if paragraph:
            self.blank_pending = True

    def text(self) -> str:
        self._newline(force=False)
        out = [f"{'>' * d} {line}" if d and line else ">" * d + line for d, line in self.lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML-only mail, for previews, search and the quote splitter."""
    writer = _TextWriter()
    try:
        writer.feed(html)
        writer.close()
    except Exception:  # html.parser is lenient; a surprise must still not lose the message
        return re.sub(r"<[^>]*>", " ", html).strip()
    return writer.text()
