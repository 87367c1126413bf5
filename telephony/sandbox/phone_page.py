"""The patients' side of the sandbox: their phones texting the practice, in a browser or from a test.

A text from a patient becomes Twilio's inbound-message webhook to the Frontdesk server, signed with the
auth token over the exact URL and retried once on a 5xx or a timeout with the same MessageSid. STOP and
START switch the sandbox's own opt-out list, as Twilio's Advanced Opt-Out does, and get its replies.
"""

from __future__ import annotations

import base64
import binascii
import logging
from importlib import resources
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from aiohttp import web

from telephony.sandbox.signing import WebhookResult, WebhookSender
from telephony.sandbox.store import (
    API_VERSION,
    E164,
    KEYWORD_REPLIES,
    Media,
    Message,
    SandboxStore,
    keyword,
    new_sid,
    now,
)

log = logging.getLogger(__name__)

MAX_POLL_SECONDS = 25.0  # a long poll answers at least this often, under common proxy timeouts
MEDIA_TYPES = ("image/", "video/", "audio/")  # what MMS carries from a handset
MAX_MEDIA_BYTES = 5 * 1024 * 1024  # Twilio's MMS limit


class InboundRefused(Exception):
    """A text the pretend phone network would not carry (bad number, empty, unsupported picture)."""


