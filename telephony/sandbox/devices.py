"""Staff softphones: a WebSocket at /sandbox/client standing in for the Twilio Voice SDK's signalling.

The first message must be `{"type": "register", "token": JWT}` (tokens never travel in URLs). The JWT
is a twilio AccessToken with a VoiceGrant, HS256-signed with an API key secret from
`SandboxConfig.api_keys`: iss = the key SID, sub = the account SID, grants.identity,
grants.voice.incoming.allow (only then does the device ring), grants.voice.outgoing.application_sid
(must be the sandbox's TwiML App to place calls), exp checked (also while registered: at expiry the
device gets error 20104 and is closed unless `update_token` extended it). A bad token gets
`{"type": "error", "code": 20101, "message"}` (20104 when expired) and the socket closes.

Server → device: `registered {identity}` (also after update_token), `incoming {call_sid,
parent_call_sid, from, to, params}` (params: the <Client>'s <Parameter>s), `canceled {call_sid}` (it
stopped ringing: someone else answered, the caller left, or it timed out), `connected {call_sid}`
(an accepted incoming call, or an outgoing one whose TwiML started), `disconnected {call_sid}`,
`outgoing {ref, call_sid}`, `error {code, message[, ref | call_sid]}` (31000 for a bad command).
Device → server: `accept`, `reject`, `hangup`, `mute {muted}`, `digits {digits}` (each with
call_sid), `connect {ref, params}` (params.To becomes the call's To; every param is POSTed to the
TwiML App's Voice URL with From=client:<identity>, Caller, Direction=inbound, ApplicationSid).
Several devices may register one identity: all ring, the first to accept gets the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import WSMsgType, web

from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.store import SandboxConfig
from telephony.sandbox.voice_store import Call, VoiceStore

REGISTER_WITHIN = 10.0  # seconds a new socket has to register
MAX_MESSAGE = 64 * 1024
OUTBOX = 256  # messages queued for one device before it is dropped as too slow
INVALID_TOKEN, EXPIRED_TOKEN, BAD_COMMAND, BAD_APPLICATION = 20101, 20104, 31000, 21218
_ids = itertools.count(1)


class TokenRefused(Exception):
    """An access token the sandbox does not accept, with Twilio's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Grant:
    """What a verified access token allows."""

    identity: str
    incoming: bool
    application_sid: str | None
    expires: float


def verify_token(config: SandboxConfig, token: str) -> Grant:
    """Check an AccessToken as Twilio does: the key's secret, the account, expiry and the voice grant."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise TokenRefused(INVALID_TOKEN, "Invalid Access Token") from None
    secret = config.api_keys.get(str(unverified.get("iss", "")))
    if secret is None:
        raise TokenRefused(INVALID_TOKEN, "Invalid Access Token issuer/subject")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "iss", "sub"]})
    except jwt.ExpiredSignatureError:
        raise TokenRefused(EXPIRED_TOKEN, "Access Token expired or expiration date invalid") from None
    except jwt.InvalidTokenError:
        raise TokenRefused(INVALID_TOKEN, "Invalid Access Token") from None
    grants = _mapping(claims.get("grants"))
    identity = grants.get("identity")
    if claims.get("sub") != config.account_sid or not isinstance(identity, str) or not identity:
        raise TokenRefused(INVALID_TOKEN, "Invalid Access Token: wrong account or no identity")
    voice = _mapping(grants.get("voice"))
    app = _mapping(voice.get("outgoing")).get("application_sid")
    return Grant(
        identity,
        _mapping(voice.get("incoming")).get("allow") is True,
        app if isinstance(app, str) else None,
        float(claims["exp"]),
    )


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(eq=False)
class Device:
    """One registered softphone connection."""

    ws: web.WebSocketResponse
    grant: Grant
    id: int = field(default_factory=lambda: next(_ids))
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(OUTBOX))
    closing: asyncio.Future[Any] | None = None

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the writer; a device that stops reading is closed, never waited for."""
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.closing = asyncio.ensure_future(self.ws.close(message=b"too slow"))


