"""The sandbox carrier's memory: its account, the messages it carried and which phones opted out.

Nothing here does I/O; the HTTP handlers in `app` and `phone_page` read and change this state, and
browsers long-poll it through `wait_for_change`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal

from routing.waits import wait_set

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")

Direction = Literal["inbound", "outbound-api", "outbound-reply"]
Keyword = Literal["STOP", "START", "HELP"]

# Twilio Advanced Opt-Out defaults: the whole message, one word, any case, whitespace ignored.
_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"), "STOP"),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "START"),
    **dict.fromkeys(("HELP", "INFO"), "HELP"),
}

# What Twilio's Advanced Opt-Out answers by default (the sandbox answers the same way).
KEYWORD_REPLIES: dict[Keyword, str] = {
    "STOP": "You have successfully been unsubscribed. You will not receive any more messages from this "
    "number. Reply START to resubscribe.",
    "START": "You have successfully been re-subscribed to messages from this number. Reply STOP to "
    "unsubscribe.",
    "HELP": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}


@dataclass(frozen=True)
class Outcome:
    """How the pretend carrier ends a delivery: a final status and Twilio's error code for it."""

    status: Literal["delivered", "undelivered", "failed"]
    error_code: int | None = None
    error_message: str | None = None


# Magic recipient numbers (by their last four digits), like Twilio's own test numbers: they let the
# demo and tests see each failure the server must handle. The demo seed's 555-0100..0199 never match.
MAGIC_OUTCOMES: dict[str, Outcome] = {
    "0003": Outcome("failed", 30003, "Unreachable destination handset"),
    "0005": Outcome("undelivered", 30005, "Unknown destination handset"),
    "0006": Outcome("undelivered", 30006, "Landline or unreachable carrier"),
    "0007": Outcome("undelivered", 30007, "Message filtered"),
}
DELIVERED = Outcome("delivered")
DEFAULT_TWIML_APP_SID = "AP" + "0" * 32  # the sandbox account's one TwiML App, unless configured


@dataclass(frozen=True)
class SandboxConfig:
    """What a sandbox run needs: the one account it serves and where the Frontdesk server listens."""

    account_sid: str
    auth_token: str
    webhook_base: str  # the Frontdesk server's base URL, e.g. http://127.0.0.1:8080
    sms_path: str = "/twilio/sms"
    numbers: tuple[str, ...] = ()  # practice numbers; empty accepts any E.164 From
    messaging_service_sid: str | None = None
    api_keys: Mapping[str, str] = field(default_factory=dict)  # API key SID -> secret
    public_url: str | None = None  # how the server reaches the sandbox (media URLs); None: as asked
    status_delay: float = 1.0  # seconds between status steps; 0 in tests
    webhook_timeout: float = 15.0  # Twilio's total allowance for a webhook answer
    webhook_retries: int = 1  # extra attempts after a 5xx or a timeout, same MessageSid
    duplicate_callbacks: bool = False  # send every status callback twice
    reorder_callbacks: bool = False  # send the final status before the intermediate ones
    # Voice (see call_engine): the practice numbers' incoming-call webhook and number-level status
    # callback (Twilio sends only "completed" there), the TwiML App softphones call out through,
    # and the factor every simulated duration is multiplied by (tests use 0.01-0.05).
    voice_path: str = "/twilio/voice"
    voice_status_path: str = "/twilio/voice/status"
    twiml_app_sid: str = DEFAULT_TWIML_APP_SID
    twiml_app_voice_url: str | None = None  # absolute; None: webhook_base + /twilio/voice/outbound
    voice_time_scale: float = 1.0

    @property
    def webhook_url(self) -> str:
        """The inbound-message webhook, exactly as signed."""
        return self.webhook_base.rstrip("/") + self.sms_path

    @property
    def voice_url(self) -> str:
        """The practice numbers' incoming-call webhook."""
        return self.webhook_base.rstrip("/") + self.voice_path

    @property
    def voice_status_url(self) -> str:
        """The practice numbers' call status callback (completed only)."""
        return self.webhook_base.rstrip("/") + self.voice_status_path

    @property
    def app_voice_url(self) -> str:
        """The TwiML App's Voice URL, asked when a softphone places a call."""
        return self.twiml_app_voice_url or self.webhook_base.rstrip("/") + "/twilio/voice/outbound"


def new_sid(prefix: str) -> str:
    """A Twilio-shaped identifier: two letters and 32 lower-case hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's date format in resources: RFC 2822 in GMT with +0000."""
    return None if moment is None else format_datetime(moment).replace("-0000", "+0000")


def now() -> datetime:
    """The current time, in UTC to the second as Twilio reports it."""
    return datetime.now(UTC).replace(microsecond=0)


def keyword(body: str) -> Keyword | None:
    """The opt-out/opt-in/help keyword a message is, if it is exactly one."""
    return _KEYWORDS.get(body.strip().upper())


