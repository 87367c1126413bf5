"""The carrier's background workers as one cleanup context: SMS sender, media fetcher, text-back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from telephony.media_fetch import MediaFetcher
from telephony.sender import SmsSender
from telephony.text_back import TextBack
from telephony.twilio_client import make_client
from telephony.voice_control import VoiceControl
from web.keys import (
    BACKGROUND,
    MEDIA_FETCHER,
    SERVICES,
    SETTINGS,
    SMS_SENDER,
    TEXT_BACK,
    TWILIO,
    VOICE_CONTROL,
)

log = logging.getLogger(__name__)


async def carrier_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the workers only when Twilio is configured; say so at start-up when it is not."""
    settings = app[SETTINGS]
    if not settings.twilio.configured:
        log.warning(
            "Twilio is not configured (twilio.account_sid / twilio.auth_token): texting is off and "
            "every /twilio/ webhook is refused"
        )
        yield
        return
    client, http = make_client(settings.twilio)
    sender = SmsSender(app[SERVICES], client)
    fetcher = MediaFetcher(app[SERVICES])
    text_back = TextBack(app[SERVICES], client, on_sent=sender.wake)
    app[TWILIO] = client
    app[SMS_SENDER] = sender
    app[MEDIA_FETCHER] = fetcher
    app[TEXT_BACK] = text_back
    app[VOICE_CONTROL] = VoiceControl(app[SERVICES], client)
    tasks = [
        asyncio.create_task(sender.run_forever(), name="sms-sender"),
        asyncio.create_task(fetcher.run_forever(), name="media-fetcher"),
        asyncio.create_task(text_back.run_forever(), name="text-back"),
    ]
    yield
    for task in [*tasks, *app[BACKGROUND]]:
        task.cancel()
    for task in [*tasks, *app[BACKGROUND]]:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await http.close()


def wake_sender(app: web.Application) -> None:
    """A text was queued: the sender looks now instead of at its next poll."""
    sender = app.get(SMS_SENDER)
    if sender is not None:
        sender.wake()


def wake_fetcher(app: web.Application) -> None:
    fetcher = app.get(MEDIA_FETCHER)
    if fetcher is not None:
        fetcher.wake()


def wake_text_back(app: web.Application) -> None:
    """A call ended missed: decide its text-back now rather than at the next poll."""
    worker = app.get(TEXT_BACK)
    if worker is not None:
        worker.wake()
