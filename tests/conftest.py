"""Shared fixtures: a migrated store on SQLite and on PostgreSQL, the bus, and a running app."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from comms import migrate
from comms.db import make_engine, make_sessionmaker
from comms.services import Services
from config.settings import Settings
from routing.bus import InProcessBus
from tests.watchdog import watched

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("FRONTDESK_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FRONTDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
# A copy of the shared public corpora (data only, licences in its README), for clones made elsewhere.
VENDORED_TESTDATA = Path(__file__).resolve().parent / "data" / "shared"


def _capture(item: pytest.Item) -> Any:
    return item.config.pluginmanager.getplugin("capturemanager")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    with watched(f"setup of {item.nodeid}", _capture(item)):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    with watched(item.nodeid, _capture(item)):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    with watched(f"teardown of {item.nodeid}", _capture(item)):
        return (yield)


def need_service(name: str, reason: str) -> None:
    """Outside CI a missing service skips with a clear message; under CI=true it fails the test."""
    message = f"{name} is not reachable ({reason})"
    if IN_CI:
        pytest.fail(message + " and CI=true requires it", pytrace=False)
    pytest.skip(message + "; start it or run under CI to include these tests")


def testdata(name: str) -> Path:
    """A file of the shared public test corpora: ../shared/testdata when present, else the vendored copy."""
    path = SHARED / "testdata" / name
    if not path.exists():
        path = VENDORED_TESTDATA / name
    if not path.exists():
        need_service("shared/testdata", f"{path} is missing")
    return path


async def _pg_schema() -> str | None:
    """A fresh PostgreSQL schema for one test, so tests never see each other's rows."""
    schema = "t_" + secrets.token_hex(6)
    engine = create_async_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
    except (OSError, Exception) as exc:  # asyncpg raises several kinds when the server is away
        await engine.dispose()
        need_service("PostgreSQL", f"{PG_URL}: {exc.__class__.__name__}")
        return None
    await engine.dispose()
    return schema


async def _drop_schema(schema: str) -> None:
    engine = create_async_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Database settings for a migrated, empty store; every store test runs on both backends."""
    if request.param == "sqlite":
        yield {"url": f"sqlite+aiosqlite:///{tmp_path / 'frontdesk.db'}"}
        return
    schema = await _pg_schema()
    assert schema is not None
    try:
        yield {"url": PG_URL, "schema": schema}
    finally:
        await _drop_schema(schema)


def make_settings(database: dict[str, Any], **sections: dict[str, Any]) -> Settings:
    """Settings for tests: defaults, but the SMTP listener on a free port so parallel servers never clash."""
    data: dict[str, Any] = {"database": database, **sections}
    data["smtp"] = {"listen_port": 0, **data.get("smtp", {})}
    return Settings.model_validate(data)


@pytest.fixture
async def settings(db_settings: dict[str, Any]) -> AsyncIterator[Settings]:
    yield make_settings(db_settings)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    """A migrated store with the in-process bus: enough to run actions directly."""
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    bus = InProcessBus(settings.bus.retention)
    try:
        yield Services(settings, make_sessionmaker(engine), bus)
    finally:
        await engine.dispose()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The real Redis, checked reachable; tests use their own stream keys so they never collide."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        need_service("Redis", f"{REDIS_URL}: {exc.__class__.__name__}")
    finally:
        await client.aclose()
    yield REDIS_URL


@pytest.fixture
def app_settings(db_settings: dict[str, Any]) -> Settings:
    """Settings for a served app: our test Origin allowed, cookies not marked Secure over plain HTTP."""
    from tests.helpers import ORIGIN

    return make_settings(db_settings, server={"allowed_origins": [ORIGIN]})


@pytest.fixture
async def served(app_settings: Settings, aiohttp_server: Any) -> AsyncIterator[Any]:
    """A migrated store, seeded with a small practice, served by the real app on a real port."""
    from tests.helpers import seed_practice
    from web.app import create_app
    from web.keys import SERVICES

    engine = make_engine(app_settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = create_app(app_settings)
    server = await aiohttp_server(app)
    practice = await seed_practice(app[SERVICES])
    server.practice = practice
    yield server


@pytest.fixture
async def served_on_port(db_settings: dict[str, Any], aiohttp_server: Any) -> AsyncIterator[Any]:
    """Like `served`, but on a port known in advance so the page's own Origin is the allowed one."""
    from tests.helpers import seed_practice
    from tests.ports import free_port
    from web.app import create_app
    from web.keys import SERVICES

    port = free_port()
    settings = make_settings(db_settings, server={"public_base_url": f"http://127.0.0.1:{port}"})
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    server = await aiohttp_server(app, port=port)
    server.practice = await seed_practice(app[SERVICES])
    server.base = f"http://127.0.0.1:{port}"
    yield server
