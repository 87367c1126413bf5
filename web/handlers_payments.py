"""REST: payment requests from a thread, their state, refunds, a patient's balance, a location's list."""

from __future__ import annotations

from aiohttp import web

from comms import payments
from comms.errors import Conflict
from schemas.payments import (
    BalanceOut,
    PaymentListQuery,
    PaymentRequestIn,
    PaymentRequestOut,
    RefundIn,
    RefundOut,
)
from web.api import ApiRouter, int_param, parse_body, parse_query, reply
from web.carrier import wake_sender
from web.keys import SERVICES
from web.payments import gateway
from web.staff_auth import require_actor

router = ApiRouter("payments")


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/payment-requests",
    summary="Ask the thread's patient to pay: a payment card in the thread and a text with the link",
    body=PaymentRequestIn,
    response=PaymentRequestOut,
    status=201,
    errors=(409, 503),
)
async def create(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, PaymentRequestIn)
    gateway(request.app)  # no Stripe, no link that could be paid: refuse before anything is written
    out = await payments.create_request(
        request.app[SERVICES], actor, int_param(request, "conversation_id"), body
    )
    wake_sender(request.app)
    return reply(out, status=201)


@router.route(
    "GET",
    "/api/v1/conversations/{conversation_id}/payment-requests",
    summary="The thread's payment requests, newest first (audited)",
    response=list[PaymentRequestOut],
)
async def list_for_thread(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    conversation_id = int_param(request, "conversation_id")
    return reply(await payments.list_for_conversation(request.app[SERVICES], actor, conversation_id))


@router.route(
    "GET",
    "/api/v1/payment-requests/{request_id}",
    summary="One payment request and where it stands (audited)",
    response=PaymentRequestOut,
)
async def get_one(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await payments.get_request(request.app[SERVICES], actor, int_param(request, "request_id")))


@router.route(
    "POST",
    "/api/v1/payment-requests/{request_id}/refund",
    summary="Refund part or all of what was paid; the request shows it once Stripe confirms",
    body=RefundIn,
    response=RefundOut,
    errors=(409, 503),
)
async def refund(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, RefundIn)
    request_id = int_param(request, "request_id")
    stripe = gateway(request.app)
    services = request.app[SERVICES]
    left = await payments.refundable(services, actor, request_id)
    total = sum(cents for _, cents in left)
    wanted = body.amount_cents or total
    if total == 0:
        raise Conflict("nothing paid on this request is left to refund")
    if wanted > total:
        raise Conflict(
            f"at most {payments.money(total, services.settings.payments.currency)} can be refunded"
        )
    refunds: list[str] = []
    remaining = wanted
    try:
        for intent, cents in left:  # newest payment first
            part = min(cents, remaining)
            # What is left of this payment as we know it is in the key: until Stripe's event says the
            # first refund happened, the same refund asked again (two tabs, a double submit) is made once.
            key = f"frontdesk-refund-{request_id}-{intent}-{cents}-{part}"
            refunds.append(await stripe.refund(intent, part, request_id, key))
            remaining -= part
            if remaining == 0:
                break
    finally:
        # What Stripe did refund is on record even when a later part is refused.
        if refunds:
            await payments.record_refund_asked(services, actor, request_id, wanted - remaining, refunds)
    return reply(RefundOut(request_id=request_id, refunded_cents=wanted, refunds=refunds))


@router.route(
    "GET",
    "/api/v1/contacts/{contact_id}/balance",
    summary="A patient's open balance at this staff member's locations (audited)",
    response=BalanceOut,
)
async def balance(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(
        await payments.contact_balance(request.app[SERVICES], actor, int_param(request, "contact_id"))
    )


@router.route(
    "GET",
    "/api/v1/locations/{location_id}/payment-requests",
    summary="A location's payment requests: open ones (soonest to expire first) or all (audited)",
    query=PaymentListQuery,
    response=list[PaymentRequestOut],
)
async def list_for_location(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    query = parse_query(request, PaymentListQuery)
    location_id = int_param(request, "location_id")
    return reply(await payments.list_for_location(request.app[SERVICES], actor, location_id, query.state))
