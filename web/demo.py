"""`frontdesk demo` wiring: the carrier sandbox beside the app, in one event loop, when no Twilio is set;
with it, under its /stripe/ path, the Stripe stand-in (test-card Checkout) when no Stripe account is set.

The app is configured exactly as for Twilio (account SID, auth token), only `twilio.api_base_url` points
at the sandbox, so the demo exercises the production sender, webhooks and signature checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from comms.models import Contact, ContactPhone, Conversation, Location, LocationNumber
from comms.services import Services
from config.settings import Settings
from telephony.sandbox import SandboxConfig, create_sandbox_app, new_sid
from web.access_log import PathOnlyAccessLogger
from web.app import create_app
from web.stripe_sandbox import StripeSandboxConfig, create_stripe_sandbox_app

log = logging.getLogger(__name__)
# Seconds between the sandbox's status steps: slow enough to watch a reply tick queued → sent → delivered.
STATUS_DELAY = 1.0
# How long Ctrl-C waits for requests in flight; a demo should stop promptly.
SHUTDOWN_TIMEOUT = 10.0


@dataclass(frozen=True)
class DemoPatient:
    """A seeded patient to text as from the phone page, and the practice number their thread uses."""

    name: str
    phone: str
    practice_number: str


@dataclass(frozen=True)
class DemoPractice:
    """What the demo prints and what the sandbox must know: texting numbers and one patient."""

    numbers: tuple[str, ...]
    patient: DemoPatient | None


@dataclass(frozen=True)
class SandboxSite:
    """The carrier sandbox as the demo runs it: its config and where it listens."""

    config: SandboxConfig
    host: str
    port: int
    url: str
    stripe: StripeSandboxConfig | None = None

    @property
    def phone_url(self) -> str:
        """The patient-phone page a visitor opens to text the practice."""
        return f"{self.url}/phone"


async def practice_on_file(services: Services) -> DemoPractice:
    """Read the practice's texting numbers and a patient from the database, whoever seeded it."""
    async with services.read() as s:
        numbers = tuple(
            await s.scalars(select(LocationNumber.e164).where(LocationNumber.sms).order_by(LocationNumber.id))
        )
        # A phone held by one patient only: a text from it lands in that patient's thread, not a household's.
        single = (
            select(ContactPhone.e164).group_by(ContactPhone.e164).having(func.count(ContactPhone.id) == 1)
        ).subquery()
        row = (
            await s.execute(
                select(Contact.first_name, Contact.last_name, ContactPhone.e164, LocationNumber.e164)
                .join(ContactPhone, ContactPhone.contact_id == Contact.id)
                .join(single, single.c.e164 == ContactPhone.e164)
                .join(Conversation, Conversation.contact_id == Contact.id)
                .join(Location, Location.id == Conversation.location_id)
                .join(LocationNumber, LocationNumber.location_id == Location.id)
                .where(~Contact.is_unknown, Contact.merged_into_id.is_(None), LocationNumber.sms)
                .order_by(Conversation.id, LocationNumber.id)
                .limit(1)
            )
        ).first()
    patient = None
    if row is not None:
        first, last, phone, practice_number = row
        patient = DemoPatient(f"{first} {last}".strip(), phone, practice_number)
    return DemoPractice(numbers, patient)


def with_sandbox(
    settings: Settings, practice: DemoPractice, host: str, port: int, url: str
) -> tuple[Settings, SandboxSite | None]:
    """Point Twilio at a fresh sandbox account, unless a real account is configured (then keep it)."""
    if settings.twilio.configured:
        return settings, None
    # An API key for the softphones' access tokens and a TwiML App to call out through, as on Twilio.
    api_key, api_secret, twiml_app = new_sid("SK"), secrets.token_hex(32), new_sid("AP")
    config = SandboxConfig(
        account_sid=new_sid("AC"),
        auth_token=secrets.token_hex(16),
        webhook_base=settings.server.public_base_url,
        numbers=practice.numbers,
        public_url=url,
        status_delay=STATUS_DELAY,
        api_keys={api_key: api_secret},
        twiml_app_sid=twiml_app,
    )
    twilio = settings.twilio.model_copy(
        update={
            "account_sid": config.account_sid,
            "auth_token": config.auth_token,
            "api_base_url": url,
            "api_key_sid": api_key,
            "api_key_secret": api_secret,
            "twiml_app_sid": twiml_app,
        }
    )
    update: dict[str, Any] = {"twilio": twilio}
    stripe = None
    if not settings.stripe.configured:
        # The stripe library is pointed at the stand-in exactly as it would be at Stripe: keys, webhooks.
        stripe = StripeSandboxConfig(
            secret_key="sk_test_" + secrets.token_hex(16),
            webhook_secret="whsec_" + secrets.token_hex(16),
            webhook_url=f"{settings.server.public_base_url}/stripe/webhook",
            public_url=f"{url}/stripe",
            settle_seconds=10.0,  # a test bank payment shows "processing" in the thread, then clears
        )
        update["stripe"] = settings.stripe.model_copy(
            update={
                "secret_key": stripe.secret_key,
                "webhook_secret": stripe.webhook_secret,
                "api_base_url": stripe.public_url,
            }
        )
    return settings.model_copy(update=update), SandboxSite(config, host, port, url, stripe)


async def _start(runners: list[web.AppRunner], app: web.Application, host: str, port: int, **kw: Any) -> None:
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT, **kw)
    runners.append(runner)  # before setup, so a half-started app is still cleaned up
    await runner.setup()
    await web.TCPSite(runner, host, port).start()


async def serve(settings: Settings, sandbox: SandboxSite | None, ready: Callable[[], None]) -> None:
    """Both apps on their own ports in this loop until SIGINT/SIGTERM; `ready` runs once both listen."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C ends the loop instead
            loop.add_signal_handler(sig, stop.set)
    runners: list[web.AppRunner] = []
    try:
        # The sandbox first: the app's sender starts with the app and must find its carrier listening.
        if sandbox is not None:
            carrier = create_sandbox_app(sandbox.config)
            if sandbox.stripe is not None:
                carrier.add_subapp("/stripe/", create_stripe_sandbox_app(sandbox.stripe))
            await _start(runners, carrier, sandbox.host, sandbox.port)
        app = create_app(settings, demo=True)
        server = settings.server
        await _start(runners, app, server.host, server.port, access_log_class=PathOnlyAccessLogger)
        ready()
        await stop.wait()
    finally:
        # Reverse order: the app stops sending before its carrier goes away.
        for runner in reversed(runners):
            await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


def run(settings: Settings, sandbox: SandboxSite | None, ready: Callable[[], None]) -> None:
    """Serve the demo until interrupted; start-up errors propagate to the CLI as for `serve`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(settings, sandbox, ready))
