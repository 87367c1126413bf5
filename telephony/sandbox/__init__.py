"""The carrier sandbox: a local stand-in for Twilio's Messaging and Voice APIs, reached only over HTTP.

Point the official twilio library at it by giving `Client` one of the HTTP clients below; they send
every request the library builds for ``https://<product>.twilio.com/...`` to the sandbox instead,
keeping the path, query, body and Basic auth exactly as the library made them::

    client = Client(account_sid, auth_token, http_client=AsyncSandboxHttpClient("http://127.0.0.1:8081"))
    await client.messages.create_async(to=..., from_=..., body=...)

(twilio 9.x builds each product's URL from a hard-coded ``Domain.base_url``, created lazily per product,
so swapping the transport is the one switch that covers every product and both sync and async calls.)

Where things are: texting in `app` (Messages REST) and `phone_page` (patients' texts, the /phone page);
voice in `call_engine` (legs, TwiML fetching, callbacks), `verbs`, `dialing`, `conferences`, `queues`,
`waiting`, `twiml` (the validator), `voice_store`; REST in `voice_api` (Calls, Recordings),
`conference_api` (Conferences, Participants), `lookup` (Lookup v2); people in `voice_phones` (patient
phones' JSON API, /sandbox/twiml-log) and `devices` (the softphone WebSocket at /sandbox/client).
Each module's docstring states the Twilio behaviour it emulates, which the Frontdesk server relies on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import encode_basic_auth
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from telephony.sandbox.app import (
    SANDBOX_CARRIER,
    SANDBOX_ENGINE,
    SANDBOX_STORE,
    SANDBOX_VOICE,
    create_sandbox_app,
)
from telephony.sandbox.store import MAGIC_OUTCOMES, SandboxConfig, new_sid

__all__ = [
    "MAGIC_OUTCOMES",
    "SANDBOX_CARRIER",
    "SANDBOX_ENGINE",
    "SANDBOX_STORE",
    "SANDBOX_VOICE",
    "AsyncSandboxHttpClient",
    "SandboxConfig",
    "SandboxHttpClient",
    "create_sandbox_app",
    "new_sid",
    "rebase_url",
]


def rebase_url(url: str, base_url: str) -> str:
    """Swap a Twilio URL's scheme and host for the sandbox's, keeping its path and query."""
    twilio, base = urlsplit(url), urlsplit(base_url)
    path = base.path.rstrip("/") + twilio.path
    return urlunsplit((base.scheme, base.netloc, path, twilio.query, ""))


class SandboxHttpClient(TwilioHttpClient):
    """The library's own blocking HTTP client, sending to the sandbox instead of twilio.com."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Make the library's request against the sandbox."""
        return super().request(method, rebase_url(url, self.base_url), *args, **kwargs)


class AsyncSandboxHttpClient(AsyncTwilioHttpClient):
    """The library's own aiohttp-based client (what production uses), sending to the sandbox."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the library's own signature
        allow_redirects: bool = False,
    ) -> Response:
        """Make the library's request against the sandbox."""
        if auth is not None:
            # Same bytes on the wire; sent as a header because aiohttp 3.14 deprecates BasicAuth.
            headers = {**(headers or {}), "Authorization": encode_basic_auth(*auth)}
        return await super().request(
            method, rebase_url(url, self.base_url), params, data, headers, None, timeout, allow_redirects
        )
