"""The hosted Checkout page, test mode only: a card form that completes the session (4242 4242 4242
4242) or declines it (4000 0000 0000 0002), a bank-account form for a delayed method (a US bank debit
that completes the session unpaid and clears or fails later), then sends the patient back as Stripe
does."""

from __future__ import annotations

import asyncio
from html import escape
from typing import Any

from aiohttp import web

from web.stripe_sandbox.delivery import Deliveries
from web.stripe_sandbox.store import Account, StripeError

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout (test mode)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}
label,input,button{{display:block;width:100%;font-size:1rem;margin:.4rem 0}}input,button{{padding:.6rem}}
.error{{color:#a00}}.test{{background:#ffe;padding:.4rem;border:1px solid #cc8}}</style></head>
<body><p class="test">Test mode: no real card is charged.</p>
<h1>{name}</h1><p>Amount: <strong data-testid="amount">{amount}</strong></p>
{message}
{form}
</body></html>"""


def _money(cents: int, currency: str) -> str:
    return f"${cents / 100:,.2f}" if currency == "usd" else f"{cents / 100:,.2f} {currency.upper()}"


def _form(session: dict[str, Any]) -> str:
    if session["status"] != "open":
        return f"<p>This checkout session is {escape(session['status'])}.</p>"
    cancel = session.get("cancel_url")
    back = f'<p><a href="{escape(cancel)}">Cancel and go back</a></p>' if cancel else ""
    return (
        '<form method="post">'  # no action: back to this page's own URL, wherever it is mounted
        '<label for="card">Card number</label>'
        '<input id="card" name="card" inputmode="numeric" autocomplete="cc-number" required>'
        '<button type="submit">Pay</button></form>'
        "<h2>Or pay by bank account</h2><p>A bank payment takes a few days to clear.</p>"
        '<form method="post"><input type="hidden" name="method" value="bank">'
        '<label for="routing">Routing number</label>'
        '<input id="routing" name="routing" inputmode="numeric" required>'
        '<label for="account">Account number</label>'
        '<input id="account" name="account" inputmode="numeric" required>'
        '<button type="submit">Debit bank account</button></form>' + back
    )


class CheckoutPage:
    def __init__(self, account: Account, deliveries: Deliveries, settle_seconds: float | None = None) -> None:
        self.account = account
        self.deliveries = deliveries
        self.settle_seconds = settle_seconds  # None: a bank payment clears only when told (tests)
        self._settling: set[asyncio.Task[None]] = set()

    def settle(self, sid: str) -> dict[str, Any]:
        """Clear (or fail) a session's bank payment now, and send what that raised."""
        before = len(self.account.events)
        session = self.account.settle(sid)
        for event in self.account.events[before:]:
            self.deliveries.send(event)
        return session

    async def _settle_later(self, sid: str) -> None:
        await asyncio.sleep(self.settle_seconds or 0)
        try:
            self.settle(sid)
        except StripeError:
            pass  # settled by hand meanwhile

    async def close(self) -> None:
        for task in self._settling:
            task.cancel()
        await asyncio.gather(*self._settling, return_exceptions=True)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/c/pay/{id}", self.show), web.post("/c/pay/{id}", self.submit)]

    def _render(self, session: dict[str, Any], message: str = "", status: int = 200) -> web.Response:
        items = session.get("_line_items") or [{}]
        name = ((items[0].get("price_data") or {}).get("product_data") or {}).get("name", "Payment")
        html = _PAGE.format(
            name=escape(str(name)),
            amount=escape(_money(int(session["amount_total"]), str(session["currency"]))),
            message=f'<p class="error" role="alert">{escape(message)}</p>' if message else "",
            form=_form(session),
        )
        return web.Response(text=html, content_type="text/html", status=status)

    def _session(self, request: web.Request) -> dict[str, Any]:
        try:
            return self.account.session(request.match_info["id"])
        except StripeError:
            raise web.HTTPNotFound(text="No such checkout session") from None

    async def show(self, request: web.Request) -> web.Response:
        return self._render(self._session(request))

    async def submit(self, request: web.Request) -> web.Response:
        session = self._session(request)
        form = await request.post()
        before = len(self.account.events)
        bank = form.get("method") == "bank"
        if bank:
            routing, number = str(form.get("routing", "")), str(form.get("account", ""))
            paid, message = self.account.pay_by_bank(session["id"], routing, number)
        else:
            paid, message = self.account.pay(session["id"], str(form.get("card", "")))
        for event in self.account.events[before:]:
            self.deliveries.send(event)
        if paid and bank and self.settle_seconds is not None:
            task = asyncio.create_task(self._settle_later(session["id"]))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
        if not paid:
            return self._render(session, message or "The payment did not go through.", status=402)
        target = str(session.get("success_url") or "")
        if not target:
            return self._render(session, "Payment complete.")
        raise web.HTTPSeeOther(target.replace("{CHECKOUT_SESSION_ID}", session["id"]))
