"""Twilio's Calls and Recordings REST resources (API 2010-04-01), Basic auth, Twilio's error shapes.

- `POST Calls.json`: To (E.164 or client:<identity>), From (a practice number, or client:x), Url or
  Twiml, Method, StatusCallback, StatusCallbackMethod, StatusCallbackEvent (repeated: initiated
  ringing answered completed), Timeout (default 60). Errors: 21201 no To, 21211/21217 bad To, 21213 no
  From, 21212 bad From, 21210 From not the account's number, 21205 no/bad Url (and no Twiml), 21209 bad
  Method, 21609 bad StatusCallback, 21626 bad StatusCallbackEvent.
- `GET Calls.json` (To, From, Status, ParentCallSid filters; newest first), `GET Calls/{CA}.json`.
- `POST Calls/{CA}.json`: Url (+Method) or Twiml redirects a live call (21220 unless in progress);
  Status=completed hangs up (an unanswered call is canceled), Status=canceled cancels a ringing one.
- `GET Recordings/{RE}.json`, `DELETE Recordings/{RE}.json`; the media at `Recordings/{RE}` and
  `Recordings/{RE}.wav` is a real WAV (8 kHz, 16-bit, mono, a quiet 440 Hz tone as long as the
  recording), also behind Basic auth; `.mp3` answers 404 (the sandbox has no MP3 encoder; ask for WAV).
"""

from __future__ import annotations

import io
import math
import struct
import wave

from aiohttp import web

from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.flow import Fetch
from telephony.sandbox.rest import ACCOUNT, Refused, authenticated, form_field, is_http_url, not_found, page
from telephony.sandbox.store import E164, SandboxStore
from telephony.sandbox.twiml import PROGRESS_EVENTS
from telephony.sandbox.voice_store import Call, Recording, VoiceStore

SAMPLE_RATE = 8000
CLIENT = "client:"


