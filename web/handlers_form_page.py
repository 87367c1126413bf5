"""The patient's form page (`/f/<token>`, no login: the unguessable link is the key): the questions drawn
on the server (labels, hints and errors tied to each input for screen readers), then form.js saves as
the patient goes, checks as they type, uploads files, takes a drawn signature and submits."""

from __future__ import annotations

import json
import re
from html import escape

from aiohttp import web

from comms import form_limits, form_link
from comms.errors import FrontdeskError, NotFound, RateLimited
from schemas.forms import AnswersIn, FormField
from web.api import parse_body
from web.client import client_addr
from web.keys import SERVICES, SETTINGS
from web.middleware import error_response

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/static/form.css"></head><body><main>"""
_TAIL = "</main></body></html>"
AUTOCOMPLETE = {
    "first_name": "given-name",
    "last_name": "family-name",
    "date_of_birth": "bday",
    "email": "email",
    "address_line1": "address-line1",
    "address_line2": "address-line2",
    "address_city": "address-level2",
    "address_region": "address-level1",
    "address_postal_code": "postal-code",
}
INPUT_TYPE = {"text": "text", "date": "date", "phone": "tel", "email": "email"}


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=_HEAD.format(title=escape(title)) + body + _TAIL,
        content_type="text/html",
        status=status,
        headers={
            "Content-Security-Policy": POLICY,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _invalid() -> web.Response:
    body = (
        '<h1>Link not valid</h1><p class="status" data-status="invalid">This form link is not valid. '
        "Please check the link in your text message, or contact the office.</p>"
    )
    return _page("Link not valid", body, status=404)


def _expired(location: str) -> web.Response:
    body = (
        f'<h1>{escape(location)}</h1><p class="status" data-status="expired">This form link has expired. '
        "Please contact the office for a new one.</p>"
    )
    return _page("Link expired", body, status=410)


def _done(location: str) -> web.Response:
    body = (
        f'<h1>{escape(location)}</h1><p class="status" data-status="completed">Your form has been '
        "received. Thank you! You can close this page.</p>"
    )
    return _page("Form received", body)


def _field(f: FormField, value: object) -> str:
    """One question: its label, hint, input and error line, tied together for screen readers."""
    fid, eid, hid = f"f-{f.key}", f"e-{f.key}", f"h-{f.key}"
    described = " ".join(x for x in (hid if f.help else "", eid) if x)
    required = ' <span class="req">(required)</span>' if f.required else ""
    attrs = [f'data-key="{f.key}"', f'data-kind="{f.kind}"', f'data-required="{int(f.required)}"']
    if f.show_if is not None:
        attrs += [
            f'data-show-field="{f.show_if.field}"',
            f'data-show-equals="{escape(json.dumps(f.show_if.equals))}"',
        ]
    hint = f'<p class="hint" id="{hid}">{escape(f.help)}</p>' if f.help else ""
    error = f'<p class="error" id="{eid}" aria-live="polite"></p>'
    aria = f'aria-describedby="{described}"' + (' aria-required="true"' if f.required else "")
    label = f'<label for="{fid}">{escape(f.label)}{required}</label>'
    if f.kind == "checkbox":
        checked = " checked" if value is True else ""
        control = f'<input type="checkbox" id="{fid}" name="{f.key}" {aria}{checked}>'
        inner = f'<div class="check">{control}{label}</div>'
    elif f.kind == "choice":
        options = ['<option value="">Choose…</option>'] + [
            f'<option value="{escape(o)}"{" selected" if value == o else ""}>{escape(o)}</option>'
            for o in f.options
        ]
        inner = f'{label}<select id="{fid}" name="{f.key}" {aria}>{"".join(options)}</select>'
    elif f.kind == "file":
        have = isinstance(value, int) and not isinstance(value, bool)
        state = "File received." if have else ""
        control = f'<input type="file" id="{fid}" name="{f.key}" accept="image/*,application/pdf" {aria}>'
        inner = f'{label}{control}<p class="upload-state" data-upload-state>{state}</p>'
        attrs.append(f'data-upload="{value if have else ""}"')
    elif f.kind == "signature":
        have = isinstance(value, int) and not isinstance(value, bool)
        attrs.append(f'data-upload="{value if have else ""}"')
        sig_state = "Signed." if have else "Sign with your finger or mouse."
        inner = (
            f'<p class="label" id="{fid}-label">{escape(f.label)}{required}</p>'
            f'<canvas id="{fid}" class="signature" width="600" height="200" tabindex="0" role="img" '
            f'aria-labelledby="{fid}-label" aria-describedby="{described}"></canvas>'
            '<div class="sig-actions"><button type="button" data-clear>Clear</button>'
            f'<span class="upload-state" data-upload-state>{sig_state}</span></div>'
            f'<label for="{fid}-typed">Or type your full name to sign</label>'
            f'<div class="sig-typed"><input type="text" id="{fid}-typed" data-typed autocomplete="name">'
            '<button type="button" data-type-sign>Sign with this name</button></div>'
        )
    else:
        auto = AUTOCOMPLETE.get(f.maps_to or "", "tel" if f.kind == "phone" else "off")
        text = escape(str(value)) if isinstance(value, str) else ""
        inner = (
            f'{label}<input type="{INPUT_TYPE[f.kind]}" id="{fid}" name="{f.key}" value="{text}" '
            f'autocomplete="{auto}" {aria}>'
        )
    return f'<div class="field" {" ".join(attrs)}>{inner}{hint}{error}</div>'


def _form(page: form_link.FormPage, max_upload: int) -> str:
    sections = []
    for section in page.definition.sections:
        fields = "".join(_field(f, page.answers.get(f.key)) for f in section.fields)
        sections.append(f"<fieldset><legend>{escape(section.title)}</legend>{fields}</fieldset>")
    expires = page.expires_at.strftime("%B %-d, %Y")
    return (
        f'<h1>{escape(page.location)}</h1><p class="what">{escape(page.title)}</p>'
        '<p class="fine">Your answers are saved as you go: you can leave and come back with the same link '
        f"until {expires}.</p>"
        f'<form id="intake" novalidate data-status="{escape(page.status)}" data-max-upload="{max_upload}">'
        f"{''.join(sections)}"
        '<p class="error" id="form-error" role="alert"></p>'
        '<button type="submit">Submit</button>'
        '<p class="saved" id="saved" aria-live="polite"></p></form>'
        '<script type="module" src="/static/form.js"></script>'
    )


def _limited(exc: RateLimited) -> web.Response:
    body = f'<h1>Please wait</h1><p class="status" data-status="limited">{escape(exc.message)}</p>'
    response = _page("Please wait", body, status=429)
    response.headers["Retry-After"] = str(exc.retry_after or 60)
    return response


async def _page_token(request: web.Request) -> str | web.Response:
    """The link's token once this address may go on, or the page to answer with instead."""
    services, addr = request.app[SERVICES], client_addr(request, request.app[SETTINGS])
    try:
        await form_limits.admit(services, addr)
    except RateLimited as exc:
        return _limited(exc)
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        await form_limits.bad_link(services, addr)
        return _invalid()
    return token


async def form_page(request: web.Request) -> web.Response:
    """GET /f/{token}: the form with the answers so far (marks the request opened)."""
    token = await _page_token(request)
    if isinstance(token, web.Response):
        return token
    try:
        page = await form_link.open_form(request.app[SERVICES], token)
    except NotFound:
        await form_limits.bad_link(request.app[SERVICES], client_addr(request, request.app[SETTINGS]))
        return _invalid()
    if page.status == "expired":
        return _expired(page.location)
    if page.status == "completed":
        return _done(page.location)
    return _page(page.title, _form(page, request.app[SETTINGS].forms.max_upload_bytes))


async def _json_error(request: web.Request, exc: FrontdeskError) -> web.Response:
    if isinstance(exc, NotFound) and exc.message == form_link.INVALID:
        await form_limits.bad_link(request.app[SERVICES], client_addr(request, request.app[SETTINGS]))
    response = error_response(exc.status, exc.code, exc.message, exc.retry_after)
    if isinstance(exc, form_link.Incomplete):
        response = web.json_response(
            {"error": {"code": exc.code, "message": exc.message}, "errors": exc.errors}, status=exc.status
        )
    return response


async def _token(request: web.Request, *, upload: bool = False) -> str:
    """The link's token, once this address may make one more request (RateLimited otherwise)."""
    await form_limits.admit(request.app[SERVICES], client_addr(request, request.app[SETTINGS]), upload=upload)
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise NotFound(form_link.INVALID)
    return token


async def save_draft(request: web.Request) -> web.Response:
    """PUT /f/{token}/draft: the answers so far; those that do not fit are named (and not kept)."""
    try:
        token = await _token(request)
        body = await parse_body(request, AnswersIn)
        out = await form_link.save_draft(request.app[SERVICES], token, body.answers)
    except FrontdeskError as exc:
        return await _json_error(request, exc)
    return web.json_response(out.model_dump(mode="json"))


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes the limit (nothing more is read or kept)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def upload(request: web.Request) -> web.Response:
    """POST /f/{token}/uploads/{field}: a file or signature (the raw bytes) for one field."""
    limit = request.app[SETTINGS].forms.max_upload_bytes
    try:
        token = await _token(request, upload=True)
        key = request.match_info["field"]
        if not _KEY.match(key):
            raise NotFound("this form has no such upload")
        data = await _read_limited(request, limit)
        if data is None:
            return error_response(
                413, "payload_too_large", f"The file is too large: the limit is {limit // (1024 * 1024)} MB."
            )
        upload_id = await form_link.add_upload(request.app[SERVICES], token, key, data)
    except FrontdeskError as exc:
        return await _json_error(request, exc)
    return web.json_response({"upload_id": upload_id}, status=201)


async def submit(request: web.Request) -> web.Response:
    """POST /f/{token}/submit: every answer; all fit and the form completes, or each problem is named."""
    try:
        token = await _token(request)
        body = await parse_body(request, AnswersIn)
        out = await form_link.submit(request.app[SERVICES], token, body.answers)
    except FrontdeskError as exc:
        return await _json_error(request, exc)
    return web.json_response(out.model_dump(mode="json"))


async def stop_page(request: web.Request) -> web.Response:
    """GET /f/{token}/stop: asks the patient to confirm (a mail scanner following links stops nothing)."""
    token = await _page_token(request)
    if isinstance(token, web.Response):
        return token
    try:
        location = await form_link.link_location(request.app[SERVICES], token)
    except NotFound:
        await form_limits.bad_link(request.app[SERVICES], client_addr(request, request.app[SETTINGS]))
        return _invalid()
    body = (
        f"<h1>{escape(location)}</h1><p>Do you want no more reminders about this form? You can still fill it "
        "in with the link you were sent.</p>"
        f'<form method="post" action="/f/{token}/stop">'
        '<button type="submit">No more reminders</button></form>'
    )
    return _page("Form reminders", body)


async def stop(request: web.Request) -> web.Response:
    """POST /f/{token}/stop: no more reminders for this form."""
    token = await _page_token(request)
    if isinstance(token, web.Response):
        return token
    try:
        location = await form_link.stop_reminders(request.app[SERVICES], token)
    except NotFound:
        await form_limits.bad_link(request.app[SERVICES], client_addr(request, request.app[SETTINGS]))
        return _invalid()
    body = (
        f'<h1>{escape(location)}</h1><p class="status" data-status="stopped">You will get no more '
        "reminders about this form.</p>"
    )
    return _page("Reminders stopped", body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/f/{token}", form_page)
    app.router.add_put("/f/{token}/draft", save_draft)
    app.router.add_post("/f/{token}/uploads/{field}", upload)
    app.router.add_post("/f/{token}/submit", submit)
    app.router.add_get("/f/{token}/stop", stop_page)
    app.router.add_post("/f/{token}/stop", stop)
