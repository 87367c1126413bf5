"""Webhook signatures in the HMAC-SHA256 mode over HTTP, and the sender's retries with backoff."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import update
from twilio.request_validator import HMAC_SHA256, SIGNATURE_SETTINGS_HEADER, RequestValidator

from comms import migrate
from comms.carrier_errors import BACKOFF_SECONDS
from comms.db import make_engine
from comms.models import OutboxEntry, utcnow
from telephony.sandbox import SandboxConfig, create_sandbox_app
from telephony.sandbox.rest import twilio_error
from tests.carrier import ACCOUNT_SID, AUTH_TOKEN, Carrier, start_pair
from tests.conftest import make_settings
from tests.helpers import ORIGIN, seed_practice
from tests.ports import free_port
from tests.sms_helpers import (
    PATIENT_A,
    inbound_params,
    item,
    items,
    new_sid,
    outbox_row,
    post_signed,
    send_from_thread,
    sent_to,
    signed,
    wait_for,
)
from web.app import create_app
from web.keys import SERVICES, SMS_SENDER

SHARED_KEY = "webhooks-shared-key-0123456789"
SETTINGS_HEADER = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
BUSY = "Twilio is busy (too many requests); trying again"


def _sha256(url: str, params: dict[str, str], key: str = SHARED_KEY) -> dict[str, str]:
    signature = RequestValidator(key).compute_signature(url, params, HMAC_SHA256)
    return {"X-Twilio-Signature": signature, SIGNATURE_SETTINGS_HEADER: SETTINGS_HEADER}


async def test_hmac_sha256_signed_webhooks_over_http(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    """A webhook rule signs with the shared key (announced by the settings header), not the auth token."""
    carrier = await start_pair(
        db_settings, aiohttp_server, tmp_path, twilio={"webhook_shared_key": SHARED_KEY}
    )
    url = f"{carrier.base}/twilio/sms"
    good = inbound_params("signed with the shared key")
    forged = inbound_params("forged")
    async with aiohttp.ClientSession() as http:
        for headers in (
            _sha256(url, forged, key="not-the-shared-key"),  # wrong key
            _sha256(url, forged, key=AUTH_TOKEN),  # the auth token is not the key in this mode
            {**signed(url, forged), SIGNATURE_SETTINGS_HEADER: SETTINGS_HEADER},  # SHA-1 under SHA-256
            {SIGNATURE_SETTINGS_HEADER: SETTINGS_HEADER},  # no signature at all
        ):
            status, body = await post_signed(http, url, forged, headers)
            assert status == 403 and "signature_invalid" in body
        status, _ = await post_signed(http, url, good, _sha256(url, good))
        assert status == 200
        tampered = {**good, "MessageSid": new_sid(), "Body": "changed on the way"}
        status, _ = await post_signed(http, url, tampered, _sha256(url, good))
        assert status == 403
    assert [i.body for i in await items(carrier, direction="in")] == ["signed with the shared key"]

    status_url = f"{carrier.base}/twilio/sms/status"
    status, sent = await send_from_thread(carrier, "Hello")
    assert status == 201

    async def carrier_sid() -> str | None:
        return (await item(carrier, sent["id"])).carrier_sid

    sid = await wait_for(carrier_sid)
    read = {"MessageSid": sid, "MessageStatus": "read", "AccountSid": ACCOUNT_SID}
    async with aiohttp.ClientSession() as http:
        status, _ = await post_signed(http, status_url, read, _sha256(status_url, read, key="wrong"))
        assert status == 403
        status, _ = await post_signed(http, status_url, read, _sha256(status_url, read))
        assert status == 204
    assert (await item(carrier, sent["id"])).status == "read"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _pair_with_busy_twilio(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path, busy: int
) -> tuple[Carrier, list[str]]:
    """The server and the stand-in, whose Messages.json answers the first `busy` sends with 429."""
    app_port, sandbox_port = free_port(), free_port()
    base, sandbox = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{sandbox_port}"
    settings = make_settings(
        db_settings,
        server={"public_base_url": base, "allowed_origins": [ORIGIN]},
        twilio={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "api_base_url": sandbox},
        storage={"media_dir": str(tmp_path / "media")},
    )
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    await aiohttp_server(app, port=app_port)
    practice = await seed_practice(app[SERVICES])
    answers: list[str] = []

    @web.middleware
    async def too_many(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path.endswith("/Messages.json"):
            if len(answers) < busy:
                answers.append("429")
                return twilio_error(429, 20429, "Too Many Requests")
            answers.append("taken")
        return await handler(request)

    sandbox_app = create_sandbox_app(
        SandboxConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, webhook_base=base, status_delay=0.0)
    )
    sandbox_app.middlewares.append(too_many)
    await aiohttp_server(sandbox_app, port=sandbox_port)
    return Carrier(base, sandbox, practice, app, sandbox_app), answers


async def test_a_busy_twilio_is_retried_with_growing_backoff_and_the_text_goes_once(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier, answers = await _pair_with_busy_twilio(db_settings, aiohttp_server, tmp_path, busy=2)
    status, sent = await send_from_thread(carrier, "Your crown is ready")
    assert status == 201
    item_id = sent["id"]
    for attempt, backoff in ((1, BACKOFF_SECONDS[0]), (2, BACKOFF_SECONDS[1])):

        async def backing_off(attempt: int = attempt) -> OutboxEntry | None:
            row = await outbox_row(carrier, item_id)
            return row if row.state == "pending" and row.attempts == attempt else None

        row = await wait_for(backing_off, what=f"backoff after try {attempt}")
        waiting = (row.next_attempt_at.replace(tzinfo=dt.UTC) - utcnow()).total_seconds()
        assert backoff - 1.5 < waiting <= backoff, f"try {attempt} waits {waiting:.1f}s, not ~{backoff}s"
        assert row.last_error == BUSY
        shown = await item(carrier, item_id)
        assert shown.status == "pending" and shown.meta["retrying"] == BUSY
        # Time passes: the retry falls due now rather than after the real backoff.
        async with carrier.app[SERVICES].unit() as unit:
            await unit.session.execute(
                update(OutboxEntry).where(OutboxEntry.item_id == item_id).values(next_attempt_at=utcnow())
            )
        carrier.app[SMS_SENDER].wake()

    async def delivered() -> bool:
        return (await item(carrier, item_id)).status == "delivered"

    await wait_for(delivered)
    assert "retrying" not in (await item(carrier, item_id)).meta
    assert answers == ["429", "429", "taken"]
    assert await sent_to(carrier, PATIENT_A) == ["Your crown is ready"]
    assert (await outbox_row(carrier, item_id)).attempts == 3
