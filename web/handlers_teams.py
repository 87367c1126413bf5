"""REST: teams that conversations can be handed to."""

from __future__ import annotations

from aiohttp import web

from comms import teams
from schemas.inbox import TeamCreate, TeamOut
from web.api import ApiRouter, parse_body, reply
from web.keys import SERVICES
from web.staff_auth import require_actor

router = ApiRouter("teams")


@router.route(
    "GET", "/api/v1/teams", summary="The practice's teams and their members", response=list[TeamOut]
)
async def list_teams(request: web.Request) -> web.Response:
    return reply(await teams.list_teams(request.app[SERVICES], await require_actor(request)))


@router.route(
    "POST",
    "/api/v1/teams",
    summary="Create a team (admins)",
    body=TeamCreate,
    response=TeamOut,
    status=201,
    errors=(409,),
)
async def create_team(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, TeamCreate)
    return reply(
        await teams.create_team(request.app[SERVICES], actor, body.name, body.member_ids), status=201
    )