class PhoneGateway:
    """Delivers patients' texts to the server and shows each phone its conversation."""

    def __init__(self, store: SandboxStore, sender: WebhookSender) -> None:
        self._store = store
        self._sender = sender

    def routes(self) -> list[web.RouteDef]:
        """The phone page, its JSON endpoints, and the JSON test API."""
        return [
            web.get("/phone", self.page),
            web.get("/phone/phone.js", self.script),
            web.get("/phone/calls.js", self.calls_script),
            web.get("/phone/api/state", self.state),
            web.post("/phone/api/send", self.send_from_page),
            web.get("/phone/media/{media_sid:ME[0-9a-f]{32}}", self.page_media),
            web.post("/sandbox/inbound", self.inbound_json),
            web.get("/sandbox/messages", self.messages_json),
        ]

    async def text_in(
        self, *, patient: str, practice: str, body: str, media: list[tuple[str, bytes]], base_url: str
    ) -> tuple[Message, WebhookResult]:
        """One text from a patient's phone: stored, opt-out applied, then the signed webhook."""
        store, config = self._store, self._store.config
        if not E164.match(patient):
            raise InboundRefused(f"the patient number {patient!r} is not E.164 (+15551234567)")
        if not E164.match(practice) or not store.owns_number(practice):
            raise InboundRefused(f"{practice!r} is not one of the practice's numbers")
        if not body.strip() and not media:
            raise InboundRefused("a text needs words or a picture")
        for content_type, data in media:
            if not content_type.startswith(MEDIA_TYPES) or len(data) > MAX_MEDIA_BYTES:
                raise InboundRefused("pictures must be image, video or audio files of at most 5 MB")
        message = Message(
            sid=new_sid("MM" if media else "SM"),
            account_sid=config.account_sid,
            direction="inbound",
            from_=patient,
            to=practice,
            body=body,
            status="received",
            messaging_service_sid=config.messaging_service_sid,
        )
        message.media = [_media(content_type, data) for content_type, data in media]
        message.date_sent = message.date_created
        store.add(message)
        word = keyword(body)
        if word == "STOP":
            store.set_opted_out(patient, practice, True)
        elif word == "START":
            store.set_opted_out(patient, practice, False)
        if word is not None:
            # Advanced Opt-Out answers the keyword itself; the server is told (OptOutType), not asked.
            self._reply(practice, patient, KEYWORD_REPLIES[word])
        params = _inbound_params(message, base_url, word)
        result = await self._sender.post(config.webhook_url, params)
        if result.ok and "xml" in result.content_type and not store.opted_out(patient, practice):
            for text in _twiml_messages(result.body):
                self._reply(practice, patient, text)
        return message, result

    def _reply(self, practice: str, patient: str, body: str) -> None:
        """A reply the network itself hands to the phone (no REST call, so no status callback)."""
        reply = Message(
            sid=new_sid("SM"),
            account_sid=self._store.config.account_sid,
            direction="outbound-reply",
            from_=practice,
            to=patient,
            body=body,
            status="delivered",
        )
        reply.date_sent = now()
        self._store.add(reply)

    async def page(self, request: web.Request) -> web.StreamResponse:
        """The patient-phone page (plain HTML; the script renders every text with textContent)."""
        return _static("phone.html", "text/html")

    async def script(self, request: web.Request) -> web.StreamResponse:
        """The page's script, no build step."""
        return _static("phone.js", "text/javascript")

    async def calls_script(self, request: web.Request) -> web.StreamResponse:
        """The page's voice half (calls, keypad, what the caller hears), no build step."""
        return _static("calls.js", "text/javascript")

    async def state(self, request: web.Request) -> web.StreamResponse:
        """Long poll: the phone's conversation once anything changed after `after` (or on timeout)."""
        query = request.query
        try:
            after = int(query.get("after", "-1"))
            wait = min(max(float(query.get("wait", "0")), 0.0), MAX_POLL_SECONDS)
        except ValueError:
            raise web.HTTPBadRequest(text="after and wait must be numbers") from None
        await self._store.wait_for_change(after, seconds=wait)
        store = self._store
        phone = query.get("phone", "")
        numbers = list(store.config.numbers) or sorted(
            {m.to if m.direction == "inbound" else (m.from_ or "") for m in store.messages.values()} - {""}
        )
        conversation = store.conversation(phone) if phone else []
        return web.json_response(
            {
                "seq": store.seq,
                "numbers": numbers,
                "phones": store.phones,
                "opted_out": store.opt_outs(phone) if phone else [],
                "messages": [_view(m, phone) for m in conversation],
            }
        )

    async def send_from_page(self, request: web.Request) -> web.StreamResponse:
        """The page's Send button: a multipart form with an optional picture (MMS)."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="cross-site request refused")
        form = await request.post()
        media: list[tuple[str, bytes]] = []
        picture = form.get("picture")
        if isinstance(picture, web.FileField) and picture.filename:
            media.append((picture.content_type, picture.file.read()))
        patient, practice, body = _text(form, "phone"), _text(form, "practice"), _text(form, "body")
        return await self._answer(request, patient, practice, body, media)

    async def page_media(self, request: web.Request) -> web.StreamResponse:
        """A picture for the phone page: this is the patient's own phone, so no account login."""
        wanted = request.match_info["media_sid"]
        for message in self._store.messages.values():
            for media in message.media:
                if media.sid == wanted:
                    return web.Response(body=media.data, content_type=media.content_type)
        raise web.HTTPNotFound()

    async def inbound_json(self, request: web.Request) -> web.StreamResponse:
        """Test API: {from, to, body, media: [{content_type, data_base64}]} → {status, sid, attempts}."""
        if request.content_type != "application/json":
            # Also keeps cross-site HTML forms out: they cannot send JSON without a preflight.
            raise web.HTTPUnsupportedMediaType(text="send application/json")
        try:
            data: Any = await request.json()
            media = [
                (str(item["content_type"]), base64.b64decode(item["data_base64"], validate=True))
                for item in data.get("media", [])
            ]
            patient, practice, body = str(data["from"]), str(data["to"]), str(data.get("body", ""))
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            return web.json_response({"error": f"bad request: {exc.__class__.__name__}"}, status=400)
        return await self._answer(request, patient, practice, body, media)

    async def messages_json(self, request: web.Request) -> web.StreamResponse:
        """Test API: every message the sandbox holds, oldest first, optionally by To and From."""
        found = self._store.find(to=request.query.get("to"), from_=request.query.get("from"))
        return web.json_response({"messages": [m.resource() for m in found]})

    async def _answer(
        self, request: web.Request, patient: str, practice: str, body: str, media: list[tuple[str, bytes]]
    ) -> web.Response:
        base_url = self._store.config.public_url or f"{request.scheme}://{request.host}"
        try:
            message, result = await self.text_in(
                patient=patient, practice=practice, body=body, media=media, base_url=base_url
            )
        except InboundRefused as refused:
            return web.json_response({"error": str(refused)}, status=400)
        return web.json_response({"status": result.status, "sid": message.sid, "attempts": result.attempts})


