"""Team chat: public channels and direct conversations between staff, @mentions and read markers."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.chat_models import ChatChannel, ChatMember, ChatMessage
from comms.errors import Conflict, InvalidRequest, NotFound
from comms.mentions import local_part, mentioned_in
from comms.models import StaffUser, utcnow
from comms.notifications import notify
from comms.services import Services, Unit
from routing.audience import Audience
from schemas.chat import (
    MAX_BODY,
    MAX_NAME,
    ChatChannelCreated,
    ChatChannelOut,
    ChatChannelState,
    ChatMessageOut,
    ChatMessagePosted,
    ChatRead,
    ChatReadState,
    StaffOut,
)

GENERAL = "general"
MAX_PAGE = 200


def message_out(message: ChatMessage) -> ChatMessageOut:
    """The wire form of a message; the same shape in REST replies and in events."""
    return ChatMessageOut(
        id=message.id,
        channel_id=message.channel_id,
        author_id=message.author_id,
        body=message.body,
        created_at=message.created_at,
        edited_at=message.edited_at,
    )


def check_body(body: str) -> None:
    """Refuse what cannot be stored as sent; everything else is kept byte for byte (no trim, no escaping)."""
    if not body.strip():
        raise InvalidRequest("body: the message is empty")
    if len(body) > MAX_BODY:
        raise InvalidRequest(
            f"body: a message may have at most {MAX_BODY} characters, this one has {len(body)}"
        )
    if "\x00" in body:
        raise InvalidRequest("body: NUL characters cannot be stored")
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("body: contains an unpaired surrogate; send valid Unicode") from None


def channel_name(raw: str) -> str:
    """A channel's name as shown after '#': trimmed, 1-80 characters, one line of printable text."""
    name = raw.strip()
    name = name[1:].strip() if name.startswith("#") else name
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidRequest(f"name: a channel name needs 1 to {MAX_NAME} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise InvalidRequest("name: control characters are not allowed in a channel name")
    return name


async def _join(unit: Unit, channel_id: int, user_ids: Iterable[int], last_read: int = 0) -> None:
    """Add members, skipping any who already are (two tabs may join at once)."""
    now = utcnow()
    rows = [
        {"channel_id": channel_id, "user_id": u, "last_read_message_id": last_read, "joined_at": now}
        for u in sorted(set(user_ids))
    ]
    if not rows:
        return
    insert = sqlite_insert if unit.session.get_bind().dialect.name == "sqlite" else pg_insert
    await unit.session.execute(
        insert(ChatMember).values(rows).on_conflict_do_nothing(index_elements=["channel_id", "user_id"])
    )


async def _active_staff(session: AsyncSession, practice_id: int) -> list[int]:
    query = select(StaffUser.id).where(StaffUser.practice_id == practice_id, StaffUser.active.is_(True))
    return list(await session.scalars(query.order_by(StaffUser.id)))


async def _members(session: AsyncSession, channel_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {c: [] for c in channel_ids}
    if channel_ids:
        rows = await session.execute(
            select(ChatMember.channel_id, ChatMember.user_id)
            .where(ChatMember.channel_id.in_(channel_ids))
            .order_by(ChatMember.user_id)
        )
        for channel_id, user_id in rows:
            found[channel_id].append(user_id)
    return found


async def _last_ids(session: AsyncSession, channel_ids: list[int]) -> dict[int, int]:
    if not channel_ids:
        return {}
    rows = await session.execute(
        select(ChatMessage.channel_id, func.max(ChatMessage.id))
        .where(ChatMessage.channel_id.in_(channel_ids))
        .group_by(ChatMessage.channel_id)
    )
    return {channel_id: last for channel_id, last in rows}


async def _unread(session: AsyncSession, user_id: int, channel_ids: list[int]) -> dict[int, int]:
    """Others' messages past the member's marker; one grouped query over (channel_id, id)."""
    if not channel_ids:
        return {}
    m = ChatMember
    rows = await session.execute(
        select(ChatMessage.channel_id, func.count())
        .join(m, and_(m.channel_id == ChatMessage.channel_id, m.user_id == user_id))
        .where(
            ChatMessage.channel_id.in_(channel_ids),
            ChatMessage.id > m.last_read_message_id,
            or_(ChatMessage.author_id.is_(None), ChatMessage.author_id != user_id),
        )
        .group_by(ChatMessage.channel_id)
    )
    return {channel_id: count for channel_id, count in rows}


def _state(channel: ChatChannel, member_ids: list[int], last_id: int | None) -> ChatChannelState:
    return ChatChannelState(
        id=channel.id,
        kind="direct" if channel.kind == "direct" else "channel",
        name=channel.name,
        member_ids=member_ids,
        created_by=channel.created_by,
        created_at=channel.created_at,
        last_message_id=last_id,
    )


async def _summaries(
    session: AsyncSession, user_id: int, channels: list[tuple[ChatChannel, int]]
) -> list[ChatChannelOut]:
    """Channels as one staff member sees them: shared state plus their marker and unread count."""
    ids = [c.id for c, _ in channels]
    members, last, unread = (
        await _members(session, ids),
        await _last_ids(session, ids),
        await _unread(session, user_id, ids),
    )
    return [
        ChatChannelOut(
            **_state(c, members[c.id], last.get(c.id)).model_dump(),
            last_read_message_id=marker,
            unread=unread.get(c.id, 0),
        )
        for c, marker in channels
    ]


async def _channel_for(session: AsyncSession, actor: Actor, channel_id: int) -> tuple[ChatChannel, bool]:
    """A channel the actor may use, and whether they are a member; a direct conversation is members-only."""
    channel = await session.get(ChatChannel, channel_id)
    if channel is None or channel.practice_id != actor.practice_id:
        raise NotFound("no such channel")
    member = await session.scalar(
        select(ChatMember.user_id).where(
            ChatMember.channel_id == channel_id, ChatMember.user_id == actor.user_id
        )
    )
    if member is None and channel.kind == "direct":
        raise NotFound("no such channel")  # not "forbidden": others' direct conversations stay invisible
    return channel, member is not None


async def _new_channel(
    unit: Unit, practice_id: int, name: str | None, direct_key: str | None, by: int | None, members: list[int]
) -> ChatChannel:
    """Insert a channel first (so a duplicate fails before other work), add members, announce it."""
    channel = ChatChannel(
        practice_id=practice_id,
        kind="direct" if direct_key else "channel",
        name=name,
        direct_key=direct_key,
        created_by=by,
        created_at=utcnow(),
    )
    unit.session.add(channel)
    await unit.session.flush()
    await _join(unit, channel.id, members)
    member_ids = sorted(set(members))
    unit.publish(ChatChannelCreated(channel=_state(channel, member_ids, None)), Audience.staff(*member_ids))
    return channel


async def ensure_general(services: Services, practice_id: int) -> None:
    """Give a practice its #general with every active staff member, once, even when tabs race to it."""
    async with services.read() as session:
        query = select(ChatChannel.id).where(
            ChatChannel.practice_id == practice_id, ChatChannel.kind == "channel"
        )
        if await session.scalar(query.limit(1)) is not None:
            return
    try:
        async with services.unit() as unit:
            staff = await _active_staff(unit.session, practice_id)
            await _new_channel(unit, practice_id, GENERAL, None, None, staff)
    except IntegrityError:
        pass  # a concurrent request created it first; theirs is the one


async def list_channels(services: Services, actor: Actor) -> list[ChatChannelOut]:
    """The actor's channels and direct conversations, with their unread counts; joins new public channels."""
    await ensure_general(services, actor.practice_id)
    async with services.unit() as unit:
        s = unit.session
        public = set(
            await s.scalars(
                select(ChatChannel.id).where(
                    ChatChannel.practice_id == actor.practice_id, ChatChannel.kind == "channel"
                )
            )
        )
        mine = set(await s.scalars(select(ChatMember.channel_id).where(ChatMember.user_id == actor.user_id)))
        # Staff added after a channel was made join it here, with its history already read.
        last = await _last_ids(s, sorted(public - mine))
        for channel_id in sorted(public - mine):
            await _join(unit, channel_id, [actor.user_id], last.get(channel_id, 0))
        rows = (
            await s.execute(
                select(ChatChannel, ChatMember.last_read_message_id)
                .join(
                    ChatMember,
                    and_(ChatMember.channel_id == ChatChannel.id, ChatMember.user_id == actor.user_id),
                )
                .where(ChatChannel.practice_id == actor.practice_id)
            )
        ).all()
        out = await _summaries(s, actor.user_id, [(c, marker) for c, marker in rows])
    channels = sorted(
        (c for c in out if c.kind == "channel"), key=lambda c: ((c.name or "").casefold(), c.id)
    )
    directs = sorted((c for c in out if c.kind == "direct"), key=lambda c: (-(c.last_message_id or 0), -c.id))
    return channels + directs


async def create_channel(services: Services, actor: Actor, name: str) -> ChatChannelOut:
    """A public channel; every active staff member of the practice becomes a member."""
    name = channel_name(name)
    await ensure_general(services, actor.practice_id)
    taken = Conflict(f"a channel named #{name} already exists")
    try:
        async with services.unit() as unit:
            s = unit.session
            names = await s.scalars(
                select(ChatChannel.name).where(
                    ChatChannel.practice_id == actor.practice_id, ChatChannel.kind == "channel"
                )
            )
            if any((n or "").casefold() == name.casefold() for n in names):
                raise taken
            channel = await _new_channel(
                unit, actor.practice_id, name, None, actor.user_id, await _active_staff(s, actor.practice_id)
            )
            audit.record(s, actor, "create", "chat_channel", channel.id)
            return (await _summaries(s, actor.user_id, [(channel, 0)]))[0]
    except IntegrityError:
        raise taken from None


async def open_direct(services: Services, actor: Actor, other_user_id: int) -> ChatChannelOut:
    """The one direct conversation between the actor and a colleague, created on first use."""
    if other_user_id == actor.user_id:
        raise InvalidRequest("user_id: pick a colleague, not yourself")
    key = ":".join(str(i) for i in sorted((actor.user_id, other_user_id)))
    for _ in range(2):
        try:
            async with services.unit() as unit:
                s = unit.session
                channel = await s.scalar(select(ChatChannel).where(ChatChannel.direct_key == key))
                if channel is None:
                    other = await s.get(StaffUser, other_user_id)
                    if other is None or not other.active or other.practice_id != actor.practice_id:
                        raise NotFound("no such staff member")
                    channel = await _new_channel(
                        unit, actor.practice_id, None, key, actor.user_id, [actor.user_id, other_user_id]
                    )
                    audit.record(s, actor, "create", "chat_channel", channel.id, {"kind": "direct"})
                marker = await s.scalar(
                    select(ChatMember.last_read_message_id).where(
                        ChatMember.channel_id == channel.id, ChatMember.user_id == actor.user_id
                    )
                )
                return (await _summaries(s, actor.user_id, [(channel, marker or 0)]))[0]
        except IntegrityError:
            continue  # the colleague opened it at the same moment: the second pass reads theirs
    raise Conflict("could not open the direct conversation; try again")


async def post_message(services: Services, actor: Actor, channel_id: int, body: str) -> ChatMessageOut:
    """Post as the actor; @mentioned members get a notification (never the author), all members the event."""
    check_body(body)
    async with services.unit() as unit:
        s = unit.session
        channel, is_member = await _channel_for(s, actor, channel_id)
        message = ChatMessage(channel_id=channel.id, author_id=actor.user_id, body=body, created_at=utcnow())
        s.add(message)
        await s.flush()
        if not is_member:  # a public channel: writing in it joins it
            await _join(unit, channel.id, [actor.user_id], message.id)
        await s.execute(
            update(ChatMember)
            .where(
                ChatMember.channel_id == channel.id,
                ChatMember.user_id == actor.user_id,
                ChatMember.last_read_message_id < message.id,
            )
            .values(last_read_message_id=message.id)
        )
        member_ids = set((await _members(s, [channel.id]))[channel.id])
        mentioned = await mentioned_in(s, actor.practice_id, body)
        if channel.kind == "channel" and mentioned - member_ids:
            # Mentioning a colleague brings them into a public channel, this message unread. Never a
            # direct conversation: its two members are the only ones who may see it.
            await _join(unit, channel.id, mentioned - member_ids, message.id - 1)
            member_ids |= mentioned
        mentioned &= member_ids
        out = message_out(message)
        unit.publish(
            ChatMessagePosted(channel_id=channel.id, message=out, mentions=sorted(mentioned)),
            Audience.staff(*member_ids),
        )
        notified = sorted(mentioned - {actor.user_id})
        for uid in notified:
            await notify(
                unit, uid, "mention", actor.user_id, chat_channel_id=channel.id, chat_message_id=message.id
            )
        audit.record(
            s,
            actor,
            "create",
            "chat_message",
            message.id,
            {"channel_id": channel.id, "mentions": len(notified)},
        )
        return out


async def list_messages(
    services: Services, actor: Actor, channel_id: int, before_id: int | None = None, limit: int = 50
) -> list[ChatMessageOut]:
    """A page of a channel's messages, newest first; reading is audited (chat may name patients)."""
    async with services.unit() as unit:
        channel, _ = await _channel_for(unit.session, actor, channel_id)
        query = select(ChatMessage).where(ChatMessage.channel_id == channel.id)
        if before_id is not None:
            query = query.where(ChatMessage.id < before_id)
        query = query.order_by(ChatMessage.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
        messages = [message_out(m) for m in await unit.session.scalars(query)]
        audit.record(unit.session, actor, "view", "chat_channel", channel.id, {"messages": len(messages)})
        return messages


async def mark_read(services: Services, actor: Actor, channel_id: int, message_id: int) -> ChatReadState:
    """Move the actor's marker forward to a message (never back) and tell their other tabs."""
    async with services.unit() as unit:
        s = unit.session
        channel, is_member = await _channel_for(s, actor, channel_id)
        marker = min(message_id, (await _last_ids(s, [channel.id])).get(channel.id, 0))
        if not is_member:
            await _join(unit, channel.id, [actor.user_id], marker)
        mine = and_(ChatMember.channel_id == channel.id, ChatMember.user_id == actor.user_id)
        # The comparison in the UPDATE keeps it monotonic even when two tabs report at once.
        await s.execute(
            update(ChatMember)
            .where(mine, ChatMember.last_read_message_id < marker)
            .values(last_read_message_id=marker)
        )
        current = int(await s.scalar(select(ChatMember.last_read_message_id).where(mine)) or 0)
        unread = (await _unread(s, actor.user_id, [channel.id])).get(channel.id, 0)
        unit.publish(
            ChatRead(channel_id=channel.id, last_read_message_id=current, unread=unread),
            Audience.staff(actor.user_id),
        )
        return ChatReadState(channel_id=channel.id, last_read_message_id=current, unread=unread)


async def list_staff(services: Services, actor: Actor) -> list[StaffOut]:
    """The practice's active staff, for the direct-message picker and @mention completion."""
    async with services.read() as session:
        rows = await session.scalars(
            select(StaffUser)
            .where(StaffUser.practice_id == actor.practice_id, StaffUser.active.is_(True))
            .order_by(StaffUser.name, StaffUser.id)
        )
        return [
            StaffOut(
                id=u.id,
                name=u.name,
                role="admin" if u.role == "admin" else "staff",
                handle=local_part(u.email),
            )
            for u in rows
        ]
