"""The sandbox carrier's HTTP face: Twilio's Messages REST API (the part texting uses) and delivery.

It accepts `POST /2010-04-01/Accounts/{AC}/Messages.json` as Twilio does, answers in Twilio's JSON and
error shapes, and then plays the carrier: queued → sent → delivered (or a failure for the magic numbers
in `store.MAGIC_OUTCOMES`), telling each step to the message's StatusCallback, signed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from telephony.sandbox import dialing, queues, verbs
from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.conference_api import ConferencesApi
from telephony.sandbox.devices import DeviceRegistry
from telephony.sandbox.lookup import LookupApi
from telephony.sandbox.phone_page import PhoneGateway
from telephony.sandbox.recording_api import RecordingsApi
from telephony.sandbox.rest import (
    ACCOUNT,
    Refused,
    authenticated,
    form_field,
    is_http_url,
    not_found,
    page,
)
from telephony.sandbox.signing import WebhookSender
from telephony.sandbox.store import (
    API_VERSION,
    DELIVERED,
    E164,
    MAGIC_OUTCOMES,
    Media,
    Message,
    Outcome,
    SandboxConfig,
    SandboxStore,
    new_sid,
)
from telephony.sandbox.voice_api import CallsApi
from telephony.sandbox.voice_phones import VoicePhones
from telephony.sandbox.voice_store import VoiceStore

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY = 1600  # Twilio's limit for a concatenated body (21617)
MAX_MEDIA = 10  # media URLs per message (21623)
MAX_UPLOAD = 6 * 1024 * 1024  # a 5 MB MMS picture plus form overhead, from the phone page


class Carrier:
    """Plays the network after a message is accepted: status steps and their signed callbacks."""

    def __init__(self, store: SandboxStore, sender: WebhookSender) -> None:
        self._store = store
        self._sender = sender
        self._tasks: set[asyncio.Task[None]] = set()

    def accept(self, message: Message) -> None:
        """Start delivering in the background; the REST answer does not wait for it."""
        task = asyncio.get_running_loop().create_task(self._deliver(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every accepted message reached its final status and its callbacks were made."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop deliveries in flight (at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, message: Message) -> None:
        config = self._store.config
        outcome = MAGIC_OUTCOMES.get(message.to[-4:], DELIVERED)
        # A Messaging Service message starts "accepted" and reports "queued" once it has a sender;
        # a plain one starts "queued". Twilio never calls back for the initial status.
        steps: list[str] = ["queued"] if message.status == "accepted" else []
        steps += ["failed"] if outcome.status == "failed" else ["sent", outcome.status]
        held: list[list[tuple[str, str]]] = []
        for status in steps:
            if config.status_delay:
                await asyncio.sleep(config.status_delay)
            final = status == steps[-1]
            self._store.set_status(message, status, outcome if final else None)
            params = _callback_params(message, outcome if final else None)
            if config.reorder_callbacks:
                held.append(params)
            else:
                await self._callback(message, params)
        for params in reversed(held):  # reorder: the final status arrives first
            await self._callback(message, params)

    async def _callback(self, message: Message, params: list[tuple[str, str]]) -> None:
        if not message.status_callback:
            return
        for _ in range(2 if self._store.config.duplicate_callbacks else 1):
            result = await self._sender.post(message.status_callback, params)
            if not result.ok:
                log.info("status callback for %s answered %s", message.sid, result.status)


def _callback_params(message: Message, outcome: Outcome | None) -> list[tuple[str, str]]:
    """The form fields of Twilio's message status callback, as the message stands now."""
    params = [
        ("AccountSid", message.account_sid),
        ("ApiVersion", API_VERSION),
        ("From", message.from_ or ""),
        ("MessageSid", message.sid),
        ("MessageStatus", message.status),
        ("SmsSid", message.sid),
        ("SmsStatus", message.status),
        ("To", message.to),
    ]
    if message.messaging_service_sid:
        params.append(("MessagingServiceSid", message.messaging_service_sid))
    if outcome is not None and outcome.error_code is not None:
        params.append(("ErrorCode", str(outcome.error_code)))
    return params


