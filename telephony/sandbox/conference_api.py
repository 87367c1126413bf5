"""Twilio's Conferences and Participants REST resources (API 2010-04-01).

- `GET Conferences.json` (FriendlyName, Status filters), `GET Conferences/{CF}.json`,
  `POST Conferences/{CF}.json` with Status=completed ends it (everyone goes on after their Dial).
- `GET Conferences/{CF}/Participants.json`; `POST` creates one: From, To (E.164 or client:x), Label,
  StartConferenceOnEnter, EndConferenceOnExit, Muted, StatusCallback, StatusCallbackMethod,
  StatusCallbackEvent, Timeout (default 60), ConferenceStatusCallback(+Method, +Event: the conference's
  own callback when none is set yet): the sandbox dials To (direction outbound-api) and puts the
  call in the conference when it answers. In the create path the conference may be named by its
  FriendlyName instead of its SID (Twilio's rule), and is made if it does not exist yet.
- `GET/POST/DELETE Conferences/{CF}/Participants/{CA or label}.json`: Hold (with HoldUrl, HoldMethod),
  Muted; DELETE takes the participant out (204) and its call goes on after its Dial.
"""

from __future__ import annotations

from aiohttp import web

from telephony.sandbox import conferences
from telephony.sandbox.call_engine import CallEngine
from telephony.sandbox.rest import ACCOUNT, Refused, authenticated, form_field, is_http_url, not_found, page
from telephony.sandbox.store import E164, SandboxStore
from telephony.sandbox.twiml import PROGRESS_EVENTS
from telephony.sandbox.voice_store import Conference, Participant, VoiceStore

CONFERENCE = ACCOUNT + "/Conferences/{conference}"


def _flag(value: str, default: bool) -> bool:
    return default if not value else value.lower() == "true"


