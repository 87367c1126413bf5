"""The staff page's Content-Security-Policy: our own origin, plus exactly what the softphone needs."""

from __future__ import annotations

from urllib.parse import urlsplit

from config.settings import Settings

BASE = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "media-src": ["'self'", "blob:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
}


def _origin(url: str, *, websocket: bool = False) -> str:
    parts = urlsplit(url)
    scheme = ("wss" if parts.scheme == "https" else "ws") if websocket else parts.scheme
    return f"{scheme}://{parts.netloc}"


def page_policy(settings: Settings) -> str:
    """With the sandbox: its softphone socket. With Twilio: the Voice SDK's script, signalling and sounds."""
    policy = {k: list(v) for k, v in BASE.items()}
    twilio = settings.twilio
    if twilio.api_base_url:
        policy["connect-src"].append(_origin(twilio.api_base_url, websocket=True))
    elif twilio.softphones:
        policy["script-src"].append(_origin(twilio.voice_sdk_url))
        policy["connect-src"] += ["wss://*.twilio.com", "https://*.twilio.com"]
        policy["media-src"] += ["https://*.twilio.com", "https://*.twiliocdn.com"]
    return "; ".join(f"{key} {' '.join(values)}" for key, values in policy.items())