class MessagesApi:
    """Handlers for the Message and Media resources of API version 2010-04-01."""

    def __init__(self, store: SandboxStore, carrier: Carrier) -> None:
        self.store = store
        self.carrier = carrier

    def routes(self) -> list[web.RouteDef]:
        """The REST routes, in Twilio's URL layout."""
        media = ACCOUNT + "/Messages/{sid}/Media/{media_sid:ME[0-9a-f]{32}}"
        return [
            web.post(ACCOUNT + "/Messages.json", self.create),
            web.get(ACCOUNT + "/Messages.json", self.list),
            web.get(ACCOUNT + "/Messages/{sid}.json", self.fetch),
            web.get(ACCOUNT + "/Messages/{sid}/Media.json", self.media_list),
            web.get(media + ".json", self.media_resource),
            web.get(media, self.media_content),
        ]

    @authenticated
    async def create(self, request: web.Request, account: str) -> web.StreamResponse:
        """Accept a message the way Twilio validates one, then hand it to the carrier."""
        form = await request.post()
        field = form_field(form)
        to, from_, body = field("To"), field("From"), field("Body")
        service, callback = field("MessagingServiceSid"), field("StatusCallback")
        media_urls = [v for v in form.getall("MediaUrl", []) if isinstance(v, str)]
        config = self.store.config
        if not to:
            raise Refused(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            raise Refused(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_ and not service:
            raise Refused(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if service and service != config.messaging_service_sid:
            raise Refused(400, 21705, "The Messaging Service Sid is invalid.")
        if from_ and (not E164.match(from_) or not self.store.owns_number(from_)):
            raise Refused(
                400,
                21606,
                f"The From phone number {from_} is not a valid, SMS-capable inbound phone number or "
                "short code for your account.",
            )
        if not body and not media_urls:
            raise Refused(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise Refused(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if len(media_urls) > MAX_MEDIA:
            raise Refused(400, 21623, "The number of media files exceeds the allowed limit.")
        if any(not is_http_url(url) for url in media_urls):
            raise Refused(400, 21620, "Invalid media URL(s)")
        if callback and not is_http_url(callback):
            raise Refused(400, 21609, "Invalid 'StatusCallback'")
        sender = from_ or self.store.sender_for(to)
        if sender and self.store.opted_out(to, sender):
            raise Refused(400, 21610, "Attempt to send to unsubscribed recipient")
        message = self.store.add(
            Message(
                sid=new_sid("MM" if media_urls else "SM"),
                account_sid=account,
                direction="outbound-api",
                # With a Messaging Service the sender is chosen after acceptance, as Twilio does.
                from_=from_ or None,
                to=to,
                body=body,
                status="queued" if from_ else "accepted",
                messaging_service_sid=service or None,
                status_callback=callback or None,
                media_urls=media_urls,
            )
        )
        resource = message.resource()
        if not from_:
            message.from_ = sender
        self.carrier.accept(message)
        return web.json_response(resource, status=201)

    @authenticated
    async def list(self, request: web.Request, account: str) -> web.StreamResponse:
        """One page holding every matching message, newest first, as Twilio orders them."""
        query = request.query
        found = self.store.find(to=query.get("To"), from_=query.get("From"))
        rows = [m.resource() for m in reversed(found) if m.account_sid == account]
        return web.json_response(page(request, "messages", rows))

    @authenticated
    async def fetch(self, request: web.Request, account: str) -> web.StreamResponse:
        """The message resource as it stands (status moves on in the background)."""
        return web.json_response(self._message(request, account).resource())

    @authenticated
    async def media_list(self, request: web.Request, account: str) -> web.StreamResponse:
        """The pictures a received message carries, as Media resources."""
        message = self._message(request, account)
        rows = [_media_resource(message, m.sid) for m in message.media]
        return web.json_response(page(request, "media_list", rows))

    @authenticated
    async def media_resource(self, request: web.Request, account: str) -> web.StreamResponse:
        """One Media resource's metadata."""
        message = self._message(request, account)
        self._media(request, message)
        return web.json_response(_media_resource(message, request.match_info["media_sid"]))

    @authenticated
    async def media_content(self, request: web.Request, account: str) -> web.StreamResponse:
        """The picture itself, behind Basic auth as Twilio serves it when media auth is enforced."""
        media = self._media(request, self._message(request, account))
        return web.Response(body=media.data, content_type=media.content_type)

    def _message(self, request: web.Request, account: str) -> Message:
        message = self.store.messages.get(request.match_info["sid"])
        if message is None or message.account_sid != account:
            raise not_found(request)
        return message

    def _media(self, request: web.Request, message: Message) -> Media:
        wanted = request.match_info["media_sid"]
        for media in message.media:
            if media.sid == wanted:
                return media
        raise not_found(request)


def _media_resource(message: Message, media_sid: str) -> dict[str, object]:
    media = next(m for m in message.media if m.sid == media_sid)
    uri = message.uri.removesuffix(".json") + f"/Media/{media.sid}.json"
    return {
        "account_sid": message.account_sid,
        "content_type": media.content_type,
        "date_created": message.resource()["date_created"],
        "date_updated": message.resource()["date_created"],
        "parent_sid": message.sid,
        "sid": media.sid,
        "uri": uri,
    }


SANDBOX_STORE = web.AppKey("sandbox_store", SandboxStore)
SANDBOX_CARRIER = web.AppKey("sandbox_carrier", Carrier)
SANDBOX_VOICE = web.AppKey("sandbox_voice", VoiceStore)  # tests read twiml_errors, calls, recordings
SANDBOX_ENGINE = web.AppKey("sandbox_engine", CallEngine)


def create_sandbox_app(config: SandboxConfig) -> web.Application:
    """The sandbox as one aiohttp application: REST APIs, delivery, calls, phone page and test API."""
    store = SandboxStore(config)
    voice = VoiceStore(config)
    sender = WebhookSender(config.auth_token, config.webhook_timeout, config.webhook_retries)
    carrier = Carrier(store, sender)
    engine = CallEngine(store, voice, sender)
    verbs.install(engine)
    dialing.install(engine)
    queues.install(engine)
    devices = DeviceRegistry(config, voice, engine)

    @web.middleware
    async def learn_base(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Recording URLs name the sandbox as the server reaches it; without public_url, as first asked.
        if engine.public_base is None:
            engine.public_base = f"{request.scheme}://{request.host}"
        return await handler(request)

    app = web.Application(client_max_size=MAX_UPLOAD, middlewares=[learn_base])
    app[SANDBOX_STORE] = store
    app[SANDBOX_CARRIER] = carrier
    app[SANDBOX_VOICE] = voice
    app[SANDBOX_ENGINE] = engine

    async def webhooks(_: web.Application) -> AsyncIterator[None]:
        await sender.start()
        yield
        await sender.close()

    async def deliveries(_: web.Application) -> AsyncIterator[None]:
        yield
        await carrier.close()

    async def calls(_: web.Application) -> AsyncIterator[None]:
        yield
        await engine.close()

    async def wake_pollers(_: web.Application) -> None:
        store.release_waiters()
        voice.release_waiters()
        for device in [d for group in devices.devices.values() for d in group]:
            await device.ws.close(message=b"sandbox shutting down")

    # Contexts close in reverse: deliveries and calls stop before the HTTP client they use is closed.
    app.cleanup_ctx.append(webhooks)
    app.cleanup_ctx.append(deliveries)
    app.cleanup_ctx.append(calls)
    app.on_shutdown.append(wake_pollers)
    app.add_routes(MessagesApi(store, carrier).routes())
    app.add_routes(CallsApi(store, voice, engine).routes())
    app.add_routes(ConferencesApi(store, voice, engine).routes())
    app.add_routes(RecordingsApi(store, voice, engine).routes())
    app.add_routes(LookupApi(store).routes())
    app.add_routes(PhoneGateway(store, sender).routes())
    app.add_routes(VoicePhones(store, voice, engine).routes())
    app.add_routes([web.get("/sandbox/client", devices.handle)])
    return app
