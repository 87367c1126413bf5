"""REST control of a recording in progress: pause, resume or stop (see `call_recording`)."""

from __future__ import annotations

from aiohttp import web

from telephony.sandbox import call_recording
from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.conference_api import CONFERENCE
from telephony.sandbox.rest import ACCOUNT, Refused, authenticated, form_field, not_found
from telephony.sandbox.store import API_VERSION, SandboxStore, rfc2822
from telephony.sandbox.voice_store import VoiceStore

CURRENT = "Twilio.CURRENT"
STATUSES = ("paused", "in-progress", "stopped")


class RecordingsApi:
    """Handlers for Calls/{CA}/Recordings/{sid}.json and Conferences/{CF}/Recordings/{sid}.json."""

    def __init__(self, store: SandboxStore, voice: VoiceStore, engine: CallEngine) -> None:
        self.store = store
        self.voice = voice
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(ACCOUNT + "/Calls/{call}/Recordings/{sid}.json", self.update_call),
            web.post(CONFERENCE + "/Recordings/{sid}.json", self.update_conference),
        ]

    @authenticated
    async def update_call(self, request: web.Request, account: str) -> web.StreamResponse:
        """Pause, resume or stop the call's recording in progress."""
        return await self._update(request, self.voice.recording_now.get(request.match_info["call"]))

    @authenticated
    async def update_conference(self, request: web.Request, account: str) -> web.StreamResponse:
        """Pause, resume or stop the conference's recording in progress."""
        conf = self.voice.conferences.get(request.match_info["conference"])
        return await self._update(request, conf.recording if conf is not None else None)

    async def _update(self, request: web.Request, take: call_recording.Take | None) -> web.StreamResponse:
        sid = request.match_info["sid"]
        if take is None or take.done or sid not in (CURRENT, take.sid):
            raise not_found(request)
        field = form_field(await request.post())
        status = field("Status")
        if status not in STATUSES:
            raise Refused(400, 20001, f"Invalid Status: {status}")
        behavior = field("PauseBehavior") or "silence"
        if behavior not in ("skip", "silence"):
            raise Refused(400, 20001, f"Invalid PauseBehavior: {behavior}")
        if status == "paused":
            take.pause(skip=behavior == "skip")
        elif status == "in-progress":
            take.resume()
        else:
            call_recording.finish(self.engine, take)
        self.engine.voice.touch(None)
        return web.json_response(
            {
                "account_sid": take.account_sid,
                "api_version": API_VERSION,
                "call_sid": take.call_sid,
                "conference_sid": take.conference_sid,
                "sid": take.sid,
                "status": "stopped" if take.done else take.status,
                "source": take.source,
                "channels": take.channels,
                "start_time": rfc2822(take.started_at),
                "uri": f"/{API_VERSION}/Accounts/{take.account_sid}/Recordings/{take.sid}.json",
            }
        )
