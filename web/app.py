"""The application factory: resources open top to bottom, one cleanup context each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from comms import logsafe, migrate
from comms.db import make_engine, make_sessionmaker
from comms.form_followups import FormSweeper
from comms.reminders import ReminderRunner
from comms.services import Services
from comms.snooze import SnoozeWaker
from comms.waitlist_offers import WaitlistSweeper
from config.settings import Settings
from routing.bus import make_bus
from routing.hub import Hub
from routing.presence import PresenceTable
from web import (
    handlers_analytics,
    handlers_booking,
    handlers_chat,
    handlers_contacts,
    handlers_email,
    handlers_form_page,
    handlers_forms,
    handlers_inbox,
    handlers_messages,
    handlers_notifications,
    handlers_pay,
    handlers_payments,
    handlers_phone,
    handlers_reviews,
    handlers_schedule,
    handlers_session,
    handlers_system,
    handlers_teams,
    handlers_timeline,
    handlers_twilio,
    handlers_voice,
    handlers_waitlist,
)
from web.access_log import PathOnlyAccessLogger
from web.api import ApiRouter
from web.carrier import carrier_ctx, wake_sender
from web.heap import heap_ctx
from web.keys import BACKGROUND, BUS, DEMO, ENGINE, HUB, PRESENCE, SERVICES, SESSIONMAKER, SETTINGS
from web.mail import mail_ctx
from web.middleware import errors_middleware, security_headers
from web.page_policy import page_policy
from web.payments import payments_ctx
from web.ws import ws_handler
from web.ws_session_watch import session_watch_ctx

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
ROUTERS: tuple[ApiRouter, ...] = (
    handlers_system.router,
    handlers_session.router,
    handlers_inbox.router,
    handlers_timeline.router,
    handlers_chat.router,
    handlers_messages.router,
    handlers_notifications.router,
    handlers_teams.router,
    handlers_contacts.router,
    handlers_phone.router,
    handlers_email.router,
    handlers_schedule.router,
    handlers_analytics.router,
    handlers_payments.router,
    handlers_reviews.router,
    handlers_booking.router,
    handlers_forms.router,
    handlers_waitlist.router,
)
MAX_BODY = 1024 * 1024


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the engine and refuse to run on a database that is not at the code's migration head."""
    engine = make_engine(app[SETTINGS].database)
    try:
        await migrate.ensure_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    app[ENGINE] = engine
    app[SESSIONMAKER] = make_sessionmaker(engine)
    yield
    await engine.dispose()


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    """This process's sockets; on shutdown each is told to go away (clients reconnect elsewhere)."""
    hub = Hub()
    app[HUB] = hub
    app[PRESENCE] = PresenceTable()
    yield
    hub.close_all(1001, "server shutting down")


async def bus_ctx(app: web.Application) -> AsyncIterator[None]:
    """The bus feeds the hub; Redis when configured, so every node sees every event."""
    cfg = app[SETTINGS].bus
    bus = make_bus(cfg.redis_url, cfg.stream_key, cfg.retention)
    bus.listen(app[HUB].dispatch)
    bus.listen(app[PRESENCE].apply)
    await bus.start()
    app[BUS] = bus
    app[SERVICES] = Services(app[SETTINGS], app[SESSIONMAKER], bus)
    yield
    await bus.close()


async def snooze_ctx(app: web.Application) -> AsyncIterator[None]:
    """Wake snoozed conversations when their time comes; every node runs one, safely (comms/snooze.py)."""
    waker = SnoozeWaker(app[SERVICES])
    app[BUS].listen(waker.notice)
    task = asyncio.create_task(waker.run_forever(), name="snooze-waker")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def reminders_ctx(app: web.Application) -> AsyncIterator[None]:
    """Send appointment reminders when due; every node runs the runner, each reminder goes once."""
    task = asyncio.create_task(ReminderRunner(app[SERVICES]).run_forever(), name="reminders")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def forms_ctx(app: web.Application) -> AsyncIterator[None]:
    """Expire unfinished intake forms and remind them (comms/form_followups.py); every node runs one."""
    sweeper = FormSweeper(app[SERVICES], on_queued=lambda: wake_sender(app))
    task = asyncio.create_task(sweeper.run_forever(), name="form-sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def waitlist_ctx(app: web.Application) -> AsyncIterator[None]:
    """Move lapsed waitlist offers on to the next patients (comms/waitlist_offers.py); every node runs one."""
    sweeper = WaitlistSweeper(app[SERVICES], on_queued=lambda: wake_sender(app))
    task = asyncio.create_task(sweeper.run_forever(), name="waitlist-sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def index(request: web.Request) -> web.FileResponse:
    """The staff page, with the policy that lets its softphone reach the carrier (and nothing else)."""
    return web.FileResponse(
        STATIC / "index.html", headers={"Content-Security-Policy": page_policy(request.app[SETTINGS])}
    )


async def favicon(request: web.Request) -> web.FileResponse:
    """Browsers ask for /favicon.ico on every page (patient pages too); the icon is an SVG."""
    return web.FileResponse(
        STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"}
    )


def create_app(settings: Settings, *, demo: bool = False) -> web.Application:
    """Build the app; nothing is opened until it starts (cleanup contexts run in this order)."""
    app = web.Application(middlewares=[errors_middleware, security_headers], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[DEMO] = demo
    app[BACKGROUND] = set()
    app.cleanup_ctx.extend(
        [database_ctx, hub_ctx, bus_ctx, snooze_ctx, reminders_ctx, carrier_ctx, mail_ctx, payments_ctx]
    )
    app.cleanup_ctx.append(forms_ctx)
    app.cleanup_ctx.append(waitlist_ctx)
    app.cleanup_ctx.append(session_watch_ctx)
    for router in ROUTERS:
        router.add_to(app)
    handlers_twilio.add_routes(app)
    handlers_voice.add_routes(app)
    handlers_pay.add_routes(app)
    handlers_reviews.add_routes(app)
    handlers_booking.add_routes(app)
    handlers_form_page.add_routes(app)
    handlers_waitlist.add_routes(app)
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static/", STATIC, append_version=True)
    return app


def run(settings: Settings, host: str, port: int, *, demo: bool = False) -> None:
    """Serve until interrupted; start-up errors (like an unmigrated database) propagate to the CLI."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logsafe.install(logging.getLogger().handlers)
    app = create_app(settings, demo=demo)
    app.cleanup_ctx.append(heap_ctx)  # last: it sets aside what the others made
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        access_log_class=PathOnlyAccessLogger,
    )