def _media(content_type: str, data: bytes) -> Media:
    return Media(sid=new_sid("ME"), content_type=content_type, data=data)


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _inbound_params(message: Message, base_url: str, word: str | None) -> list[tuple[str, str]]:
    """Twilio's inbound-message webhook fields (location fields empty: the sandbox has no HLR data)."""
    patient, practice = message.from_ or "", message.to
    params = [
        ("AccountSid", message.account_sid),
        ("ApiVersion", API_VERSION),
        ("Body", message.body),
        ("From", patient),
        ("FromCity", ""),
        ("FromCountry", "US" if patient.startswith("+1") else ""),
        ("FromState", ""),
        ("FromZip", ""),
        ("MessageSid", message.sid),
        ("NumMedia", str(len(message.media))),
        ("NumSegments", message.resource()["num_segments"]),
        ("SmsMessageSid", message.sid),
        ("SmsSid", message.sid),
        ("SmsStatus", "received"),
        ("To", practice),
        ("ToCity", ""),
        ("ToCountry", "US" if practice.startswith("+1") else ""),
        ("ToState", ""),
        ("ToZip", ""),
    ]
    if message.messaging_service_sid:
        params.append(("MessagingServiceSid", message.messaging_service_sid))
    if word is not None:
        params.append(("OptOutType", word))
    base = base_url.rstrip("/") + message.uri.removesuffix(".json")
    for i, media in enumerate(message.media):
        params.append((f"MediaContentType{i}", media.content_type))
        params.append((f"MediaUrl{i}", f"{base}/Media/{media.sid}"))
    return [(k, str(v)) for k, v in params]


def _twiml_messages(xml: str) -> list[str]:
    """The <Message> texts of a TwiML answer, so an auto-reply reaches the phone as it would."""
    try:
        # The XML is the configured server's own answer to a local test tool, and Python's expat
        # bounds entity expansion, so the standard parser is enough here.
        root = ElementTree.fromstring(xml)  # noqa: S314
    except ElementTree.ParseError:
        log.info("webhook answered XML that is not TwiML")
        return []
    if root.tag != "Response":
        return []
    texts = []
    for element in root.iter("Message"):
        body = element.find("Body")
        text = (body.text if body is not None else element.text) or ""
        if text.strip():
            texts.append(text.strip())
    return texts


def _view(message: Message, phone: str) -> dict[str, object]:
    """A message as the phone page shows it: whose bubble, what it says, whether it arrived."""
    mine = message.from_ == phone
    media = [{"url": f"/phone/media/{m.sid}", "content_type": m.content_type} for m in message.media]
    media += [{"url": url, "content_type": ""} for url in message.media_urls]
    return {
        "sid": message.sid,
        "mine": mine,
        "practice": message.to if mine else message.from_,
        "body": message.body,
        "status": message.status,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "at": message.date_created.isoformat(),
        "media": media,
    }


# Pictures the practice sends are fetched by the browser from wherever their URLs point.
_CSP = "default-src 'self'; img-src * data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"


def _static(name: str, content_type: str) -> web.Response:
    text = resources.files("telephony.sandbox").joinpath("static", name).read_text(encoding="utf-8")
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": _CSP,
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(text=text, content_type=content_type, headers=headers)
