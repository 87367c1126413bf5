"""A running carrier sandbox with a fake practice server, patient phones and softphones, for voice tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from multidict import MultiDict
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from telephony.sandbox import (
    SANDBOX_ENGINE,
    SANDBOX_VOICE,
    AsyncSandboxHttpClient,
    SandboxConfig,
    create_sandbox_app,
)

TOKEN = "voice-test-token"
ACCOUNT = "AC" + "0a1b2c3d4e5f6789" * 2
API_KEY, API_SECRET = "SK" + "13579bdf02468ace" * 2, "voice-api-key-secret-0123456789abcdef"
APP_SID = "AP" + "abcdef0123456789" * 2
PRACTICE = "+12025550100"
PATIENT = "+12025550143"
OTHER_PATIENT = "+12025550177"
SCALE = 0.02

Twiml = str | Callable[["Hit"], str]


@dataclass
class Hit:
    """One request the fake practice server received."""

    method: str
    path: str
    url: str
    params: MultiDict[str]
    headers: dict[str, str]

    def signed(self) -> bool:
        """Whether X-Twilio-Signature verifies over the URL as called (with the form for a POST)."""
        signature = self.headers.get("X-Twilio-Signature", "")
        form = self.params if self.method == "POST" else {}
        return bool(RequestValidator(TOKEN).validate(self.url, form, signature))

    def __getitem__(self, name: str) -> str:
        return self.params[name]


@dataclass
class Practice:
    """A stand-in Frontdesk server: fixed TwiML per path, every request recorded."""

    twiml: dict[str, Twiml] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # path → HTTP status to answer

    def on(self, path: str) -> list[Hit]:
        """Requests to one path, in arrival order."""
        return [h for h in self.hits if h.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else request.query
        params = MultiDict((k, str(v)) for k, v in form.items())
        hit = Hit(request.method, request.path, str(request.url), params, dict(request.headers))
        self.hits.append(hit)
        if request.path in self.fail:
            return web.Response(status=self.fail[request.path])
        answer = self.twiml.get(request.path, "<Response/>")
        text = answer(hit) if callable(answer) else answer
        return web.Response(text=text, content_type="text/xml")


class Softphone:
    """A staff browser's softphone, speaking the sandbox's device protocol over a real WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []

    async def next(self, kind: str, seconds: float = 5.0) -> dict[str, Any]:
        """The next message of this type (others are kept in `seen`)."""
        for message in self._unread:
            if message["type"] == kind:
                self._unread.remove(message)
                return message
        deadline = time.monotonic() + seconds
        while True:
            message = await self.ws.receive_json(timeout=max(deadline - time.monotonic(), 0.01))
            self.seen.append(message)
            if message["type"] == kind:
                return message
            self._unread.append(message)

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send_json({"type": kind, **fields})


def access_token(identity: str, *, secret: str = API_SECRET, ttl: int = 3600, account: str = ACCOUNT) -> str:
    """A real twilio AccessToken with a VoiceGrant, as the Frontdesk server mints one."""
    token = AccessToken(account, API_KEY, secret, identity=identity, ttl=ttl)
    token.add_grant(VoiceGrant(outgoing_application_sid=APP_SID, incoming_allow=True))
    return str(token.to_jwt())


@dataclass
class VoiceRig:
    """The sandbox and the practice server, wired like production, with helpers for tests."""

    sandbox: Any
    practice: Practice
    webhook_base: str
    config: SandboxConfig
    http: aiohttp.ClientSession
    phones: list[Softphone] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(self.sandbox.make_url("")).rstrip("/")

    @property
    def voice(self) -> Any:
        return self.sandbox.app[SANDBOX_VOICE]

    @property
    def engine(self) -> Any:
        return self.sandbox.app[SANDBOX_ENGINE]

    def url(self, path: str) -> str:
        return self.webhook_base + path

    def client(self) -> tuple[Client, AsyncSandboxHttpClient]:
        http = AsyncSandboxHttpClient(self.base)
        return Client(ACCOUNT, TOKEN, http_client=http), http

    async def post(self, path: str, body: dict[str, Any] | None = None, status: int | None = None) -> Any:
        async with self.http.post(self.base + path, json=body or {}) as response:
            data = await response.json()
            if status is not None:
                assert response.status == status, (response.status, data)
            return data

    async def get(self, path: str, **params: str) -> Any:
        async with self.http.get(self.base + path, params=params) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def call_in(self, patient: str = PATIENT, to: str = PRACTICE) -> str:
        return str((await self.post(f"/sandbox/phones/{patient}/calls", {"to": to}, 200))["call_sid"])

    async def call(self, sid: str) -> dict[str, Any]:
        return dict(await self.get(f"/sandbox/calls/{sid}"))

    async def press(self, sid: str, digits: str) -> None:
        await self.post(f"/sandbox/calls/{sid}/digits", {"digits": digits, "wait": 5}, 200)

    async def speak(self, sid: str, text: str) -> None:
        await self.post(f"/sandbox/calls/{sid}/speech", {"text": text, "wait": 5}, 200)

    async def softphone(self, identity: str, token: str | None = None) -> Softphone:
        ws = await self.http.ws_connect(self.base + "/sandbox/client")
        phone = Softphone(ws)
        await phone.send("register", token=token or access_token(identity))
        self.phones.append(phone)
        return phone

    async def until(self, check: Callable[[], Any], seconds: float = 5.0) -> Any:
        """Poll until `check()` is truthy (it may be async); its value."""
        deadline = time.monotonic() + seconds
        while True:
            value = check()
            if isinstance(value, Awaitable):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.01)

    async def status(self, sid: str, wanted: str, seconds: float = 5.0) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            view = await self.call(sid)
            return view if view["status"] == wanted else None

        return dict(await self.until(reached, seconds))

    def path_of(self, url: str) -> str:
        return urlsplit(url).path


Make = Callable[..., Awaitable[VoiceRig]]


@pytest.fixture
async def make_voice(aiohttp_server: Any) -> Any:
    sessions: list[aiohttp.ClientSession] = []
    rigs: list[VoiceRig] = []

    async def make(practice: Practice | None = None, **overrides: Any) -> VoiceRig:
        practice = practice or Practice()
        stub = web.Application()
        stub.router.add_route("*", "/{tail:.*}", practice.handle)
        stub_server = await aiohttp_server(stub)
        webhook_base = str(stub_server.make_url("")).rstrip("/")
        config = SandboxConfig(
            account_sid=ACCOUNT,
            auth_token=TOKEN,
            webhook_base=webhook_base,
            numbers=(PRACTICE,),
            api_keys={API_KEY: API_SECRET},
            status_delay=0,
            webhook_timeout=2.0,
            twiml_app_sid=APP_SID,
            voice_time_scale=SCALE,
        )
        config = replace(config, **overrides)
        sandbox = await aiohttp_server(create_sandbox_app(config))
        http = aiohttp.ClientSession()
        sessions.append(http)
        rig = VoiceRig(sandbox, practice, webhook_base, config, http)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        for phone in rig.phones:
            await phone.ws.close()
    for http in sessions:
        await http.close()
