"""Every shared object on the application, declared once as a typed key."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.rest import Client as TwilioClient

from comms.db import Sessionmaker
from comms.email_sender import EmailSender
from comms.services import Services
from comms.stripe_gateway import StripeGateway
from config.settings import Settings
from routing.bus import Bus
from routing.hub import Hub
from routing.presence import PresenceTable
from telephony.media_fetch import MediaFetcher
from telephony.sender import SmsSender
from telephony.text_back import TextBack
from telephony.voice_control import VoiceControl

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", Sessionmaker)
BUS = web.AppKey("bus", Bus)
HUB = web.AppKey("hub", Hub)
PRESENCE = web.AppKey("presence", PresenceTable)
SERVICES = web.AppKey("services", Services)
DEMO = web.AppKey("demo", bool)
SMS_SENDER = web.AppKey("sms_sender", SmsSender)
MEDIA_FETCHER = web.AppKey("media_fetcher", MediaFetcher)
EMAIL_SENDER = web.AppKey("email_sender", EmailSender)
SMTP_PORT = web.AppKey("smtp_port", int)
TEXT_BACK = web.AppKey("text_back", TextBack)
TWILIO = web.AppKey("twilio", TwilioClient)
VOICE_CONTROL = web.AppKey("voice_control", VoiceControl)
BACKGROUND = web.AppKey("background", set[asyncio.Task[None]])
STRIPE = web.AppKey("stripe", StripeGateway)