def wav_tone(seconds: int) -> bytes:
    """A quiet 440 Hz tone as an 8 kHz 16-bit mono WAV file, `seconds` long."""
    frames = SAMPLE_RATE * max(seconds, 0)
    period = [int(1200 * math.sin(2 * math.pi * 440 * i / SAMPLE_RATE)) for i in range(SAMPLE_RATE // 40)]
    samples = (period * (frames // len(period) + 1))[:frames]
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return out.getvalue()


def _valid_party(value: str) -> bool:
    return bool(E164.match(value)) or (value.startswith(CLIENT) and len(value) > len(CLIENT))


class CallsApi:
    """Handlers for Calls and Recordings."""

    def __init__(self, store: SandboxStore, voice: VoiceStore, engine: CallEngine) -> None:
        self.store = store
        self.voice = voice
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        """The REST routes, in Twilio's URL layout."""
        recording = ACCOUNT + "/Recordings/{sid:RE[0-9a-f]{32}}"
        return [
            web.post(ACCOUNT + "/Calls.json", self.create),
            web.get(ACCOUNT + "/Calls.json", self.list),
            web.get(ACCOUNT + "/Calls/{sid}.json", self.fetch),
            web.post(ACCOUNT + "/Calls/{sid}.json", self.update),
            web.get(recording + ".json", self.recording),
            web.delete(recording + ".json", self.delete_recording),
            web.get(recording, self.recording_media),
            web.get(recording + ".wav", self.recording_media),
            web.get(recording + ".mp3", self.recording_mp3),
        ]

    @authenticated
    async def create(self, request: web.Request, account: str) -> web.StreamResponse:
        """Place a call as Twilio validates one."""
        form = await request.post()
        field = form_field(form)
        to, from_, url, twiml = field("To"), field("From"), field("Url"), field("Twiml")
        method = (field("Method") or "POST").upper()
        callback = field("StatusCallback")
        events = frozenset(
            e for v in form.getall("StatusCallbackEvent", []) if isinstance(v, str) for e in v.split()
        )
        if not to:
            raise Refused(400, 21201, "No 'To' number is specified")
        if not _valid_party(to):
            raise Refused(400, 21217 if to.startswith("+") else 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            raise Refused(400, 21213, "A 'From' phone number is required.")
        if not _valid_party(from_):
            raise Refused(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        if E164.match(from_) and not self.store.owns_number(from_):
            raise Refused(
                400,
                21210,
                f"The source phone number provided, {from_}, is not yet verified for your account.",
            )
        if not twiml and (not url or not is_http_url(url)):
            raise Refused(
                400,
                21205,
                "Url parameter is required and must be a valid URL." if not url else f"Invalid Url: {url}",
            )
        if method not in ("GET", "POST"):
            raise Refused(400, 21209, f"Invalid Method: {method}")
        if callback and not is_http_url(callback):
            raise Refused(400, 21609, "Invalid 'StatusCallback'")
        if not events <= PROGRESS_EVENTS:
            raise Refused(400, 21626, "Invalid 'StatusCallbackEvent'")
        try:
            timeout = int(field("Timeout") or 60)
        except ValueError:
            raise Refused(400, 21208, "Invalid Timeout") from None
        call = self.voice.new_call(
            from_=from_,
            to=to,
            direction="outbound-api",
            status_callback=callback or None,
            status_callback_method=(field("StatusCallbackMethod") or "POST").upper(),
            status_callback_events=events,
        )
        first = Fetch(None, twiml=twiml) if twiml else Fetch(url, method)
        self.engine.place_outbound(call, first, min(max(timeout, 5), 600))
        return web.json_response(call.resource(self.voice.scale), status=201)

    @authenticated
    async def list(self, request: web.Request, account: str) -> web.StreamResponse:
        """Every matching call, newest first."""
        query = request.query
        filters = {"to": query.get("To"), "from_": query.get("From"), "status": query.get("Status")}
        parent = query.get("ParentCallSid")
        rows = [
            c.resource(self.voice.scale)
            for c in reversed(self.voice.calls.values())
            if all(v is None or getattr(c, k) == v for k, v in filters.items())
            and (parent is None or c.parent_call_sid == parent)
        ]
        return web.json_response(page(request, "calls", rows))

    @authenticated
    async def fetch(self, request: web.Request, account: str) -> web.StreamResponse:
        """The call as it stands."""
        return web.json_response(self._call(request).resource(self.voice.scale))

    @authenticated
    async def update(self, request: web.Request, account: str) -> web.StreamResponse:
        """Redirect a live call to new TwiML, or end it."""
        call = self._call(request)
        form = await request.post()
        field = form_field(form)
        url, twiml, status = field("Url"), field("Twiml"), field("Status")
        method = (field("Method") or "POST").upper()
        if status:
            if status not in ("completed", "canceled"):
                raise Refused(400, 20001, f"Invalid Status: {status}")
            # Canceling only touches a call still ringing; completed ends it either way.
            if status == "completed" or call.status in ("queued", "ringing"):
                self.engine.hang_up(call)
        elif url or twiml:
            if url and not is_http_url(url):
                raise Refused(400, 21205, f"Invalid Url: {url}")
            if call.status != "in-progress":
                raise Refused(400, 21220, "Call is not in-progress. Cannot redirect.")
            self.engine.redirect(call, Fetch(None, twiml=twiml) if twiml else Fetch(url, method))
        return web.json_response(call.resource(self.voice.scale))

    @authenticated
    async def recording(self, request: web.Request, account: str) -> web.StreamResponse:
        """A recording's metadata."""
        return web.json_response(self._recording(request).resource())

    @authenticated
    async def delete_recording(self, request: web.Request, account: str) -> web.StreamResponse:
        """Delete a recording (204, as Twilio answers)."""
        recording = self._recording(request)
        del self.voice.recordings[recording.sid]
        return web.Response(status=204)

    @authenticated
    async def recording_media(self, request: web.Request, account: str) -> web.StreamResponse:
        """The recording's audio as WAV (with or without the .wav extension)."""
        recording = self._recording(request)
        return web.Response(body=wav_tone(recording.duration), content_type="audio/x-wav")

    @authenticated
    async def recording_mp3(self, request: web.Request, account: str) -> web.StreamResponse:
        """No MP3 here: the sandbox only makes WAV."""
        self._recording(request)
        raise Refused(404, 20404, "The sandbox serves recordings as WAV only; drop the .mp3 extension.")

    def _call(self, request: web.Request) -> Call:
        call = self.voice.calls.get(request.match_info["sid"])
        if call is None:
            raise not_found(request)
        return call

    def _recording(self, request: web.Request) -> Recording:
        recording = self.voice.recordings.get(request.match_info["sid"])
        if recording is None:
            raise not_found(request)
        return recording
