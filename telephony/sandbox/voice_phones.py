"""Patients' phones on the voice side: JSON over HTTP for the phone page and for tests (no auth).

- `POST /sandbox/phones/{e164}/calls {"to": practice number}` → `{"call_sid"}`: the phone calls in.
- `GET /sandbox/phones/{e164}/calls?after=SEQ&wait=S` → `{"seq", "calls": [call view]}`: long poll
  (answers at once when anything changed after SEQ, else within S ≤ 25 seconds).
- `GET /sandbox/calls/{sid}` → the call view: `{call_sid, parent_call_sid, status, direction, from,
  to, duration, heard: [{verb, text | url | digits | length}], connected_to, listening (Gather,
  Record or null), muted, events: [{type, ...}], seq}`.
- `POST /sandbox/calls/{sid}/digits {"digits", "wait"?}` and `/speech {"text", "wait"?}`: what the
  person on that leg presses or says, for a Gather or Record listening on it; with `wait` (seconds)
  the request waits that long for the call to start listening. 200 `{"delivered": true}`, else 409.
- `POST /sandbox/calls/{sid}/answer`, `/decline` (a call ringing the phone: answered, or busy) and
  `/hangup` (ringing: declined; live: hung up). 409 when the call is not in a state for it.
- `GET /sandbox/twiml-log` → `{"documents": [...], "errors": [...]}`: every TwiML document the
  sandbox fetched ({call_sid, url, method, status, document, violations, error, at}) and the ones
  that ended a call.
These endpoints take JSON bodies only, which cross-site HTML forms cannot send.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.store import E164, SandboxStore
from telephony.sandbox.voice_store import Call, VoiceStore

MAX_POLL_SECONDS = 25.0
MAX_INPUT_WAIT = 30.0


class VoicePhones:
    """The patient-phone and test API for calls."""

    def __init__(self, store: SandboxStore, voice: VoiceStore, engine: CallEngine) -> None:
        self.store = store
        self.voice = voice
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        """The JSON routes."""
        call = "/sandbox/calls/{sid:CA[0-9a-f]{32}}"
        return [
            web.post("/sandbox/phones/{number}/calls", self.dial),
            web.get("/sandbox/phones/{number}/calls", self.calls),
            web.get(call, self.show),
            web.post(call + "/digits", self.digits),
            web.post(call + "/speech", self.speech),
            web.post(call + "/answer", self.answer),
            web.post(call + "/decline", self.decline),
            web.post(call + "/hangup", self.hangup),
            web.get("/sandbox/twiml-log", self.twiml_log),
        ]

    async def dial(self, request: web.Request) -> web.StreamResponse:
        """The phone calls a practice number."""
        number = request.match_info["number"]
        body = await _json(request)
        to = str(body.get("to", ""))
        if not E164.match(number):
            return _error(400, f"the phone number {number!r} is not E.164 (+15551234567)")
        if not E164.match(to) or not self.store.owns_number(to):
            return _error(400, f"{to!r} is not one of the practice's numbers")
        call = self.engine.place_inbound(number, to)
        return web.json_response({"call_sid": call.sid})

    async def calls(self, request: web.Request) -> web.StreamResponse:
        """Long poll: this phone's calls once anything changed after `after`."""
        try:
            after = int(request.query.get("after", "-1"))
            wait = min(max(float(request.query.get("wait", "0")), 0.0), MAX_POLL_SECONDS)
        except ValueError:
            return _error(400, "after and wait must be numbers")
        await self.voice.wait_for_change(after, seconds=wait)
        number = request.match_info["number"]
        scale = self.voice.scale
        calls = [c.view(scale) for c in self.voice.phone_calls(number)]
        return web.json_response({"seq": self.voice.seq, "calls": calls})

    async def show(self, request: web.Request) -> web.StreamResponse:
        """One call leg as the sandbox sees it."""
        return web.json_response(self._call(request).view(self.voice.scale))

    async def digits(self, request: web.Request) -> web.StreamResponse:
        """Keys pressed on the phone."""
        body = await _json(request)
        digits = str(body.get("digits", ""))
        if not digits or any(d not in "0123456789*#" for d in digits):
            return _error(400, "digits are 0-9, * and #")
        return await self._input(self._call(request), "dtmf", digits, body)

    async def speech(self, request: web.Request) -> web.StreamResponse:
        """Words said into the phone."""
        body = await _json(request)
        text = str(body.get("text", "")).strip()
        if not text:
            return _error(400, "say something")
        return await self._input(self._call(request), "speech", text, body)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        """Pick up a call ringing this phone."""
        await _json(request)
        if not self.engine.respond(self._call(request), "answered"):
            return _error(409, "the call is not ringing")
        return web.json_response({"status": "answered"})

    async def decline(self, request: web.Request) -> web.StreamResponse:
        """Decline a call ringing this phone (the caller's side sees busy)."""
        await _json(request)
        if not self.engine.respond(self._call(request), "busy"):
            return _error(409, "the call is not ringing")
        return web.json_response({"status": "declined"})

    async def hangup(self, request: web.Request) -> web.StreamResponse:
        """Hang up: decline if ringing this phone, else end the call."""
        await _json(request)
        call = self._call(request)
        if not (self.engine.respond(call, "busy") or self.engine.hang_up(call)):
            return _error(409, "the call has already ended")
        return web.json_response({"status": "hung up"})

    async def twiml_log(self, request: web.Request) -> web.StreamResponse:
        """Every TwiML document fetched, and those that ended calls."""
        return web.json_response({"documents": self.voice.twiml_log, "errors": self.voice.twiml_errors})

    async def _input(self, call: Call, kind: str, value: str, body: dict[str, Any]) -> web.Response:
        try:
            wait = min(max(float(body.get("wait", 0)), 0.0), MAX_INPUT_WAIT)
        except (TypeError, ValueError):
            return _error(400, "wait must be a number of seconds")
        deadline = time.monotonic() + wait
        while not self.engine.deliver(call, kind, value):
            left = deadline - time.monotonic()
            if left <= 0 or not call.live:
                return _error(
                    409, f"nothing on the call is listening for {'digits' if kind == 'dtmf' else 'speech'}"
                )
            await self.voice.wait_for_change(self.voice.seq, seconds=min(left, 0.5))
            await asyncio.sleep(0)
        return web.json_response({"delivered": True})

    def _call(self, request: web.Request) -> Call:
        call = self.voice.calls.get(request.match_info["sid"])
        if call is None:
            raise web.HTTPNotFound(text='{"error": "no such call"}', content_type="application/json")
        return call


async def _json(request: web.Request) -> dict[str, Any]:
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise web.HTTPForbidden(
            text='{"error": "cross-site request refused"}', content_type="application/json"
        )
    if request.method == "POST" and request.can_read_body and request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text='{"error": "send application/json"}', content_type="application/json"
        )
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "the body is not JSON"}', content_type="application/json"
        ) from None
    return data if isinstance(data, dict) else {}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
