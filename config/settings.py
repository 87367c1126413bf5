"""Settings: a TOML file overlaid by FRONTDESK_* environment variables, validated once at start."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "FRONTDESK_"


class ConfigError(Exception):
    """Raised when the configuration cannot be used; the message names the key and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    public_base_url: str = "http://127.0.0.1:8080"
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("public_base_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def origins(self) -> frozenset[str]:
        """Origins allowed for the WebSocket handshake and cookie-authenticated writes."""
        return frozenset({self.public_base_url, *(o.rstrip("/") for o in self.allowed_origins)})


class DatabaseSettings(_Section):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    url: str = "sqlite+aiosqlite:///frontdesk.db"
    schema_name: str | None = Field(None, alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class BusSettings(_Section):
    redis_url: str | None = None
    stream_key: str = "frontdesk:events"
    retention: int = Field(10_000, ge=100, description="events kept for clients that resume")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value or None


class SessionSettings(_Section):
    cookie_name: str = "frontdesk_session"
    idle_timeout_minutes: int = Field(30, ge=1, le=24 * 60)
    absolute_lifetime_hours: int = Field(12, ge=1, le=24 * 30)
    cookie_secure: bool | None = None


class LoginSettings(_Section):
    window_minutes: int = Field(15, ge=1)
    max_failures_per_account: int = Field(5, ge=1)
    max_failures_per_address: int = Field(20, ge=1)


class WebSocketSettings(_Section):
    queue_limit: int = Field(1024, ge=8)
    heartbeat_seconds: float = Field(30.0, gt=0)
    max_message_bytes: int = Field(64 * 1024, ge=1024)
    session_check_seconds: float = Field(30.0, gt=0)


class TwilioSettings(_Section):
    """The carrier account. Without an auth token the Twilio webhooks refuse every request."""

    account_sid: str | None = Field(None, pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str | None = Field(None, min_length=1)
    api_key_sid: str | None = Field(None, pattern=r"^SK[0-9a-fA-F]{32}$")
    api_key_secret: str | None = None
    webhook_shared_key: str | None = Field(None, description="secret for HMAC-SHA256 signed webhooks")
    api_base_url: str | None = Field(
        None, description="None for Twilio itself; the sandbox's URL in demo/tests"
    )
    advanced_opt_out: bool = Field(True, description="Twilio answers STOP/START/HELP itself; we do not reply")
    help_reply: str = "Reply STOP to stop receiving texts. Call us for help."
    segments_per_second: float = Field(1.0, gt=0, description="default send rate per number (US long code)")
    number_rates: dict[str, float] = Field(default_factory=dict, description="E.164 -> segments per second")
    max_media_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    send_lease_seconds: float = Field(30.0, gt=0, description="after this, an unconfirmed send is reconciled")
    max_send_attempts: int = Field(6, ge=1)
    twiml_app_sid: str | None = Field(
        None, pattern=r"^AP[0-9a-fA-F]{32}$", description="the TwiML App softphones call out through"
    )
    token_ttl_seconds: int = Field(600, ge=60, le=86_400, description="softphone access token lifetime")
    voice_sdk_url: str = Field(
        "https://unpkg.com/@twilio/voice-sdk@2.18.1/dist/twilio.min.js",
        description="where staff browsers load the Twilio Voice JavaScript SDK from",
    )

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token)

    @property
    def softphones(self) -> bool:
        """Browser softphones need an API key to sign access tokens and a TwiML App to call out."""
        return bool(self.configured and self.api_key_sid and self.api_key_secret and self.twiml_app_sid)


class SmtpSettings(_Section):
    """E-mail: the built-in listener for inbound mail, and the server outbound mail is relayed through."""

    listen: bool = Field(True, description="run the inbound SMTP listener")
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=0, le=65535, description="0 picks a free port (tests)")
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    relay_host: str | None = Field(None, description="outbound SMTP server; unset: e-mail sending is off")
    relay_port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = Field(None, description="extra CA certificates (PEM) to trust for the relay")
    from_address: str = "frontdesk@localhost"
    from_name: str = "Front desk"
    message_id_domain: str = "frontdesk.local"
    send_lease_seconds: float = Field(
        60.0, gt=0, description="after this, an unconfirmed hand-off is checked"
    )
    max_send_attempts: int = Field(6, ge=1)
    max_attachment_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="per outgoing e-mail, all files")
    log_smtp_session: bool = Field(
        False, description="log the listener's SMTP commands at INFO (they name patients' addresses)"
    )


class StorageSettings(_Section):
    """Where files (MMS pictures, e-mail attachments, voicemail) are kept; only staff can fetch them."""

    media_dir: str = "var/media"


class RecordingSettings(_Section):
    """Call recording for the whole practice; a location's phone set-up may turn it on or off for itself."""

    enabled: bool = Field(False, description="record answered calls where the location does not say")
    announcement: str = Field(
        "This call may be recorded for quality and training.",
        min_length=1,
        max_length=300,
        description="said to the patient before staff are connected, whenever the call is recorded",
    )


class StripeSettings(_Section):
    """The practice's Stripe account. Without a secret key and a webhook secret, payments are off."""

    secret_key: str | None = Field(None, min_length=1, description="sk_live_... or sk_test_...")
    webhook_secret: str | None = Field(None, min_length=1, description="whsec_... of the webhook endpoint")
    api_base_url: str | None = Field(
        None, description="None for Stripe itself; the stand-in's URL in demo/tests"
    )
    webhook_tolerance_seconds: int = Field(300, ge=1, description="how old a signed event may be")

    @property
    def configured(self) -> bool:
        return bool(self.secret_key and self.webhook_secret)


