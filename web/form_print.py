"""A completed intake form as a printable page for staff: the questions of the version the patient
answered, their answers, the card photo and the signature (through the same authorized upload URLs).
The browser's print dialog saves it as PDF; nothing is left behind on the server."""

from __future__ import annotations

from html import escape

from schemas.forms import Answer, FormField, FormRequestDetail, FormUploadOut

POLICY = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"


def _answer(f: FormField, value: Answer, upload: FormUploadOut | None) -> str:
    if (
        upload is not None
        and upload.content_type.startswith("image/")
        and upload.content_type != "image/heic"
    ):
        alt = "Signature" if f.kind == "signature" else f.label
        css = "signature" if f.kind == "signature" else "photo"
        return f'<img class="{css}" src="{escape(upload.url)}" alt="{escape(alt)}">'
    if upload is not None:
        size = f"{upload.size // 1024 + 1} KB"
        return f'<a href="{escape(upload.url)}">{escape(upload.content_type)} file ({size})</a>'
    if value is None or value == "":
        return '<span class="none">—</span>'
    if f.kind == "checkbox":
        return "Yes" if value is True else "No"
    return escape(str(value))


def render(detail: FormRequestDetail) -> str:
    """The whole page (escaped throughout: answers are what a patient typed)."""
    uploads = {u.field: u for u in detail.uploads}
    done = detail.completed_at.strftime("%B %-d, %Y %H:%M UTC") if detail.completed_at else "not completed"
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(detail.template_name)}: {escape(detail.patient_name)}</title>",
        '<link rel="stylesheet" href="/static/form_print.css"></head><body><main>',
        f"<header><h1>{escape(detail.template_name)}</h1>",
        f'<p class="who" data-testid="print-patient">{escape(detail.patient_name)} · '
        f"{escape(detail.location_name)}</p>",
        f'<p class="meta">Version {detail.version} · Completed: {escape(done)} · Request #{detail.id}</p>',
        "</header>",
    ]
    for section in detail.definition.sections:
        rows = "".join(
            f'<tr><th scope="row">{escape(f.label)}</th>'
            f'<td data-field="{f.key}">{_answer(f, detail.answers.get(f.key), uploads.get(f.key))}</td></tr>'
            for f in section.fields
        )
        parts.append(f"<section><h2>{escape(section.title)}</h2><table>{rows}</table></section>")
    parts.append("</main></body></html>")
    return "".join(parts)
