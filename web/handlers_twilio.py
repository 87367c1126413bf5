"""Twilio webhooks for texting: verify, normalize, one action, answer fast (slow work happens after)."""

from __future__ import annotations

import logging

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from comms import messaging
from comms.sms_status import apply_status
from telephony import normalize
from telephony.signature import verified_form
from web.carrier import wake_fetcher
from web.keys import SERVICES, SETTINGS

log = logging.getLogger(__name__)
EMPTY_TWIML = str(MessagingResponse())  # the usual answer: nothing to send back


def twiml(response: MessagingResponse) -> web.Response:
    return web.Response(text=str(response), content_type="text/xml")


async def inbound_sms(request: web.Request) -> web.Response:
    """POST /twilio/sms: a patient's text. Idempotent on MessageSid; answers with TwiML."""
    form = await verified_form(request, request.app[SETTINGS])
    message = normalize.inbound_sms(form)
    received = await messaging.receive_sms(request.app[SERVICES], message)
    if received.media_ids:
        wake_fetcher(request.app)
    if not received.reply or received.duplicate:
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")
    response = MessagingResponse()
    response.message(received.reply)
    return twiml(response)


async def sms_status(request: web.Request) -> web.Response:
    """POST /twilio/sms/status: delivery progress; applied forward-only, any order, any repeat."""
    form = await verified_form(request, request.app[SETTINGS])
    status = normalize.sms_status(form)
    item = request.query.get("item", "")
    await apply_status(
        request.app[SERVICES],
        status.message_sid,
        status.status,
        status.error_code,
        int(item) if item.isdigit() and len(item) < 19 else None,
    )
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/twilio/sms", inbound_sms)
    app.router.add_post("/twilio/sms/status", sms_status)