class PaymentSettings(_Section):
    """Payment links: how long they last, the currency, and the reminders for unpaid ones."""

    link_days: int = Field(30, ge=1, le=365, description="a payment link expires after this many days")
    currency: str = Field("usd", pattern=r"^[a-z]{3}$")
    reminder_days: tuple[int, ...] = Field(
        (3, 7), description="days after sending when an unpaid request is reminded (empty: never)"
    )
    sweep_seconds: float = Field(60.0, gt=0, description="how often expiry and reminders are looked at")

    @field_validator("reminder_days")
    @classmethod
    def _ascending(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 for d in value) or list(value) != sorted(set(value)):
            raise ValueError("must be increasing whole days, each at least 1")
        return value


class ReviewSettings(_Section):
    """Review requests: how often one patient may be asked."""

    period_days: int = Field(
        180, ge=1, le=3650, description="at most one review request per patient per period"
    )


class FormSettings(_Section):
    """Intake form links: how long they last, what the patient may upload, reminders for unfinished ones."""

    link_days: int = Field(14, ge=1, le=90, description="a form link expires after this many days")
    max_upload_bytes: int = Field(
        8 * 1024 * 1024, ge=64 * 1024, le=50 * 1024 * 1024, description="largest file a patient may upload"
    )
    reminder_days: tuple[int, ...] = Field(
        (2, 5), description="days after sending when an unfinished form is reminded (empty: never)"
    )
    sweep_seconds: float = Field(60.0, gt=0, description="how often expiry and reminders are looked at")
    first_booking_template: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the form (by name) a new patient's first booking sends",
    )
    requests_per_address: int = Field(
        600, ge=10, description="patient form requests (open, save, upload, submit) per address per window"
    )
    uploads_per_address: int = Field(60, ge=1, description="patient form uploads per address per window")
    bad_links_per_address: int = Field(
        30, ge=1, description="requests with a link that is not valid, per address per window"
    )
    rate_window_seconds: int = Field(600, ge=10, le=86400, description="the window those limits count in")

    @field_validator("reminder_days")
    @classmethod
    def _ascending(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 for d in value) or list(value) != sorted(set(value)):
            raise ValueError("must be increasing whole days, each at least 1")
        return value


class WaitlistSettings(_Section):
    """Offering freed slots to waitlisted patients: how many are texted at once and how long they have."""

    batch_size: int = Field(3, ge=1, le=20, description="patients texted at once about one freed slot")
    offer_minutes: int = Field(
        30, ge=1, le=24 * 60, description="minutes a batch has to take the slot before the next is texted"
    )
    sweep_seconds: float = Field(30.0, gt=0, description="how often lapsed offers are looked at")
    entry_days: int = Field(
        90, ge=1, le=730, description="days an entry stays on the waitlist (it also ends after its last date)"
    )
    link_requests_per_address: int = Field(
        30, ge=1, le=10_000, description="offer-link requests one address may make per link window"
    )
    link_window_minutes: int = Field(
        10, ge=1, le=24 * 60, description="the window those requests are counted in"
    )


class Settings(_Section):
    """Everything the server reads from its environment; frozen so nothing changes it at run time."""

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    bus: BusSettings = BusSettings()
    sessions: SessionSettings = SessionSettings()
    login: LoginSettings = LoginSettings()
    websocket: WebSocketSettings = WebSocketSettings()
    twilio: TwilioSettings = TwilioSettings()
    storage: StorageSettings = StorageSettings()
    recording: RecordingSettings = RecordingSettings()
    smtp: SmtpSettings = SmtpSettings()
    stripe: StripeSettings = StripeSettings()
    payments: PaymentSettings = PaymentSettings()
    reviews: ReviewSettings = ReviewSettings()
    forms: FormSettings = FormSettings()
    waitlist: WaitlistSettings = WaitlistSettings()

    @property
    def cookie_secure(self) -> bool:
        """Secure cookies whenever the public URL is HTTPS, unless set explicitly."""
        explicit = self.sessions.cookie_secure
        return self.server.public_base_url.startswith("https://") if explicit is None else explicit


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """FRONTDESK_SECTION__KEY=value becomes {"section": {"key": value}}; lists are comma-separated."""
    out: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in Settings.model_fields:
            raise ConfigError(f"{name}: unknown section {section!r}")
        value: Any = raw
        field = Settings.model_fields[section].annotation
        sub_fields = getattr(field, "model_fields", {})
        sub = sub_fields.get(key) or next((f for f in sub_fields.values() if f.alias == key), None)
        if sub is not None and "tuple" in str(sub.annotation):
            value = tuple(part.strip() for part in raw.split(",") if part.strip())
        out.setdefault(section, {})[key] = value
    return out


def _merge(base: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in overrides.items():
        current = merged.get(section)
        merged[section] = {**(current if isinstance(current, dict) else {}), **values}
    return merged


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        lines.append(f"{key}: {item['msg']} (got {item.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply FRONTDESK_* variables, and validate the result."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = environ[ENV_PREFIX + "CONFIG"]
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    try:
        return Settings.model_validate(_merge(data, _env_overrides(environ)))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
