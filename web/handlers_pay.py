"""The patient's payment page (`/pay/<token>`, no login: the unguessable link is the key) and Stripe's
webhook (`/stripe/webhook`, verified with the stripe library's signature check)."""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from urllib.parse import urlsplit

from aiohttp import web

from comms import payments
from comms.errors import FrontdeskError, InvalidRequest, NotFound
from comms.models import utcnow
from comms.stripe_events import normalize
from config.settings import Settings
from web.carrier import wake_sender
from web.keys import SERVICES, SETTINGS
from web.middleware import error_response
from web.payments import gateway

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_AMOUNT = re.compile(r"^\s*\$?\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$")
SESSION_LIFE = dt.timedelta(hours=23)  # Stripe allows 30 minutes to 24 hours
SESSION_MIN = dt.timedelta(minutes=31)

_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/static/pay.css"></head><body><main>"""
_TAIL = "</main></body></html>"


def _policy(settings: Settings) -> str:
    """Our page posts to itself and is redirected to Checkout: that origin is the only other one allowed."""
    base = settings.stripe.api_base_url
    checkout = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}" if base else "https://checkout.stripe.com"
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action 'self' {checkout}"
    )


def _page(request: web.Request, title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=_HEAD.format(title=escape(title)) + body + _TAIL,
        content_type="text/html",
        status=status,
        headers={
            "Content-Security-Policy": _policy(request.app[SETTINGS]),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _invalid(request: web.Request) -> web.Response:
    body = "<h1>Link not valid</h1><p>This payment link is not valid. Please contact the office.</p>"
    return _page(request, "Link not valid", body, status=404)


def _body(page: payments.PayPage, error: str | None) -> tuple[str, str, int]:
    """(title, HTML, status) for where the request stands."""
    owed = payments.money(page.balance_cents, page.currency)
    total = payments.money(page.amount_cents, page.currency)
    head = f'<h1>{escape(page.location)}</h1><p class="what">{escape(page.description)}</p>'
    status_line = f'<p class="status" data-status="{escape(page.status)}">'
    if page.status == "paid":
        return "Paid", head + status_line + f"Paid in full ({escape(total)}). Thank you!</p>", 200
    if page.status == "processing":
        text = "Your bank payment is being processed. This can take a few business days; nothing more to do."
        return "Processing", head + status_line + escape(text) + "</p>", 200
    if page.status == "refunded":
        return "Refunded", head + status_line + "This payment was refunded.</p>", 200
    if page.status == "expired":
        text = "This payment link has expired. Please contact the office for a new one."
        return "Link expired", head + status_line + escape(text) + "</p>", 410
    parts = [head]
    if page.status == "partially_paid":
        parts.append(f"{status_line}Partly paid: {escape(owed)} of {escape(total)} is still due.</p>")
    else:
        parts.append(f'<p class="amount">Amount due: <strong>{escape(owed)}</strong></p>')
    if page.status == "failed":
        parts.append(
            '<p class="status" data-status="failed">'
            "The last payment did not go through. Please try again.</p>"
        )
    if error:
        parts.append(f'<p class="error" role="alert">{escape(error)}</p>')
    form = [f'<form method="post" action="/pay/{escape(page.token)}/checkout">']
    if page.allow_partial:
        dollars = f"{page.balance_cents / 100:.2f}"
        form.append(
            '<label for="amount">Amount to pay now</label>'
            f'<input id="amount" name="amount" inputmode="decimal" value="{dollars}" required>'
        )
    form.append(f'<button type="submit">Pay {"now" if page.allow_partial else escape(owed)}</button></form>')
    expires = page.expires_at.strftime("%B %-d, %Y")
    parts += [
        "".join(form),
        f'<p class="fine">Payments are handled by Stripe. This link works until {expires}.</p>',
    ]
    return "Payment", "".join(parts), 200


def _cents(raw: str) -> int | None:
    found = _AMOUNT.match(raw)
    if not found:
        return None
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))


async def pay_page(request: web.Request) -> web.Response:
    """GET /pay/{token}: where the request stands, and the button to pay (marks the request opened)."""
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        return _invalid(request)
    try:
        page = await payments.open_link(request.app[SERVICES], token)
    except NotFound:
        return _invalid(request)
    title, body, status = _body(page, None)
    return _page(request, title, body, status)


async def checkout(request: web.Request) -> web.Response:
    """POST /pay/{token}/checkout: hand the patient to Stripe Checkout for the amount due (or chosen)."""
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        return _invalid(request)
    services = request.app[SERVICES]
    try:
        page = await payments.open_link(services, token)
    except NotFound:
        return _invalid(request)
    form = await request.post()
    raw = str(form.get("amount", "")).strip()
    asked = _cents(raw) if raw else None
    try:
        if raw and asked is None:
            raise InvalidRequest("enter the amount in dollars and cents, like 25.00")
        amount = payments.checkout_amount(page, asked)
        now = utcnow()
        expires = max(min(page.expires_at, now + SESSION_LIFE), now + SESSION_MIN)
        # Back-links that name nothing: Stripe is not told the link's token (it opens the page).
        base = f"{request.app[SETTINGS].server.public_base_url}/pay"
        session = await gateway(request.app).checkout(
            request_id=page.request_id,
            amount_cents=amount,
            currency=page.currency,
            name=f"Payment to {page.location}"[:250],
            success_url=f"{base}/thanks",
            cancel_url=f"{base}/not-paid",
            expires_at=expires,
        )
    except FrontdeskError as exc:
        title, body, _ = _body(page, exc.message)
        return _page(request, title, body, status=exc.status)
    raise web.HTTPSeeOther(session.url)


async def stripe_webhook(request: web.Request) -> web.Response:
    """POST /stripe/webhook: a signed Stripe event; forged → 400 and nothing changes; idempotent on its id."""
    stripe = gateway(request.app)
    payload = await request.read()
    try:
        event = stripe.verify(payload, request.headers.get("Stripe-Signature"))
    except FrontdeskError as exc:
        return error_response(400, exc.code, exc.message)
    event_id, kind = str(event.get("id") or ""), str(event.get("type") or "")
    if not event_id:
        return error_response(400, "invalid_request", "the event has no id")
    applied = await payments.apply_event(request.app[SERVICES], event_id, kind, normalize(event))
    wake_sender(request.app)  # a payment's receipt may be waiting to go
    return web.json_response({"received": True, "duplicate": not applied})


async def thanks(request: web.Request) -> web.Response:
    """GET /pay/thanks: where Checkout sends the patient after paying (the receipt comes by text)."""
    body = (
        '<h1>Thank you</h1><p class="status" data-status="processing">Your payment is being confirmed. '
        "A receipt will come by text message.</p>"
    )
    return _page(request, "Thank you", body)


async def not_paid(request: web.Request) -> web.Response:
    """GET /pay/not-paid: where Checkout sends a patient who went back without paying."""
    body = "<h1>Not paid</h1><p>Nothing was charged. Use the link in your text message to try again.</p>"
    return _page(request, "Not paid", body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/pay/thanks", thanks)  # before /pay/{token}, which would take any word
    app.router.add_get("/pay/not-paid", not_paid)
    app.router.add_get("/pay/{token}", pay_page)
    app.router.add_post("/pay/{token}/checkout", checkout)
    app.router.add_post("/stripe/webhook", stripe_webhook)
