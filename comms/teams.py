"""Teams of staff that conversations can be handed to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, InvalidRequest
from comms.models import StaffUser, Team, TeamMember
from comms.one_line import one_line
from comms.services import Services
from schemas.inbox import TeamOut


async def list_teams(services: Services, actor: Actor) -> list[TeamOut]:
    """Every team of the practice with its members (staff need them to hand off)."""
    async with services.read() as session:
        teams = list(
            await session.scalars(
                select(Team).where(Team.practice_id == actor.practice_id).order_by(Team.name)
            )
        )
        members = (
            await session.execute(
                select(TeamMember.team_id, TeamMember.user_id).where(
                    TeamMember.team_id.in_([t.id for t in teams])
                )
            )
        ).all()
    by_team: dict[int, list[int]] = {}
    for team_id, user_id in members:
        by_team.setdefault(team_id, []).append(user_id)
    return [TeamOut(id=t.id, name=t.name, member_ids=sorted(by_team.get(t.id, []))) for t in teams]


async def create_team(services: Services, actor: Actor, name: str, member_ids: list[int]) -> TeamOut:
    """Admins make teams; members must be active staff of the practice."""
    actor.require_admin()
    name = one_line(name, "name")
    if not name:
        raise InvalidRequest("a team needs a name")
    try:
        async with services.unit() as unit:
            s = unit.session
            known = set(
                await s.scalars(
                    select(StaffUser.id).where(
                        StaffUser.practice_id == actor.practice_id,
                        StaffUser.active.is_(True),
                        StaffUser.id.in_(member_ids),
                    )
                )
            )
            if set(member_ids) - known:
                raise InvalidRequest(f"unknown staff ids: {sorted(set(member_ids) - known)}")
            team = Team(practice_id=actor.practice_id, name=name)
            s.add(team)
            await s.flush()
            s.add_all(TeamMember(team_id=team.id, user_id=u) for u in sorted(known))
            audit.record(s, actor, "create", "team", team.id, {"members": len(known)})
            return TeamOut(id=team.id, name=team.name, member_ids=sorted(known))
    except IntegrityError:
        raise Conflict(f"a team named {name} already exists") from None