class DeviceRegistry:
    """Registered softphones by identity, and which calls each was offered or is on."""

    def __init__(self, config: SandboxConfig, voice: VoiceStore, engine: CallEngine) -> None:
        self.config = config
        self.voice = voice
        self.engine = engine
        self.devices: dict[str, set[Device]] = {}
        self._offered: dict[str, set[Device]] = {}
        self._owner: dict[str, Device] = {}
        engine.devices = self

    def ring(self, call: Call, identity: str) -> bool:
        """Send `incoming` to every device of the identity that takes incoming calls."""
        devices = {d for d in self.devices.get(identity, set()) if d.grant.incoming}
        if not devices:
            return False
        self._offered[call.sid] = devices
        message = {
            "type": "incoming",
            "call_sid": call.sid,
            "parent_call_sid": call.parent_call_sid,
            "from": call.from_,
            "to": call.to,
            "params": call.params,
        }
        for device in devices:
            device.send(message)
        return True

    def call_answered(self, call: Call) -> None:
        """The call the device is on went live: `connected`."""
        owner = self._owner.get(call.sid)
        if owner is not None:
            owner.send({"type": "connected", "call_sid": call.sid})

    def call_ended(self, call: Call) -> None:
        """`disconnected` to the device on the call, `canceled` to those it was only ringing."""
        owner = self._owner.pop(call.sid, None)
        for device in self._offered.pop(call.sid, set()) - {owner}:
            device.send({"type": "canceled", "call_sid": call.sid})
        if owner is not None:
            owner.send({"type": "disconnected", "call_sid": call.sid})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The softphone socket: register, then commands until it closes."""
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE, compress=False)
        await ws.prepare(request)
        device: Device | None = None
        writer: asyncio.Task[None] | None = None
        try:
            first = await self._receive(ws, REGISTER_WITHIN)
            if first is None or first.get("type") != "register":
                await _refuse(ws, INVALID_TOKEN, "register with an access token first")
                return ws
            try:
                grant = verify_token(self.config, str(first.get("token", "")))
            except TokenRefused as refused:
                await _refuse(ws, refused.code, str(refused))
                return ws
            device = Device(ws, grant)
            self.devices.setdefault(grant.identity, set()).add(device)
            writer = asyncio.ensure_future(_write(device))
            device.send({"type": "registered", "identity": grant.identity})
            while not ws.closed:
                message = await self._receive(ws, max(device.grant.expires - time.time(), 0.0))
                if message is None:
                    if not ws.closed and time.time() >= device.grant.expires:
                        device.send(
                            {"type": "error", "code": EXPIRED_TOKEN, "message": "Access Token expired"}
                        )
                        await asyncio.sleep(0)
                        break
                    continue
                await self._command(device, message)
        finally:
            if writer is not None:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
            if device is not None:
                self._forget(device)
                await _flush(device)
            await ws.close()
        return ws

    async def _receive(self, ws: web.WebSocketResponse, seconds: float) -> dict[str, Any] | None:
        """The next JSON object; None on timeout, close, or a frame that is not one."""
        try:
            msg = await ws.receive(timeout=seconds)
        except TimeoutError:
            return None
        if msg.type != WSMsgType.TEXT:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                await ws.close()
            return None
        try:
            data = json.loads(msg.data)
        except ValueError:
            return {"type": "invalid"}
        return data if isinstance(data, dict) else {"type": "invalid"}

    async def _command(self, device: Device, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "update_token":
            try:
                grant = verify_token(self.config, str(message.get("token", "")))
            except TokenRefused as refused:
                device.send({"type": "error", "code": refused.code, "message": str(refused)})
                return
            if grant.identity != device.grant.identity:
                device.send(
                    {"type": "error", "code": INVALID_TOKEN, "message": "the token is for another identity"}
                )
                return
            device.grant = grant
            device.send({"type": "registered", "identity": grant.identity})
            return
        if kind == "connect":
            self._connect(device, message)
            return
        call = self.voice.calls.get(str(message.get("call_sid", "")))
        if call is None or kind not in ("accept", "reject", "hangup", "mute", "digits"):
            device.send({"type": "error", "code": BAD_COMMAND, "message": f"unknown command or call: {kind}"})
            return
        offered = device in self._offered.get(call.sid, set())
        if kind == "accept":
            if offered and call.answer is not None and not call.answer.done():
                self._owner[call.sid] = device
                others = self._offered[call.sid] - {device}
                self._offered[call.sid] = {device}
                for other in others:
                    other.send({"type": "canceled", "call_sid": call.sid})
                self.engine.respond(call, "answered")
            else:
                device.send({"type": "canceled", "call_sid": call.sid})
        elif kind in ("reject", "hangup") and offered and self._owner.get(call.sid) is not device:
            self._offered[call.sid].discard(device)
            self.engine.respond(call, "busy")
        elif kind == "hangup" and self._owner.get(call.sid) is device:
            self.engine.hang_up(call)
        elif kind == "mute" and self._owner.get(call.sid) is device:
            call.muted = bool(message.get("muted"))
            self.voice.event(call, "mute", muted=call.muted)
        elif kind == "digits" and self._owner.get(call.sid) is device:
            self.engine.deliver(call, "dtmf", str(message.get("digits", "")))

    def _connect(self, device: Device, message: dict[str, Any]) -> None:
        """An outgoing call through the TwiML App, as Device.connect({params}) places it."""
        ref = message.get("ref")
        if device.grant.application_sid != self.config.twiml_app_sid:
            device.send(
                {"type": "error", "code": BAD_APPLICATION, "message": "Invalid ApplicationSid", "ref": ref}
            )
            return
        raw = message.get("params") or {}
        params = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        call = self.engine.place_from_client(device.grant.identity, params)
        self._owner[call.sid] = device
        device.send({"type": "outgoing", "ref": ref, "call_sid": call.sid})

    def _forget(self, device: Device) -> None:
        """A closed device leaves its identity; a call it was on hangs up."""
        self.devices.get(device.grant.identity, set()).discard(device)
        for offered in self._offered.values():
            offered.discard(device)
        for sid, owner in list(self._owner.items()):
            if owner is device:
                del self._owner[sid]
                call = self.voice.calls.get(sid)
                if call is not None:
                    self.engine.hang_up(call)


async def _write(device: Device) -> None:
    """The device's one writer: drains its outbox to the socket in order."""
    while True:
        message = await device.outbox.get()
        await device.ws.send_json(message)


async def _flush(device: Device) -> None:
    """Send what is still queued (e.g. the expiry error) before the socket closes."""
    with contextlib.suppress(Exception):
        while not device.outbox.empty() and not device.ws.closed:
            await device.ws.send_json(device.outbox.get_nowait())


async def _refuse(ws: web.WebSocketResponse, code: int, message: str) -> None:
    await ws.send_json({"type": "error", "code": code, "message": message})
    await ws.close()
