"""The carrier sandbox, driven through the real twilio library and checked by a recording webhook server."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import MultiDict
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from telephony.sandbox import (
    SANDBOX_CARRIER,
    AsyncSandboxHttpClient,
    SandboxConfig,
    SandboxHttpClient,
    create_sandbox_app,
    new_sid,
    rebase_url,
)

TOKEN = "sandbox-test-token"
ACCOUNT = "AC" + "0123456789abcdef" * 2
API_KEY, API_SECRET = "SK" + "fedcba9876543210" * 2, "api-key-secret"
SERVICE = "MG" + "00112233445566778899aabbccddeeff"
PRACTICE = "+12025550100"
PATIENT = "+12025550143"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Hit:
    """One request the stand-in Frontdesk server received."""

    path: str
    url: str
    form: MultiDict[str]
    headers: dict[str, str]

    def signed(self) -> bool:
        """Whether X-Twilio-Signature verifies over the URL as called, with the twilio library."""
        signature = self.headers.get("X-Twilio-Signature", "")
        return bool(RequestValidator(TOKEN).validate(self.url, self.form, signature))


@dataclass
class Receiver:
    """Records webhooks; can fail or stall the first attempts, or answer with TwiML."""

    hits: list[Hit] = field(default_factory=list)
    fail_first: int = 0
    stall_first: float = 0.0
    twiml: str = "<Response/>"

    def on(self, path: str) -> list[Hit]:
        """Hits on one path, in arrival order."""
        return [h for h in self.hits if h.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        hit = Hit(
            request.path,
            str(request.url),
            MultiDict((k, str(v)) for k, v in form.items()),
            dict(request.headers),
        )
        self.hits.append(hit)
        seen = len(self.on(request.path))
        if seen <= self.fail_first:
            return web.Response(status=500)
        if seen == 1 and self.stall_first:
            await asyncio.sleep(self.stall_first)
        return web.Response(text=self.twiml, content_type="text/xml")


@dataclass
class Rig:
    """A running sandbox pointed at a running receiver."""

    sandbox: Any
    receiver: Receiver
    webhook_base: str
    config: SandboxConfig

    @property
    def base(self) -> str:
        return str(self.sandbox.make_url("")).rstrip("/")

    @property
    def status_url(self) -> str:
        return self.webhook_base + "/twilio/sms/status?practice=1"

    def client(self, *, api_key: bool = False) -> Client:
        http = SandboxHttpClient(self.base)
        if api_key:
            return Client(API_KEY, API_SECRET, ACCOUNT, http_client=http)
        return Client(ACCOUNT, TOKEN, http_client=http)

    async def drain(self) -> None:
        await self.sandbox.app[SANDBOX_CARRIER].drain()

    async def inbound(
        self, body: str, *, media: list[dict[str, str]] | None = None, frm: str = PATIENT
    ) -> Any:
        payload = {"from": frm, "to": PRACTICE, "body": body, "media": media or []}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.base + "/sandbox/inbound", json=payload) as r,
        ):
            return await r.json()


Make = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(aiohttp_server: Any) -> Make:
    async def make(receiver: Receiver | None = None, **overrides: Any) -> Rig:
        receiver = receiver or Receiver()
        stub = web.Application()
        stub.router.add_post("/{tail:.*}", receiver.handle)
        stub_server = await aiohttp_server(stub)
        webhook_base = str(stub_server.make_url("")).rstrip("/")
        config = SandboxConfig(
            account_sid=ACCOUNT,
            auth_token=TOKEN,
            webhook_base=webhook_base,
            numbers=(PRACTICE,),
            messaging_service_sid=SERVICE,
            api_keys={API_KEY: API_SECRET},
            status_delay=0,
            webhook_timeout=2.0,
        )
        config = replace(config, **overrides)
        sandbox = await aiohttp_server(create_sandbox_app(config))
        return Rig(sandbox, receiver, webhook_base, config)

    return make


@pytest.fixture
async def rig(make_rig: Make) -> Rig:
    return await make_rig()


def statuses(rig: Rig) -> list[str]:
    return [h.form["MessageStatus"] for h in rig.receiver.on("/twilio/sms/status")]


async def test_sync_client_sends_and_callbacks_arrive_signed_in_order(rig: Rig) -> None:
    client = rig.client()
    message = await asyncio.to_thread(
        client.messages.create,
        to=PATIENT,
        from_=PRACTICE,
        body="Your cleaning is Tuesday at 9.",
        status_callback=rig.status_url,
    )
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid or "")
    assert (message.status, message.direction, message.account_sid) == ("queued", "outbound-api", ACCOUNT)
    assert (message.to, message.from_, message.num_segments, message.num_media) == (
        PATIENT,
        PRACTICE,
        "1",
        "0",
    )
    assert message.error_code is None and message.price is None and message.date_created is not None
    assert message.uri == f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{message.sid}.json"
    await rig.drain()
    hits = rig.receiver.on("/twilio/sms/status")
    # No callback for the initial "queued" (Twilio never sends one); then in order.
    assert statuses(rig) == ["sent", "delivered"]
    for hit in hits:
        assert hit.signed()
        assert hit.url == rig.status_url
        assert hit.form["MessageSid"] == hit.form["SmsSid"] == message.sid
        assert hit.form["SmsStatus"] == hit.form["MessageStatus"]
        assert (hit.form["AccountSid"], hit.form["From"], hit.form["To"]) == (ACCOUNT, PRACTICE, PATIENT)
        assert hit.form["ApiVersion"] == "2010-04-01" and "ErrorCode" not in hit.form
    fetched = await asyncio.to_thread(client.messages(message.sid).fetch)
    assert fetched.status == "delivered" and fetched.date_sent is not None


async def test_async_client_create_async_with_media(rig: Rig) -> None:
    http = AsyncSandboxHttpClient(rig.base)
    try:
        client = Client(ACCOUNT, TOKEN, http_client=http)
        message = await client.messages.create_async(
            to=PATIENT,
            from_=PRACTICE,
            body="Here is the form",
            media_url=["https://frontdesk.example/a.png", "https://frontdesk.example/b.png"],
            status_callback=rig.status_url,
        )
        assert re.fullmatch(r"MM[0-9a-f]{32}", message.sid or "")
        assert (message.status, message.num_media) == ("queued", "2")
        await rig.drain()
        fetched = await client.messages(message.sid).fetch_async()
        assert fetched.status == "delivered"
        listed = await client.messages.list_async(to=PATIENT)
        assert [m.sid for m in listed] == [message.sid]
    finally:
        await http.close()
    assert statuses(rig) == ["sent", "delivered"]


async def test_api_key_credentials_and_segments(rig: Rig) -> None:
    client = rig.client(api_key=True)
    long_text = await asyncio.to_thread(client.messages.create, to=PATIENT, from_=PRACTICE, body="x" * 161)
    emoji = await asyncio.to_thread(client.messages.create, to=PATIENT, from_=PRACTICE, body="😀" * 35 + "a")
    assert (long_text.num_segments, emoji.num_segments) == ("2", "2")


async def test_messaging_service_reports_queued_then_sent_then_delivered(rig: Rig) -> None:
    client = rig.client()
    message = await asyncio.to_thread(
        client.messages.create,
        to=PATIENT,
        messaging_service_sid=SERVICE,
        body="Hi",
        status_callback=rig.status_url,
    )
    assert (message.status, message.from_, message.messaging_service_sid) == ("accepted", None, SERVICE)
    await rig.drain()
    assert statuses(rig) == ["queued", "sent", "delivered"]
    hits = rig.receiver.on("/twilio/sms/status")
    assert {h.form["From"] for h in hits} == {PRACTICE}
    assert {h.form["MessagingServiceSid"] for h in hits} == {SERVICE}


@pytest.mark.parametrize(
    ("ending", "steps", "code"),
    [
        ("0003", ["failed"], 30003),
        ("0005", ["sent", "undelivered"], 30005),
        ("0006", ["sent", "undelivered"], 30006),
        ("0007", ["sent", "undelivered"], 30007),
    ],
)
async def test_magic_numbers_fail_with_twilio_codes(
    rig: Rig, ending: str, steps: list[str], code: int
) -> None:
    client = rig.client()
    to = "+1202555" + ending
    message = await asyncio.to_thread(
        client.messages.create, to=to, from_=PRACTICE, body="Hi", status_callback=rig.status_url
    )
    await rig.drain()
    assert statuses(rig) == steps
    final = rig.receiver.on("/twilio/sms/status")[-1]
    assert final.signed() and final.form["ErrorCode"] == str(code)
    assert all("ErrorCode" not in h.form for h in rig.receiver.on("/twilio/sms/status")[:-1])
    fetched = await asyncio.to_thread(client.messages(message.sid).fetch)
    assert (fetched.status, fetched.error_code) == (steps[-1], code)


async def test_errors_come_back_as_twilio_rest_exceptions(rig: Rig) -> None:
    async def code_of(client: Client, **kwargs: Any) -> tuple[int, int]:
        with pytest.raises(TwilioRestException) as caught:
            await asyncio.to_thread(client.messages.create, **kwargs)
        return caught.value.status, caught.value.code

    wrong = Client(ACCOUNT, "not-the-token", http_client=SandboxHttpClient(rig.base))
    good = rig.client()
    assert await code_of(wrong, to=PATIENT, from_=PRACTICE, body="x") == (401, 20003)
    assert await code_of(good, to="2025550143", from_=PRACTICE, body="x") == (400, 21211)
    assert await code_of(good, to=PATIENT, from_="+13125550100", body="x") == (400, 21606)
    assert await code_of(good, to=PATIENT, from_=PRACTICE, body="") == (400, 21602)
    assert await code_of(good, to=PATIENT, from_=PRACTICE, body="x" * 1601) == (400, 21617)
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(good.messages(new_sid("SM")).fetch)
    assert (caught.value.status, caught.value.code) == (404, 20404)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{rig.base}/2010-04-01/Accounts/{ACCOUNT}/Messages.json") as response:
            body = await response.json()
    assert response.status == 401 and body["code"] == 20003 and body["status"] == 401
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20003"


async def test_stop_opts_out_until_start(rig: Rig) -> None:
    client = rig.client()
    assert (await rig.inbound("  stop "))["status"] == 200
    hit = rig.receiver.on("/twilio/sms")[-1]
    assert hit.signed() and hit.form["OptOutType"] == "STOP"
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(client.messages.create, to=PATIENT, from_=PRACTICE, body="Reminder")
    assert (caught.value.status, caught.value.code) == (400, 21610)
    await rig.inbound("START")
    message = await asyncio.to_thread(client.messages.create, to=PATIENT, from_=PRACTICE, body="Welcome back")
    assert message.status == "queued"
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{rig.base}/sandbox/messages", params={"to": PATIENT}) as r,
    ):
        received = (await r.json())["messages"]
    # Twilio's Advanced Opt-Out answered both keywords itself.
    replies = [m["body"] for m in received if m["direction"] == "outbound-reply"]
    assert len(replies) == 2 and "unsubscribed" in replies[0] and "re-subscribed" in replies[1]


async def test_inbound_sms_is_signed_with_twilio_fields(rig: Rig) -> None:
    answer = await rig.inbound("Can I move my appointment?")
    assert answer["status"] == 200 and answer["attempts"] == 1
    [hit] = rig.receiver.on("/twilio/sms")
    assert hit.signed() and hit.url == rig.webhook_base + "/twilio/sms"
    form = hit.form
    assert re.fullmatch(r"SM[0-9a-f]{32}", form["MessageSid"]) and form["MessageSid"] == answer["sid"]
    assert form["SmsSid"] == form["SmsMessageSid"] == form["MessageSid"]
    assert (form["From"], form["To"], form["Body"]) == (PATIENT, PRACTICE, "Can I move my appointment?")
    assert (form["AccountSid"], form["MessagingServiceSid"], form["ApiVersion"]) == (
        ACCOUNT,
        SERVICE,
        "2010-04-01",
    )
    assert (form["NumMedia"], form["NumSegments"], form["SmsStatus"], form["FromCountry"]) == (
        "0",
        "1",
        "received",
        "US",
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{rig.base}/sandbox/messages", params={"from": PATIENT}) as r,
    ):
        [held] = (await r.json())["messages"]
    assert (held["sid"], held["direction"], held["status"]) == (answer["sid"], "inbound", "received")


async def test_inbound_mms_media_needs_basic_auth(rig: Rig) -> None:
    data = base64.b64encode(PNG).decode()
    answer = await rig.inbound(
        "my insurance card", media=[{"content_type": "image/png", "data_base64": data}]
    )
    [hit] = rig.receiver.on("/twilio/sms")
    assert hit.signed() and hit.form["NumMedia"] == "1" and hit.form["MediaContentType0"] == "image/png"
    sid = answer["sid"]
    assert re.fullmatch(r"MM[0-9a-f]{32}", sid)
    url = hit.form["MediaUrl0"]
    assert re.fullmatch(
        re.escape(f"{rig.base}/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media/") + "ME[0-9a-f]{32}", url
    )
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as anonymous:
            assert anonymous.status == 401
        async with http.get(
            url, headers={"Authorization": aiohttp.encode_basic_auth(ACCOUNT, "wrong")}
        ) as wrong:
            assert wrong.status == 401
        async with http.get(
            url, headers={"Authorization": aiohttp.encode_basic_auth(ACCOUNT, TOKEN)}
        ) as fetched:
            assert fetched.status == 200 and fetched.content_type == "image/png"
            assert await fetched.read() == PNG
    media = await asyncio.to_thread(rig.client(api_key=True).messages(sid).media.list)
    assert [(m.sid, m.content_type) for m in media] == [(url.rsplit("/", 1)[1], "image/png")]


async def test_webhook_5xx_is_retried_once_with_the_same_message_sid(make_rig: Make) -> None:
    rig = await make_rig(Receiver(fail_first=1))
    answer = await rig.inbound("hello?")
    assert (answer["status"], answer["attempts"]) == (200, 2)
    first, second = rig.receiver.on("/twilio/sms")
    assert first.form["MessageSid"] == second.form["MessageSid"] == answer["sid"]
    assert first.headers["I-Twilio-Idempotency-Token"] == second.headers["I-Twilio-Idempotency-Token"]
    assert first.signed() and second.signed()


async def test_webhook_timeout_is_retried_and_a_second_failure_gives_up(make_rig: Make) -> None:
    rig = await make_rig(Receiver(stall_first=1.0), webhook_timeout=0.3)
    answer = await rig.inbound("are you open?")
    assert (answer["status"], answer["attempts"]) == (200, 2)
    assert len({h.form["MessageSid"] for h in rig.receiver.on("/twilio/sms")}) == 1
    down = await make_rig(Receiver(fail_first=5))
    answer = await down.inbound("hello?")
    assert (answer["status"], answer["attempts"]) == (500, 2)
    assert len(down.receiver.on("/twilio/sms")) == 2


async def test_callbacks_can_come_twice_and_out_of_order(make_rig: Make) -> None:
    rig = await make_rig(duplicate_callbacks=True, reorder_callbacks=True)
    await asyncio.to_thread(
        rig.client().messages.create, to=PATIENT, from_=PRACTICE, body="Hi", status_callback=rig.status_url
    )
    await rig.drain()
    assert statuses(rig) == ["delivered", "delivered", "sent", "sent"]
    assert all(h.signed() for h in rig.receiver.hits)


async def test_twiml_reply_reaches_the_phone(make_rig: Make) -> None:
    twiml = (
        "<?xml version='1.0'?><Response><Message>We are closed; we will text you at 8.</Message></Response>"
    )
    rig = await make_rig(Receiver(twiml=twiml))
    await rig.inbound("hello")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{rig.base}/sandbox/messages", params={"to": PATIENT}) as r,
    ):
        [reply] = (await r.json())["messages"]
    assert (reply["from"], reply["direction"], reply["body"]) == (
        PRACTICE,
        "outbound-reply",
        "We are closed; we will text you at 8.",
    )


async def test_phone_page_sends_and_sees_the_practice_live(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(rig.base + "/phone") as page:
            assert page.status == 200 and "Content-Security-Policy" in page.headers
            assert "/phone/phone.js" in await page.text()
        async with http.get(rig.base + "/phone/phone.js") as script:
            assert script.status == 200 and "textContent" in await script.text()
        async with http.get(rig.base + "/phone/api/state", params={"phone": PATIENT}) as r:
            state = await r.json()
        assert state["numbers"] == [PRACTICE] and state["messages"] == []

        async def poll() -> Any:
            params = {"phone": PATIENT, "after": str(state["seq"]), "wait": "10"}
            async with http.get(rig.base + "/phone/api/state", params=params) as r:
                return await r.json()

        waiting = asyncio.create_task(poll())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await asyncio.to_thread(rig.client().messages.create, to=PATIENT, from_=PRACTICE, body="See you soon")
        live = await asyncio.wait_for(waiting, 5)
        assert [m["body"] for m in live["messages"]] == ["See you soon"]
        assert live["messages"][0]["mine"] is False

        form = aiohttp.FormData()
        form.add_field("phone", PATIENT)
        form.add_field("practice", PRACTICE)
        form.add_field("body", "Thanks!")
        form.add_field("picture", PNG, filename="card.png", content_type="image/png")
        async with http.post(rig.base + "/phone/api/send", data=form) as r:
            sent = await r.json()
        assert r.status == 200 and sent["status"] == 200
        hit = rig.receiver.on("/twilio/sms")[-1]
        assert hit.signed() and hit.form["MessageSid"] == sent["sid"] and hit.form["MediaUrl0"]
        async with http.get(rig.base + "/phone/api/state", params={"phone": PATIENT}) as r:
            mine = (await r.json())["messages"][-1]
        assert mine["mine"] is True and mine["media"][0]["url"].startswith("/phone/media/ME")
        async with http.get(rig.base + mine["media"][0]["url"]) as picture:
            assert await picture.read() == PNG

        foreign = aiohttp.FormData({"phone": PATIENT, "practice": PRACTICE, "body": "x"})
        async with http.post(
            rig.base + "/phone/api/send", data=foreign, headers={"Origin": "http://evil.test"}
        ) as r:
            assert r.status == 403
        async with http.post(rig.base + "/sandbox/inbound", data={"from": PATIENT}) as r:
            assert r.status == 415
    assert len(rig.receiver.on("/twilio/sms")) == 1


async def test_inbound_refuses_what_no_phone_could_send(rig: Rig) -> None:
    assert "error" in await rig.inbound("hi", frm="555-0143")
    assert "error" in await rig.inbound("   ")
    bad = [{"content_type": "text/html", "data_base64": base64.b64encode(b"<b>").decode()}]
    assert "error" in await rig.inbound("look", media=bad)
    assert rig.receiver.hits == []


def test_rebase_url_keeps_path_and_query() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B1202"
    assert (
        rebase_url(url, "http://127.0.0.1:8081")
        == "http://127.0.0.1:8081/2010-04-01/Accounts/AC1/Messages.json?To=%2B1202"
    )
    assert (
        rebase_url(url, "http://h/twilio/")
        == "http://h/twilio/2010-04-01/Accounts/AC1/Messages.json?To=%2B1202"
    )
