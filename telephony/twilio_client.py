"""The one Twilio REST client of a process: the library's async client, on Twilio or on the sandbox."""

from __future__ import annotations

import logging

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from config.settings import TwilioSettings
from telephony.sandbox import AsyncSandboxHttpClient


def make_client(settings: TwilioSettings) -> tuple[Client, AsyncTwilioHttpClient]:
    """Same code path everywhere; only the base URL differs when api_base_url is set (sandbox)."""
    http: AsyncTwilioHttpClient = (
        AsyncSandboxHttpClient(settings.api_base_url) if settings.api_base_url else AsyncTwilioHttpClient()
    )
    # The library logs request URLs with their query at INFO: a list filtered by To would put a patient's
    # number in our logs. Only its warnings get through.
    http.logger.setLevel(logging.WARNING)
    if settings.api_key_sid and settings.api_key_secret:
        client = Client(settings.api_key_sid, settings.api_key_secret, settings.account_sid, http_client=http)
    else:
        client = Client(settings.account_sid, settings.auth_token, http_client=http)
    return client, http
