"""Softphone access tokens: short-lived, signed with the account's API key, one identity per staff member."""

from __future__ import annotations

import datetime as dt

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from comms.errors import Unavailable
from config.settings import TwilioSettings
from schemas.voice import SoftphoneToken, identity


def access_token(settings: TwilioSettings, user_id: int, now: dt.datetime) -> SoftphoneToken:
    """A token that lets this staff member's browser receive calls and call out through the TwiML App."""
    if not settings.softphones:
        raise Unavailable(
            "the softphone is off: set twilio.api_key_sid, twilio.api_key_secret and twilio.twiml_app_sid"
        )
    assert settings.account_sid and settings.api_key_sid and settings.api_key_secret
    name = identity(user_id)
    token = AccessToken(
        settings.account_sid,
        settings.api_key_sid,
        settings.api_key_secret,
        identity=name,
        ttl=settings.token_ttl_seconds,
    )
    token.add_grant(VoiceGrant(incoming_allow=True, outgoing_application_sid=settings.twiml_app_sid))
    sandbox = settings.api_base_url
    return SoftphoneToken(
        token=token.to_jwt(),
        identity=name,
        expires_at=now + dt.timedelta(seconds=settings.token_ttl_seconds),
        mode="sandbox" if sandbox else "twilio",
        sandbox_url=_ws(sandbox) + "/sandbox/client" if sandbox else None,
        sdk_url=None if sandbox else settings.voice_sdk_url,
    )


def _ws(base: str) -> str:
    """The sandbox's WebSocket origin for a browser: ws:// for http://, wss:// for https://."""
    scheme, _, rest = base.rstrip("/").partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest
