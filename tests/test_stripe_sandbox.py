"""The Stripe stand-in as the real `stripe` library sees it: Checkout Sessions created, retrieved and
paid on the test-card page, refunds, errors in Stripe's shape, and webhooks signed as Stripe signs them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp import web

from tests.ports import free_port
from web.stripe_sandbox import (
    STRIPE_ACCOUNT,
    STRIPE_DELIVERIES,
    StripeSandboxConfig,
    create_stripe_sandbox_app,
)
from web.stripe_sandbox.forms import FormError, decode

SECRET_KEY = "sk_test_sandbox_0123456789"
WEBHOOK_SECRET = "whsec_sandbox_0123456789"


class Rig:
    def __init__(self, base: str, client: stripe.StripeClient, received: list[tuple[str, str]], app: Any):
        self.base, self.client, self.received, self.app = base, client, received, app


@pytest.fixture
async def rig(aiohttp_server: Any) -> AsyncIterator[Rig]:
    received: list[tuple[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.text(), request.headers.get("Stripe-Signature", "")))
        return web.Response(status=200)

    receiver = web.Application()
    receiver.router.add_post("/stripe/webhook", hook)
    hook_server = await aiohttp_server(receiver)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = StripeSandboxConfig(
        SECRET_KEY, WEBHOOK_SECRET, str(hook_server.make_url("/stripe/webhook")), base
    )
    app = create_stripe_sandbox_app(config)
    await aiohttp_server(app, port=port)
    http = stripe.AIOHTTPClient()
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": base}, http_client=http)
    yield Rig(base, client, received, app)
    await http.close_async()


def _session_params(amount: int = 2500) -> dict[str, Any]:
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {"currency": "usd", "unit_amount": amount, "product_data": {"name": "Visit"}},
            }
        ],
        "success_url": "http://example.test/done?s={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://example.test/back",
        "client_reference_id": "42",
        "metadata": {"frontdesk_request": "42"},
        "payment_intent_data": {"metadata": {"frontdesk_request": "42"}},
    }


def test_nested_form_keys_decode_as_stripe_encodes_them() -> None:
    pairs = [
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[1][quantity]", "2"),
        ("line_items[0][quantity]", "1"),
        ("metadata[a]", "b"),
        ("mode", "payment"),
    ]
    assert decode(pairs) == {
        "line_items": [{"price_data": {"currency": "usd"}, "quantity": "1"}, {"quantity": "2"}],
        "metadata": {"a": "b"},
        "mode": "payment",
    }
    with pytest.raises(FormError):
        decode([("a[b", "1")])
    with pytest.raises(FormError):
        decode([("a", "1"), ("a[b]", "2")])


async def test_session_created_paid_on_the_card_page_and_the_event_verifies(rig: Rig) -> None:
    session = await rig.client.v1.checkout.sessions.create_async(params=_session_params())  # type: ignore[arg-type]
    assert session.id.startswith("cs_test_") and session.status == "open" and session.amount_total == 2500
    assert session.url == f"{rig.base}/c/pay/{session.id}"
    async with aiohttp.ClientSession() as http:
        async with http.get(session.url) as page:
            assert page.status == 200 and "$25.00" in await page.text()
        async with http.post(session.url, data={"card": "4000 0000 0000 0002"}) as declined:
            assert declined.status == 402 and "declined" in await declined.text()
        async with http.post(
            session.url, data={"card": "4242 4242 4242 4242"}, allow_redirects=False
        ) as paid:
            assert paid.status == 303
            assert paid.headers["Location"] == f"http://example.test/done?s={session.id}"
    again = await rig.client.v1.checkout.sessions.retrieve_async(session.id)
    assert again.status == "complete" and again.payment_status == "paid" and again.payment_intent
    await rig.app[STRIPE_DELIVERIES].drained()
    events = [
        stripe.Webhook.construct_event(body, sig, WEBHOOK_SECRET).to_dict() for body, sig in rig.received
    ]
    kinds = [e["type"] for e in events]
    assert kinds == [
        "payment_intent.payment_failed",
        "payment_intent.succeeded",
        "charge.succeeded",
        "checkout.session.completed",
    ]
    completed = events[-1]["data"]["object"]
    assert completed["payment_intent"] == again.payment_intent and completed["metadata"] == {
        "frontdesk_request": "42"
    }
    assert events[0]["data"]["object"]["metadata"] == {"frontdesk_request": "42"}
    body, sig = rig.received[-1]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace("2500", "1"), sig, WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, sig, "whsec_other")


async def _bank(rig: Rig, account: str) -> tuple[str, list[dict[str, Any]]]:
    """Pay a new session by bank, then settle it through the stand-in's control route; its events."""
    session = await rig.client.v1.checkout.sessions.create_async(params=_session_params())  # type: ignore[arg-type]
    assert session.url is not None
    form = {"method": "bank", "routing": "110000000", "account": account}
    async with aiohttp.ClientSession() as http:
        async with http.post(session.url, data={**form, "routing": "1"}) as wrong:
            assert wrong.status == 402 and "110000000" in await wrong.text()
        async with http.post(session.url, data=form, allow_redirects=False) as done:
            assert done.status == 303
        processing = await rig.client.v1.checkout.sessions.retrieve_async(session.id)
        assert (processing.status, processing.payment_status) == ("complete", "unpaid")
        assert processing.payment_intent is not None
        intent = await rig.client.v1.payment_intents.retrieve_async(str(processing.payment_intent))
        assert intent.status == "processing"
        settle = f"{rig.base}/sandbox/stripe/checkout/sessions/{session.id}/settle"
        async with http.post(settle) as settled:
            assert settled.status == 200
        async with http.post(settle) as again:
            assert again.status == 400  # nothing left to settle
    await rig.app[STRIPE_DELIVERIES].drained()
    events = [
        stripe.Webhook.construct_event(body, sig, WEBHOOK_SECRET).to_dict() for body, sig in rig.received
    ]
    return session.id, events