_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_DOUBLE = frozenset("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """Segments the carrier bills (GSM-7 160/153, else UCS-2 70/67); the sandbox counts on its own."""
    if all(ch in _GSM7 or ch in _GSM7_DOUBLE for ch in body):
        units, single, multi = sum(2 if ch in _GSM7_DOUBLE else 1 for ch in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else -(-units // multi)


@dataclass
class Media:
    """A picture a patient's phone sent, kept so the server can fetch it as it would from Twilio."""

    sid: str
    content_type: str
    data: bytes
    date_created: datetime = field(default_factory=now)


@dataclass
class Message:
    """One text the sandbox carried, in either direction."""

    sid: str
    account_sid: str
    direction: Direction
    from_: str | None
    to: str
    body: str
    status: str
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    media: list[Media] = field(default_factory=list)  # inbound pictures, stored here
    media_urls: list[str] = field(default_factory=list)  # outbound pictures, by the sender's URLs
    error_code: int | None = None
    error_message: str | None = None
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    date_sent: datetime | None = None
    seq: int = 0  # store-wide change counter at the last change, for long polling

    @property
    def num_media(self) -> int:
        """Pictures attached, whichever way they travel."""
        return len(self.media) + len(self.media_urls)

    @property
    def uri(self) -> str:
        """The resource path relative to the API host, as Twilio reports it."""
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def resource(self) -> dict[str, object]:
        """The Message resource JSON in Twilio's shape (counts are strings, as Twilio sends them)."""
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(self.num_media),
            "num_segments": str(count_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri.removesuffix(".json") + "/Media.json"},
            "to": self.to,
            "uri": self.uri,
        }


class SandboxStore:
    """All sandbox state for one account; a single event loop owns it, so no locks beyond the wait."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.messages: dict[str, Message] = {}
        self.phones: list[str] = []  # patient numbers seen, in order, for the phone page's picker
        self._opted_out: set[tuple[str, str]] = set()  # (patient, practice number)
        self._seq = 0
        self._changed: asyncio.Event | None = None

    @property
    def seq(self) -> int:
        """The latest change number; a poller that has seen it is up to date."""
        return self._seq

    def authenticate(self, username: str, password: str) -> str | None:
        """The account SID that these Basic-auth credentials belong to, or None."""
        config = self.config
        if secrets.compare_digest(username, config.account_sid):
            ok = secrets.compare_digest(password.encode(), config.auth_token.encode())
            return config.account_sid if ok else None
        secret = config.api_keys.get(username)
        if secret is not None and secrets.compare_digest(password.encode(), secret.encode()):
            return config.account_sid
        return None

    def owns_number(self, number: str) -> bool:
        """Whether the account may send from this number (any number when none are configured)."""
        return not self.config.numbers or number in self.config.numbers

    def sender_for(self, patient: str) -> str | None:
        """The Messaging Service's pick of sender: the number this patient last texted (sticky)."""
        for message in reversed(self.messages.values()):
            if message.direction == "inbound" and message.from_ == patient and self.owns_number(message.to):
                return message.to
        return self.config.numbers[0] if self.config.numbers else None

    def add(self, message: Message) -> Message:
        """Keep a new message and wake the phone pages."""
        self.messages[message.sid] = message
        patient = message.from_ if message.direction == "inbound" else message.to
        if patient and patient not in self.phones:
            self.phones.append(patient)
        self._touch(message)
        return message

    def set_status(self, message: Message, status: str, outcome: Outcome | None = None) -> None:
        """Move a message on, recording the carrier's error if the step is a failure."""
        message.status = status
        message.date_updated = now()
        if status == "sent":
            message.date_sent = message.date_updated
        if outcome is not None and outcome.error_code is not None:
            message.error_code, message.error_message = outcome.error_code, outcome.error_message
        self._touch(message)

    def find(self, *, to: str | None = None, from_: str | None = None) -> list[Message]:
        """Messages in the order the sandbox saw them, optionally only those to or from a number."""
        return [
            m
            for m in self.messages.values()
            if (to is None or m.to == to) and (from_ is None or m.from_ == from_)
        ]

    def conversation(self, patient: str) -> list[Message]:
        """Everything this patient's phone sent or received, oldest first."""
        return [m for m in self.messages.values() if patient in (m.to, m.from_)]

    def opted_out(self, patient: str, practice: str) -> bool:
        """Whether the patient texted STOP to this practice number (and not START since)."""
        return (patient, practice) in self._opted_out

    def set_opted_out(self, patient: str, practice: str, out: bool) -> None:
        """Record STOP or START, as Advanced Opt-Out does per sender number."""
        if out:
            self._opted_out.add((patient, practice))
        else:
            self._opted_out.discard((patient, practice))
        self._touch(None)

    def opt_outs(self, patient: str) -> list[str]:
        """Practice numbers this patient has opted out of."""
        return sorted(practice for who, practice in self._opted_out if who == patient)

    async def wait_for_change(self, after: int, *, seconds: float) -> None:
        """Return once anything changed after `after`, or after `seconds` (a long poll's answer)."""
        if self._seq > after:
            return
        if self._changed is None:
            # Made on first wait, so it belongs to the loop that serves the app.
            self._changed = asyncio.Event()
        await wait_set(self._changed, seconds)

    def release_waiters(self) -> None:
        """Answer every parked long poll now (at shutdown), so none holds the server open."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _touch(self, message: Message | None) -> None:
        self._seq += 1
        if message is not None:
            message.seq = self._seq
        self.release_waiters()  # wake every waiter at once; the next wait gets a fresh event
