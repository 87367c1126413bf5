"""Calling the Frontdesk server's webhooks the way Twilio does: form-encoded, signed, retried once."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from multidict import MultiDict
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator
from yarl import URL

log = logging.getLogger(__name__)

Params = Sequence[tuple[str, str]]


def sign(auth_token: str, url: str, params: Params) -> str:
    """X-Twilio-Signature for a form POST to `url`, computed by the twilio library itself."""
    return str(RequestValidator(auth_token).compute_signature(url, MultiDict(params)))


@dataclass(frozen=True)
class WebhookResult:
    """What the server answered; status None means no answer at all (timeout, refused)."""

    status: int | None
    body: str
    content_type: str
    attempts: int

    @property
    def ok(self) -> bool:
        """A 2xx answer: Twilio counts nothing else as accepted."""
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """One HTTP client for every webhook the sandbox makes, opened and closed with the app."""

    def __init__(self, auth_token: str, timeout: float, retries: int) -> None:
        self._token = auth_token
        self._timeout = timeout
        self._retries = retries
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the client session (inside the running loop)."""
        # Twilio allows 10 s to connect and 15 s in all; the sandbox keeps that ratio when shortened.
        timeout = aiohttp.ClientTimeout(total=self._timeout, connect=min(10.0, self._timeout))
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        """Close the client session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, params: Params) -> WebhookResult:
        """POST signed form params; on a 5xx, a timeout or no connection try again with the same body."""
        return await self.request("POST", url, params)

    async def request(
        self, method: str, url: str, params: Params, *, retries: int | None = None
    ) -> WebhookResult:
        """POST form params, or GET them in the query, signed over exactly what is sent."""
        if self._session is None:
            raise RuntimeError("WebhookSender.start() was not called")
        body: bytes | None = urlencode(list(params)).encode()
        if method.upper() == "GET":
            # A GET carries the params in the query; the signature then covers the URL alone.
            if params:
                url += ("&" if "?" in url else "?") + urlencode(list(params))
            params, body = [], None
        headers = {
            SIGNATURE_HEADER: sign(self._token, url, params),
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            # Twilio repeats this token on every retry of the same request.
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        # encoded=True: send the URL byte for byte as it was signed, never re-quoted.
        target = URL(url, encoded=True)
        result = WebhookResult(None, "", "", 0)
        attempts = (self._retries if retries is None else retries) + 1
        for attempt in range(1, attempts + 1):
            try:
                async with self._session.request(
                    method.upper(), target, data=body, headers=headers, allow_redirects=False
                ) as response:
                    text = await response.text(errors="replace")
                    result = WebhookResult(response.status, text, response.content_type, attempt)
            except (TimeoutError, aiohttp.ClientError) as exc:
                log.info("webhook %s attempt %d: %s", url, attempt, exc.__class__.__name__)
                result = WebhookResult(None, "", "", attempt)
                continue
            if result.status is not None and result.status < 500:
                return result
            log.info("webhook %s attempt %d answered %s", url, attempt, result.status)
        return result