async def test_a_bank_payment_completes_unpaid_then_clears_signed_as_stripe_signs(rig: Rig) -> None:
    sid, events = await _bank(rig, "000123456789")
    assert [e["type"] for e in events] == [
        "payment_intent.processing",
        "charge.pending",
        "checkout.session.completed",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.async_payment_succeeded",
    ]
    completed, cleared = events[2]["data"]["object"], events[-1]["data"]["object"]
    assert (completed["id"], completed["status"], completed["payment_status"]) == (sid, "complete", "unpaid")
    assert (cleared["id"], cleared["payment_status"]) == (sid, "paid")
    assert cleared["payment_intent"] == completed["payment_intent"] and cleared["amount_total"] == 2500
    assert not any(k.startswith("_") for k in cleared)
    paid = await rig.client.v1.checkout.sessions.retrieve_async(sid)
    assert paid.payment_status == "paid"


async def test_a_bank_payment_that_fails_says_why(rig: Rig) -> None:
    sid, events = await _bank(rig, "000111111113")
    assert [e["type"] for e in events][3:] == [
        "charge.failed",
        "payment_intent.payment_failed",
        "checkout.session.async_payment_failed",
    ]
    intent, session = events[4]["data"]["object"], events[5]["data"]["object"]
    assert intent["last_payment_error"]["message"] == "The customer's bank account has been closed."
    assert intent["metadata"] == {"frontdesk_request": "42"} and intent["status"] == "requires_payment_method"
    assert (session["id"], session["status"], session["payment_status"]) == (sid, "complete", "unpaid")


async def test_a_bank_payment_clears_by_itself_when_the_stand_in_is_told_to(aiohttp_server: Any) -> None:
    config = StripeSandboxConfig(SECRET_KEY, WEBHOOK_SECRET, None, "http://127.0.0.1:1", settle_seconds=0.05)
    app = create_stripe_sandbox_app(config)
    server = await aiohttp_server(app)
    account = app[STRIPE_ACCOUNT]
    session = account.create_session(_session_params(), str(server.make_url("")))
    form = {"method": "bank", "routing": "110000000", "account": "000123456789"}
    async with aiohttp.ClientSession() as http:
        url = server.make_url(f"/c/pay/{session['id']}")
        async with http.post(url, data=form, allow_redirects=False) as done:
            assert done.status == 303
    for _ in range(100):
        if session["payment_status"] == "paid":
            break
        await asyncio.sleep(0.02)
    assert session["payment_status"] == "paid"
    assert account.events[-1]["type"] == "checkout.session.async_payment_succeeded"


async def test_refunds_partial_then_rest_then_refused(rig: Rig) -> None:
    session = await rig.client.v1.checkout.sessions.create_async(params=_session_params(5000))  # type: ignore[arg-type]
    async with (
        aiohttp.ClientSession() as http,
        http.post(session.url, data={"card": "4242424242424242"}, allow_redirects=False) as r,
    ):
        assert r.status == 303
    intent = (await rig.client.v1.checkout.sessions.retrieve_async(session.id)).payment_intent
    first = await rig.client.v1.refunds.create_async(params={"payment_intent": intent, "amount": 2000})  # type: ignore[arg-type]
    assert first.status == "succeeded" and first.amount == 2000
    rest = await rig.client.v1.refunds.create_async(params={"payment_intent": intent})  # type: ignore[arg-type]
    assert rest.amount == 3000
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await rig.client.v1.refunds.create_async(params={"payment_intent": intent})  # type: ignore[arg-type]
    assert refused.value.code == "charge_already_refunded"
    await rig.app[STRIPE_DELIVERIES].drained()
    refunded = [json.loads(b)["data"]["object"] for b, _ in rig.received if '"charge.refunded"' in b]
    assert [c["amount_refunded"] for c in refunded] == [2000, 5000]


async def test_errors_come_back_as_the_librarys_exceptions(rig: Rig) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await rig.client.v1.checkout.sessions.retrieve_async("cs_test_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError):
        await rig.client.v1.checkout.sessions.create_async(params={"mode": "payment"})
    bad = stripe.StripeClient(
        "sk_test_wrong", base_addresses={"api": rig.base}, http_client=stripe.AIOHTTPClient()
    )
    with pytest.raises(stripe.AuthenticationError):
        await bad.v1.checkout.sessions.retrieve_async("cs_test_x")