class ConferencesApi:
    """Handlers for Conferences and their Participants."""

    def __init__(self, store: SandboxStore, voice: VoiceStore, engine: CallEngine) -> None:
        self.store = store
        self.voice = voice
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        """The REST routes, in Twilio's URL layout."""
        participant = CONFERENCE + "/Participants/{participant}.json"
        return [
            web.get(ACCOUNT + "/Conferences.json", self.list),
            web.get(CONFERENCE + ".json", self.fetch),
            web.post(CONFERENCE + ".json", self.update),
            web.get(CONFERENCE + "/Participants.json", self.participants),
            web.post(CONFERENCE + "/Participants.json", self.add),
            web.get(participant, self.participant),
            web.post(participant, self.update_participant),
            web.delete(participant, self.kick),
        ]

    @authenticated
    async def list(self, request: web.Request, account: str) -> web.StreamResponse:
        """Conferences, newest first, optionally by FriendlyName and Status."""
        name, status = request.query.get("FriendlyName"), request.query.get("Status")
        rows = [
            c.resource()
            for c in reversed(self.voice.conferences.values())
            if (name is None or c.friendly_name == name) and (status is None or c.status == status)
        ]
        return web.json_response(page(request, "conferences", rows))

    @authenticated
    async def fetch(self, request: web.Request, account: str) -> web.StreamResponse:
        """One conference."""
        return web.json_response(self._conference(request).resource())

    @authenticated
    async def update(self, request: web.Request, account: str) -> web.StreamResponse:
        """Status=completed ends the conference."""
        conf = self._conference(request)
        status = form_field(await request.post())("Status")
        if status and status != "completed":
            raise Refused(400, 20001, f"Invalid Status: {status}")
        if status:
            conferences.end_conference(self.engine, conf, "conference-ended-via-api")
        return web.json_response(conf.resource())

    @authenticated
    async def participants(self, request: web.Request, account: str) -> web.StreamResponse:
        """Everyone in the conference now."""
        rows = [p.resource() for p in self._conference(request).participants.values()]
        return web.json_response(page(request, "participants", rows))

    @authenticated
    async def add(self, request: web.Request, account: str) -> web.StreamResponse:
        """Dial To and, once it answers, put it in the conference."""
        key = request.match_info["conference"]
        conf = self.voice.conferences.get(key) if key.startswith("CF") else conferences.room(self.engine, key)
        if conf is None or conf.status == "completed":
            raise not_found(request)
        form = await request.post()
        field = form_field(form)
        to, from_, callback = field("To"), field("From"), field("StatusCallback")
        events = frozenset(
            e for v in form.getall("StatusCallbackEvent", []) if isinstance(v, str) for e in v.split()
        )
        if not to:
            raise Refused(400, 21201, "No 'To' number is specified")
        if not (E164.match(to) or (to.startswith("client:") and len(to) > 7)):
            raise Refused(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            raise Refused(400, 21213, "A 'From' phone number is required.")
        if callback and not is_http_url(callback):
            raise Refused(400, 21609, "Invalid 'StatusCallback'")
        if not events <= PROGRESS_EVENTS:
            raise Refused(400, 21626, "Invalid 'StatusCallbackEvent'")
        conference_callback = field("ConferenceStatusCallback")
        if conference_callback and not is_http_url(conference_callback):
            raise Refused(400, 21609, "Invalid 'ConferenceStatusCallback'")
        if conference_callback and conf.status_callback is None:
            words = {
                e
                for v in form.getall("ConferenceStatusCallbackEvent", [])
                if isinstance(v, str)
                for e in v.split()
            }
            conf.status_callback = conference_callback
            conf.status_callback_method = (field("ConferenceStatusCallbackMethod") or "POST").upper()
            conf.status_callback_events = frozenset(words) or conferences.DEFAULT_CONFERENCE_EVENTS
        call = self.voice.new_call(
            from_=from_,
            to=to,
            direction="outbound-api",
            status_callback=callback or None,
            status_callback_method=(field("StatusCallbackMethod") or "POST").upper(),
            status_callback_events=events,
        )
        participant = Participant(
            call_sid=call.sid,
            conference_sid=conf.sid,
            account_sid=account,
            label=field("Label") or None,
            muted=_flag(field("Muted"), False),
            start_conference_on_enter=_flag(field("StartConferenceOnEnter"), True),
            end_conference_on_exit=_flag(field("EndConferenceOnExit"), False),
            beep=field("Beep") in ("", "true", "onEnter"),
            status="queued",
        )
        try:
            ring = int(field("Timeout") or 60)
        except ValueError:
            raise Refused(400, 21208, "Invalid Timeout") from None
        self.engine.spawn(
            conferences.add_participant(self.engine, call, conf, participant, min(max(ring, 5), 600))
        )
        return web.json_response(participant.resource(), status=201)

    @authenticated
    async def participant(self, request: web.Request, account: str) -> web.StreamResponse:
        """One participant, by CallSid or label."""
        return web.json_response(self._participant(request)[1].resource())

    @authenticated
    async def update_participant(self, request: web.Request, account: str) -> web.StreamResponse:
        """Hold/unhold (with HoldUrl) and mute/unmute."""
        conf, participant = self._participant(request)
        field = form_field(await request.post())
        hold_url = field("HoldUrl")
        if hold_url and not is_http_url(hold_url):
            raise Refused(400, 21205, f"Invalid HoldUrl: {hold_url}")
        conferences.update_participant(
            self.engine,
            conf,
            participant,
            hold=_flag(field("Hold"), participant.hold) if field("Hold") else None,
            hold_url=hold_url or None,
            hold_method=(field("HoldMethod") or "POST").upper(),
            muted=_flag(field("Muted"), participant.muted) if field("Muted") else None,
        )
        return web.json_response(participant.resource())

    @authenticated
    async def kick(self, request: web.Request, account: str) -> web.StreamResponse:
        """Take the participant out of the conference."""
        conferences.kick(self.engine, self._participant(request)[1])
        return web.Response(status=204)

    def _conference(self, request: web.Request) -> Conference:
        conf = self.voice.conferences.get(request.match_info["conference"])
        if conf is None:
            raise not_found(request)
        return conf

    def _participant(self, request: web.Request) -> tuple[Conference, Participant]:
        conf = self._conference(request)
        key = request.match_info["participant"]
        for participant in conf.participants.values():
            if key in (participant.call_sid, participant.label):
                return conf, participant
        raise not_found(request)
