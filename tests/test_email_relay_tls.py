"""Outbound mail over STARTTLS and implicit TLS with AUTH, against a real local relay (aiosmtpd).

The relay's certificate comes from a throwaway CA made in the test (trustme); the server trusts it
only through `smtp.ca_file`. Every case goes the whole way: staff send from the thread over REST,
the sender job hands the message to the relay, the item ends sent or failed with words staff understand.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from comms import migrate
from comms.db import make_engine
from comms.models import Contact, ContactEmail, Conversation, TimelineItem
from tests.conftest import make_settings
from tests.helpers import ORIGIN, browser, seed_practice, sign_in
from web.app import create_app
from web.keys import SERVICES

USER, PASSWORD = "frontdesk@practice.test", "relay-secret"


@dataclass
class TlsRelay:
    """Keeps each accepted message with whether it came over TLS and who signed in."""

    received: list[tuple[bytes, bool, str | None]] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        self.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        over_tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        user = session.auth_data.login.decode() if session.authenticated else None
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.received.append((content, over_tls, user))
        return "250 OK"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


async def _relay(ca: trustme.CA, mode: str, relay: TlsRelay) -> tuple[asyncio.Server, int]:
    """mode: starttls (587-style, STARTTLS required before AUTH), implicit (465-style), plain (no TLS)."""
    loop = asyncio.get_running_loop()
    context = _server_context(ca)

    def factory() -> SMTP:
        if mode == "starttls":
            return SMTP(
                relay,
                tls_context=context,
                require_starttls=True,
                authenticator=relay.authenticate,
                auth_required=True,
                auth_require_tls=True,
            )
        return SMTP(relay, authenticator=relay.authenticate, auth_required=True, auth_require_tls=False)

    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=context if mode == "implicit" else None)
    return server, int(server.sockets[0].getsockname()[1])


Send = Callable[..., Awaitable[TimelineItem]]


@pytest.fixture
async def send_via(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> AsyncIterator[Callable[[dict[str, Any]], Awaitable[TimelineItem]]]:
    """Start an app with these [smtp] settings, e-mail a patient from the thread, wait for the outcome."""
    engine = make_engine(make_settings(db_settings).database)
    await migrate.upgrade(engine)
    await engine.dispose()

    async def run(smtp: dict[str, Any]) -> TimelineItem:
        settings = make_settings(
            db_settings,
            server={"allowed_origins": [ORIGIN]},
            storage={"media_dir": str(tmp_path / "media")},
            smtp={"listen": False, "message_id_domain": "practice.test", "send_lease_seconds": 10.0, **smtp},
        )
        app = create_app(settings)
        server = await aiohttp_server(app)
        services = app[SERVICES]
        practice = await seed_practice(services)
        async with services.unit() as unit:
            contact = Contact(practice_id=practice.practice_id, first_name="Pat", last_name="Garcia")
            contact.emails.append(ContactEmail(address="pat.garcia@example.org"))
            unit.session.add(contact)
            await unit.session.flush()
            conversation = Conversation(contact_id=contact.id, location_id=practice.loc_a)
            unit.session.add(conversation)
            await unit.session.flush()
            conversation_id = conversation.id
        base = str(server.make_url("")).rstrip("/")
        async with browser() as http:
            session = await sign_in(http, base, practice.staff_a)
            async with http.post(
                f"{base}/api/v1/conversations/{conversation_id}/emails",
                json={"body": "Your forms are attached.", "subject": "Forms"},
                headers={"X-CSRF-Token": session["csrf_token"], "Origin": ORIGIN},
            ) as resp:
                assert resp.status == 201, await resp.text()
                item_id = (await resp.json())["id"]
        for _ in range(300):
            async with services.read() as s:
                item = await s.get(TimelineItem, item_id)
                assert item is not None
                if item.status in ("sent", "failed"):
                    return item
            await asyncio.sleep(0.05)
        raise AssertionError(f"the e-mail never left pending: {item.status} {item.meta}")

    yield run


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "implicit"])
async def test_tls_and_auth_reach_the_relay(send_via: Any, ca: trustme.CA, ca_file: str, mode: str) -> None:
    relay = TlsRelay()
    server, port = await _relay(ca, mode, relay)
    try:
        item = await send_via(
            {
                "relay_host": "127.0.0.1",
                "relay_port": port,
                "starttls": mode == "starttls",
                "implicit_tls": mode == "implicit",
                "username": USER,
                "password": PASSWORD,
                "ca_file": ca_file,
            }
        )
    finally:
        server.close()
    assert item.status == "sent", item.meta
    [(content, over_tls, user)] = relay.received
    assert over_tls and user == USER
    assert b"Your forms are attached." in content
    assert relay.logins == [(USER, True)]


async def test_a_wrong_password_fails_clearly_and_is_not_retried(
    send_via: Any, ca: trustme.CA, ca_file: str
) -> None:
    relay = TlsRelay()
    server, port = await _relay(ca, "starttls", relay)
    try:
        item = await send_via(
            {
                "relay_host": "127.0.0.1",
                "relay_port": port,
                "username": USER,
                "password": "wrong",
                "ca_file": ca_file,
            }
        )
    finally:
        server.close()
    assert item.status == "failed"
    assert item.meta["error"] == (
        "the mail server refused our sign-in (535): check smtp.username and smtp.password"
    )
    # aiosmtplib tries each mechanism the relay offers (PLAIN, then LOGIN); none got in, nothing was sent.
    assert relay.received == [] and relay.logins and {ok for _, ok in relay.logins} == {False}


async def test_an_untrusted_certificate_is_refused_not_ignored(send_via: Any, ca: trustme.CA) -> None:
    """Without smtp.ca_file the throwaway CA is unknown: no password goes to a server we cannot verify."""
    relay = TlsRelay()
    server, port = await _relay(ca, "starttls", relay)
    try:
        item = await send_via(
            {"relay_host": "127.0.0.1", "relay_port": port, "username": USER, "password": PASSWORD}
        )
    finally:
        server.close()
    assert item.status == "failed"
    assert item.meta["error"] == "the mail server's certificate is not trusted (see smtp.ca_file)"
    assert relay.logins == [] and relay.received == []


async def test_a_relay_without_starttls_gets_no_password(send_via: Any, ca: trustme.CA) -> None:
    """STARTTLS configured but not offered (a downgrade): refuse rather than sign in in the clear."""
    relay = TlsRelay()
    server, port = await _relay(ca, "plain", relay)
    try:
        item = await send_via(
            {"relay_host": "127.0.0.1", "relay_port": port, "username": USER, "password": PASSWORD}
        )
    finally:
        server.close()
    assert item.status == "failed"
    assert item.meta["error"] == "the mail server does not offer STARTTLS (smtp.starttls is on)"
    assert relay.logins == [] and relay.received == []
