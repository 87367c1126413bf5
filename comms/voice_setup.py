"""A location's phone set-up, its ring groups, and who is on duty to take calls."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import InvalidRequest, NotFound
from comms.models import Location, StaffLocation, StaffUser
from comms.one_line import one_line
from comms.services import Services
from comms.voice_models import RingGroup, RingGroupMember, StaffPhone, VoiceSettings
from schemas.voice import OnDutyIn, RingGroupIn, RingGroupOut, VoiceConfig


async def config_of(session: AsyncSession, location_id: int) -> VoiceConfig:
    """The stored set-up, or the defaults for a location nobody has configured yet."""
    row = await session.get(VoiceSettings, location_id)
    return VoiceConfig.model_validate(row.config) if row is not None else VoiceConfig()


async def _location(session: AsyncSession, actor: Actor, location_id: int) -> Location:
    location = await session.get(Location, location_id)
    if location is None or location.practice_id != actor.practice_id:
        raise NotFound("no such location")
    actor.require_location(location_id)
    return location


async def get_config(services: Services, actor: Actor, location_id: int) -> VoiceConfig:
    """Any staff member of the location may read how its phones answer."""
    async with services.read() as session:
        await _location(session, actor, location_id)
        return await config_of(session, location_id)


async def put_config(services: Services, actor: Actor, location_id: int, config: VoiceConfig) -> VoiceConfig:
    """Admins change hours, phone tree, queue and voicemail; named ring groups must be this location's."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        await _location(s, actor, location_id)
        named = {o.group_id for o in config.menu_options if o.group_id is not None}
        if config.default_group_id is not None:
            named.add(config.default_group_id)
        if named:
            found = set(
                await s.scalars(
                    select(RingGroup.id).where(RingGroup.id.in_(named), RingGroup.location_id == location_id)
                )
            )
            if missing := named - found:
                raise InvalidRequest(f"no ring group {sorted(missing)[0]} at this location")
        row = await s.get(VoiceSettings, location_id)
        data = config.model_dump(mode="json")
        if row is None:
            s.add(VoiceSettings(location_id=location_id, config=data))
        else:
            row.config = data
        audit.record(s, actor, "update", "voice_settings", location_id)
        return config


async def staff_of_location(session: AsyncSession, practice_id: int, location_id: int) -> list[int]:
    """Active staff who may take this location's calls: its own staff and every admin."""
    local = select(StaffLocation.user_id).where(StaffLocation.location_id == location_id)
    query = select(StaffUser.id).where(
        StaffUser.practice_id == practice_id,
        StaffUser.active.is_(True),
        (StaffUser.role == "admin") | StaffUser.id.in_(local),
    )
    return list(await session.scalars(query.order_by(StaffUser.id)))


async def group_members(session: AsyncSession, group_id: int) -> list[int]:
    rows = await session.scalars(select(RingGroupMember.user_id).where(RingGroupMember.group_id == group_id))
    return sorted(rows)


async def list_groups(services: Services, actor: Actor, location_id: int) -> list[RingGroupOut]:
    async with services.read() as session:
        await _location(session, actor, location_id)
        groups = await session.scalars(
            select(RingGroup).where(RingGroup.location_id == location_id).order_by(RingGroup.id)
        )
        return [
            RingGroupOut(
                id=g.id, location_id=location_id, name=g.name, member_ids=await group_members(session, g.id)
            )
            for g in groups
        ]


async def save_group(
    services: Services, actor: Actor, location_id: int, body: RingGroupIn, group_id: int | None = None
) -> RingGroupOut:
    """Create or replace a ring group; every member must be staff who may take this location's calls."""
    actor.require_admin()
    name = one_line(body.name, "name")
    if not name:
        raise InvalidRequest("a ring group needs a name")
    async with services.unit() as unit:
        s = unit.session
        await _location(s, actor, location_id)
        allowed = set(await staff_of_location(s, actor.practice_id, location_id))
        if stray := set(body.member_ids) - allowed:
            raise InvalidRequest(f"staff {sorted(stray)[0]} cannot take this location's calls")
        if group_id is None:
            group = RingGroup(location_id=location_id, name=name)
            s.add(group)
            await s.flush()
        else:
            found = await s.get(RingGroup, group_id)
            if found is None or found.location_id != location_id:
                raise NotFound("no such ring group")
            group = found
            group.name = name
            await s.execute(delete(RingGroupMember).where(RingGroupMember.group_id == group.id))
        for user_id in sorted(set(body.member_ids)):
            s.add(RingGroupMember(group_id=group.id, user_id=user_id))
        audit.record(s, actor, "update", "ring_group", group.id, {"members": len(body.member_ids)})
        return RingGroupOut(
            id=group.id, location_id=location_id, name=group.name, member_ids=sorted(set(body.member_ids))
        )


async def on_duty_ids(session: AsyncSession, user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    rows = await session.scalars(
        select(StaffPhone.user_id).where(StaffPhone.user_id.in_(user_ids), StaffPhone.on_duty.is_(True))
    )
    return set(rows)


async def set_on_duty(services: Services, actor: Actor, body: OnDutyIn) -> bool:
    """A staff member starts or stops taking calls (their softphone rings only while on duty)."""
    async with services.unit() as unit:
        row = await unit.session.get(StaffPhone, actor.user_id)
        if row is None:
            unit.session.add(StaffPhone(user_id=actor.user_id, on_duty=body.on_duty))
        else:
            row.on_duty = body.on_duty
        audit.record(unit.session, actor, "update", "staff_phone", actor.user_id, {"on_duty": body.on_duty})
        return body.on_duty


async def is_on_duty(services: Services, user_id: int) -> bool:
    async with services.read() as session:
        row = await session.get(StaffPhone, user_id)
        return bool(row and row.on_duty)
