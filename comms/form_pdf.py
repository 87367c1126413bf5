"""A completed intake form as a PDF, made once at completion and kept with the form: the questions of
the version the patient answered, their answers, the card photo and the drawn signature, with the
patient, the office and the time on every page. No I/O here: the caller hands in the upload bytes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from comms.pdf_writer import Document, Image, Page, picture, wrap
from schemas.forms import Answer, FormDefinition, FormField

WIDTH, HEIGHT, MARGIN = 612.0, 792.0, 54.0  # US Letter, 3/4 inch margins
BODY = WIDTH - 2 * MARGIN
BOTTOM = MARGIN + 24  # the footer sits below this
SIGNATURE_BOX = (240.0, 80.0)
PHOTO_BOX = (280.0, 180.0)


@dataclass(frozen=True)
class FormFile:
    """An upload the form keeps for one field: its type, size and (for pictures) its bytes."""

    content_type: str
    size: int
    data: bytes | None


@dataclass(frozen=True)
class CompletedForm:
    title: str
    patient: str
    location: str
    version: int
    request_id: int
    completed_at: dt.datetime
    definition: FormDefinition
    answers: Mapping[str, Answer]
    files: Mapping[str, FormFile]


def answer_text(f: FormField, value: Answer) -> str:
    if value is None or value == "":
        return "—"
    if f.kind == "checkbox":
        return "Yes" if value is True else "No"
    return str(value)


class _Layout:
    """Flows blocks down the pages, starting a new page when the next block does not fit."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.page: Page = doc.add_page()
        self.y = HEIGHT - MARGIN

    def room(self, needed: float) -> None:
        if self.y - needed < BOTTOM:
            self.page = self.doc.add_page()
            self.y = HEIGHT - MARGIN

    def lines(
        self, text: str, *, font: str = "F1", size: float = 10, indent: float = 0, gray: float = 0
    ) -> None:
        leading = size * 1.3
        for line in wrap(text, font, size, BODY - indent):
            self.room(leading)
            self.y -= leading
            self.page.text(MARGIN + indent, self.y + size * 0.25, line, font=font, size=size, gray=gray)

    @staticmethod
    def fit(image: Image, box: tuple[float, float]) -> tuple[float, float]:
        """The picture's size on the page: within the box, a small picture at most 4x its pixels."""
        scale = min(box[0] / image.width, box[1] / image.height, 4.0)
        return image.width * scale, image.height * scale

    def picture(self, image: Image, box: tuple[float, float], indent: float) -> None:
        width, height = self.fit(image, box)
        self.room(height + 6)
        self.y -= height + 4
        self.page.image(image, MARGIN + indent, self.y, width, height)
        self.y -= 2

    def gap(self, points: float) -> None:
        self.y -= points


def _field(layout: _Layout, f: FormField, value: Answer, file: FormFile | None) -> None:
    image = picture(file.data) if file is not None and file.data else None
    box = SIGNATURE_BOX if f.kind == "signature" else PHOTO_BOX
    label_height = len(wrap(f.label, "F2", 10, BODY)) * 13
    # A label never ends a page alone: it moves on with its answer's first line or its picture.
    layout.room(label_height + (layout.fit(image, box)[1] + 6 if image is not None else 13))
    layout.lines(f.label, font="F2", size=10)
    if image is not None:
        layout.picture(image, box, 12)
    elif file is not None:
        what = "Signature" if f.kind == "signature" else f"{file.content_type} file"
        layout.lines(f"{what} ({file.size // 1024 + 1} KB), kept with the form", indent=12, gray=0.3)
    else:
        layout.lines(answer_text(f, value), indent=12)
    layout.gap(6)


def render(form: CompletedForm) -> bytes:
    """The PDF's bytes; the same form always gives the same bytes."""
    doc = Document(WIDTH, HEIGHT, title=form.title)
    layout = _Layout(doc)
    done = form.completed_at.astimezone(dt.UTC).strftime("%B %-d, %Y %H:%M UTC")
    layout.lines(form.title, font="F2", size=16)
    layout.lines(f"{form.patient} · {form.location}", size=11)
    layout.lines(f"Version {form.version} · Completed {done} · Request #{form.request_id}", size=9, gray=0.35)
    layout.gap(8)
    for section in form.definition.sections:
        layout.room(50)
        layout.lines(section.title, font="F2", size=13)
        layout.page.line(MARGIN, layout.y - 3, WIDTH - MARGIN, layout.y - 3)
        layout.gap(8)
        for f in section.fields:
            _field(layout, f, form.answers.get(f.key), form.files.get(f.key))
        layout.gap(6)
    total = len(doc.pages)
    for number, page in enumerate(doc.pages, 1):
        footer = f"{form.patient} · {form.title} · Page {number} of {total}"
        page.text(MARGIN, MARGIN - 6, footer, size=8, gray=0.4)
    return doc.render()
