"""Health and the API description."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web
from sqlalchemy import text

from routing.bus import RedisBus
from schemas.api import Health
from schemas.rest import OpenApiDocument
from web.api import API_ROUTES, ApiRoute, ApiRouter, reply
from web.keys import BUS, ENGINE, SETTINGS
from web.openapi import document_bytes

router = ApiRouter("system")


def app_version() -> str:
    try:
        return version("frontdesk")
    except PackageNotFoundError:
        return "0+unknown"


@router.route(
    "GET",
    "/healthz",
    summary="Database and bus state (200 when both answer)",
    response=Health,
    errors=(503,),
    auth=False,
)
async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "down"
    bus = request.app[BUS]
    bus_ok = "ok" if await bus.healthy() else "down"
    ok = database == "ok" and bus_ok == "ok"
    health = Health(
        status="ok" if ok else "degraded",
        database=database,
        bus=bus_ok,
        bus_kind="redis" if isinstance(bus, RedisBus) else "in-process",
        version=app_version(),
    )
    return reply(health, status=200 if ok else 503)


@router.route(
    "GET",
    "/api/v1/openapi.json",
    summary="This document: every route with its parameters, bodies, replies and errors (OpenAPI 3.1)",
    response=OpenApiDocument,
    auth=False,
)
async def openapi(request: web.Request) -> web.Response:
    registered: list[ApiRoute] = request.app[API_ROUTES]
    routes = tuple(registered)
    body = document_bytes(routes, app_version(), request.app[SETTINGS].sessions.cookie_name)
    return web.Response(body=body, content_type="application/json")
