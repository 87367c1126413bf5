"""Twilio voice webhooks: verify, normalize, one action, answer with TwiML fast (slow work after).

Every callback URL carries our call id (`?call=`); Twilio signs the whole URL, so it cannot be forged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from comms import call_control, call_flow, call_transfer, voicemail
from comms.call_flow import Step
from schemas.voice import VoiceConfig, VoiceWebhook
from telephony import voice_twiml
from telephony.signature import verified_form
from telephony.voice_normalize import voice_webhook
from telephony.voice_steps import effective, render
from web.carrier import wake_fetcher, wake_text_back
from web.keys import BACKGROUND, PRESENCE, SERVICES, SETTINGS, VOICE_CONTROL

BASE = "/twilio/voice"


async def _hook(request: web.Request) -> VoiceWebhook:
    return voice_webhook(await verified_form(request, request.app[SETTINGS]))


def _query_int(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


def _online(request: web.Request) -> set[int]:
    """Staff with the inbox open on any node right now (their softphones are registered)."""
    return {int(row["user_id"]) for row in request.app[PRESENCE].snapshot()}


def _background(app: web.Application, work: Coroutine[Any, Any, None]) -> None:
    """Run carrier follow-ups after the webhook is answered, kept referenced until they finish."""
    task = asyncio.get_running_loop().create_task(work)
    app[BACKGROUND].add(task)
    task.add_done_callback(app[BACKGROUND].discard)


def _xml(document: str) -> web.Response:
    return web.Response(text=document, content_type="text/xml")


def _step(request: web.Request, step: Step) -> web.Response:
    settings = request.app[SETTINGS]
    return _xml(render(step, settings.server.public_base_url + BASE, settings.recording))


async def incoming(request: web.Request) -> web.Response:
    """POST /twilio/voice: a patient calls one of the locations' numbers."""
    hook = await _hook(request)
    return _step(request, await call_flow.inbound(request.app[SERVICES], hook, _online(request)))


async def menu(request: web.Request) -> web.Response:
    hook = await _hook(request)
    step = await call_flow.menu_choice(
        request.app[SERVICES],
        _query_int(request, "call"),
        hook,
        _query_int(request, "attempt") or 1,
        request.query.get("again") == "0",
        _online(request),
    )
    return _step(request, step)


async def dial(request: web.Request) -> web.Response:
    hook = await _hook(request)
    step = await call_flow.dial_ended(
        request.app[SERVICES], _query_int(request, "call"), hook, _online(request)
    )
    return _step(request, step)


async def leg(request: web.Request) -> web.Response:
    hook = await _hook(request)
    await call_flow.leg(request.app[SERVICES], _query_int(request, "call"), hook)
    return web.Response(status=204)


async def queue_wait(request: web.Request) -> web.Response:
    hook = await _hook(request)
    config = await call_flow.config_for(request.app[SERVICES], _query_int(request, "call"), hook.call_sid)
    return _xml(voice_twiml.queue_wait(config, hook.queue_position or 1, hook.queue_time or 0))


async def queue_done(request: web.Request) -> web.Response:
    hook = await _hook(request)
    return _step(
        request, await call_flow.queue_done(request.app[SERVICES], _query_int(request, "call"), hook)
    )


async def queue_connect(request: web.Request) -> web.Response:
    """Twilio runs this on the queued caller's leg just before a softphone takes it."""
    hook = await _hook(request)
    await call_flow.queue_connect(request.app[SERVICES], hook, _query_int(request, "by"))
    config = await _config(request, hook)
    return _xml(voice_twiml.say_only("Connecting you now.", config))


async def consent(request: web.Request) -> web.Response:
    """A recorded outbound call: the patient has answered and hears the announcement first."""
    hook = await _hook(request)
    return _xml(voice_twiml.consent(await _config(request, hook)))


async def _config(request: web.Request, hook: VoiceWebhook) -> VoiceConfig:
    """The call's location set-up, with the practice's recording choice filled in."""
    services = request.app[SERVICES]
    config = await call_flow.config_for(services, _query_int(request, "call"), hook.call_sid)
    return effective(config, services.settings.recording)


async def voicemail_left(request: web.Request) -> web.Response:
    hook = await _hook(request)
    step = await call_flow.voicemail_left(request.app[SERVICES], _query_int(request, "call"), hook)
    return _step(request, step)


async def recording(request: web.Request) -> web.Response:
    hook = await _hook(request)
    kind = "call" if request.query.get("kind") == "call" else "voicemail"
    media_id = await voicemail.recording(request.app[SERVICES], _query_int(request, "call"), hook, kind)
    if media_id is not None:
        wake_fetcher(request.app)
    return web.Response(status=204)


async def transcription(request: web.Request) -> web.Response:
    hook = await _hook(request)
    await voicemail.transcription(request.app[SERVICES], _query_int(request, "call"), hook)
    return web.Response(status=204)


async def status(request: web.Request) -> web.Response:
    """The number's (or the TwiML App's) call status callback: the call is over."""
    hook = await _hook(request)
    if await call_flow.status(request.app[SERVICES], hook):
        wake_text_back(request.app)
    return web.Response(status=204)


async def hold_music(request: web.Request) -> web.Response:
    hook = await _hook(request)
    config = await call_flow.config_for(request.app[SERVICES], _query_int(request, "call"), hook.call_sid)
    return _xml(voice_twiml.hold_music(config))


async def hang_up(request: web.Request) -> web.Response:
    """A staff leg's or a conference's <Dial> ended: nothing more to do on that leg."""
    await _hook(request)
    return _xml(voice_twiml.hang_up())


async def conference_event(request: web.Request) -> web.Response:
    """The call's conference: remember its sid; the patient leaving it ends the call."""
    hook = await _hook(request)
    call_id = _query_int(request, "call")
    follow_up = await call_transfer.conference_event(
        request.app[SERVICES], call_id, hook.call_sid, hook.conference_sid, hook.conference_event or ""
    )
    if follow_up == "ended":
        wake_text_back(request.app)
    elif follow_up in ("hold", "unhold") and (control := request.app.get(VOICE_CONTROL)) is not None:
        # After we answer: Twilio may wait for this response before the participant can be changed.
        hold = follow_up == "hold"
        _background(request.app, control.patient_hold(call_id, hold))
    return web.Response(status=204)


async def outbound(request: web.Request) -> web.Response:
    """POST /twilio/voice/outbound: the TwiML App's Voice URL, for calls a softphone places."""
    hook = await _hook(request)
    return _step(request, await call_control.softphone_request(request.app[SERVICES], hook))


def add_routes(app: web.Application) -> None:
    routes = {
        "": incoming,
        "/menu": menu,
        "/dial": dial,
        "/leg": leg,
        "/queue-wait": queue_wait,
        "/queue-done": queue_done,
        "/queue-connect": queue_connect,
        "/consent": consent,
        "/voicemail": voicemail_left,
        "/recording": recording,
        "/transcription": transcription,
        "/status": status,
        "/hold-music": hold_music,
        "/agent-done": hang_up,
        "/conference-done": hang_up,
        "/conference": conference_event,
        "/outbound": outbound,
    }
    for path, handler in routes.items():
        app.router.add_post(BASE + path, handler)
