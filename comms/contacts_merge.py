"""Merging a duplicate patient into the record staff keep, with all its numbers, addresses and threads.

The duplicate is never deleted: it stays as a tombstone pointing at the kept record (`merged_into_id`)
so the audit trail still resolves, and every lookup leaves it out.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.contacts import announce, prune_household, rehouse
from comms.contacts_read import ADDRESS_PARTS, INSURANCE_PARTS, contact_out, conversations_of, may_see
from comms.errors import Conflict, Forbidden, InvalidRequest, NotFound
from comms.models import Contact, Conversation, ConversationRead, TimelineItem
from comms.regroup import first_unread, move_notifications, readers, resummarize
from comms.services import Services, Unit
from comms.summaries import effective_status
from routing.audience import Audience
from schemas.contacts import ConversationMerged, MergeResult

MAX_HOPS = 20


async def _live_end(session: AsyncSession, contact: Contact) -> Contact:
    """Follow merged_into_id to the record a tombstone now lives in (for the visibility check)."""
    current = contact
    for _ in range(MAX_HOPS):
        if current.merged_into_id is None:
            return current
        following = await session.get(Contact, current.merged_into_id)
        if following is None:
            return current
        current = following
    return current


async def _load(session: AsyncSession, actor: Actor, contact_id: int) -> tuple[Contact, list[Conversation]]:
    """A record the actor may merge: live, visible, and (for staff) with every thread at their locations."""
    contact = await session.scalar(select(Contact).where(Contact.id == contact_id).with_for_update())
    if contact is None or contact.practice_id != actor.practice_id:
        raise NotFound("no such patient")
    conversations = await conversations_of(session, contact.id)
    if contact.merged_into_id is not None:
        live = await _live_end(session, contact)
        if not may_see(actor, await conversations_of(session, live.id)):
            raise NotFound("no such patient")
        raise Conflict(f"patient {contact.id} was already merged into another record")
    if not may_see(actor, conversations):
        raise NotFound("no such patient")
    if not all(actor.may_see(c.location_id) for c in conversations):
        raise Forbidden("this patient has conversations at locations you cannot see; ask an administrator")
    return contact, conversations


async def _merge_reads(session: AsyncSession, source: Conversation, target: Conversation) -> None:
    """One read marker per reader: the furthest of the two, but never past a message they had not read.

    A single marker cannot keep two interleaved timelines' read state exactly; taking the larger one
    could silently mark a patient's unanswered text as read, so it stops just before the oldest inbound
    item that reader had not seen in either thread (some read items may show as unread again instead).
    """
    theirs, ours = await readers(session, source.id), await readers(session, target.id)
    for user_id in sorted(theirs.keys() | ours.keys()):
        a = ours[user_id].last_read_item_id if user_id in ours else 0
        b = theirs[user_id].last_read_item_id if user_id in theirs else 0
        marker = max(a, b)
        for conv_id, seen in ((target.id, a), (source.id, b)):
            unseen = await first_unread(session, conv_id, seen)
            if unseen is not None:
                marker = min(marker, unseen - 1)
        read_at = max(r.read_at for r in (ours.get(user_id), theirs.get(user_id)) if r is not None)
        if user_id in ours:
            ours[user_id].last_read_item_id, ours[user_id].read_at = marker, read_at
        else:
            session.add(
                ConversationRead(
                    conversation_id=target.id, user_id=user_id, last_read_item_id=marker, read_at=read_at
                )
            )
    await session.execute(delete(ConversationRead).where(ConversationRead.conversation_id == source.id))


async def _fold(unit: Unit, source: Conversation, target: Conversation) -> int:
    """Move every item of source into target (same location), then drop the emptied conversation."""
    s = unit.session
    count = int(await s.scalar(select(func.count()).where(TimelineItem.conversation_id == source.id)) or 0)
    await _merge_reads(s, source, target)
    await s.execute(
        update(TimelineItem)
        .where(TimelineItem.conversation_id == source.id)
        .values(conversation_id=target.id)
        .execution_options(synchronize_session=False)
    )
    await move_notifications(s, source.id, target.id)
    if effective_status(source) == "open" and effective_status(target) != "open":
        target.status, target.snoozed_until = "open", None  # an open thread is never closed by a merge
    if target.assignee_id is None and target.team_id is None:
        target.assignee_id, target.team_id = source.assignee_id, source.team_id
    await s.flush()
    await s.delete(source)
    await resummarize(s, target)
    unit.publish(
        ConversationMerged(
            location_id=source.location_id, conversation_id=source.id, into_conversation_id=target.id
        ),
        Audience.location(source.location_id),
    )
    return count


def _adopt_identity(kept: Contact, merged: Contact) -> None:
    """Fill what the kept record lacks (an unknown sender kept over a named patient takes the name)."""
    if kept.is_unknown and not merged.is_unknown:
        kept.first_name, kept.last_name, kept.is_unknown = merged.first_name, merged.last_name, False
    if kept.date_of_birth is None:
        kept.date_of_birth = merged.date_of_birth
    # An address and an insurance move as a whole: parts of two different addresses are neither.
    for prefix, parts in (("address", ADDRESS_PARTS), ("insurance", INSURANCE_PARTS)):
        attrs = [f"{prefix}_{part}" for part in parts]
        if not any(getattr(kept, a) for a in attrs):
            for a in attrs:
                setattr(kept, a, getattr(merged, a))
    if kept.insurance_card_upload_id is None:
        kept.insurance_card_upload_id = merged.insurance_card_upload_id


async def _move_details(session: AsyncSession, kept: Contact, merged: Contact) -> tuple[int, int]:
    """Numbers and addresses join the kept record (repeats dropped, its own stay first)."""
    numbers, addresses = {p.e164 for p in kept.phones}, {e.address for e in kept.emails}
    phones_moved = emails_moved = 0
    for phone in list(merged.phones):
        if phone.e164 in numbers:
            await session.delete(phone)
        else:
            phone.contact = kept
            phones_moved += 1
    for email in list(merged.emails):
        if email.address in addresses:
            await session.delete(email)
        else:
            email.contact = kept
            emails_moved += 1
    await session.flush()
    return phones_moved, emails_moved


async def merge_contacts(services: Services, actor: Actor, keep_id: int, merge_id: int) -> MergeResult:
    """Fold a duplicate into the kept patient in one transaction; the duplicate becomes a tombstone."""
    if keep_id == merge_id:
        raise InvalidRequest("a patient cannot be merged into itself")
    async with services.unit() as unit:
        s = unit.session
        # Lock in id order, so two merges touching the same pair cannot deadlock.
        loaded = {cid: await _load(s, actor, cid) for cid in sorted((keep_id, merge_id))}
        (kept, kept_convs), (merged, merged_convs) = loaded[keep_id], loaded[merge_id]
        _adopt_identity(kept, merged)
        phones_moved, emails_moved = await _move_details(s, kept, merged)

        at_location = {c.location_id: c for c in kept_convs}
        moved = folded = items = 0
        for conv in merged_convs:
            target = at_location.get(conv.location_id)
            if target is None:
                conv.contact_id = kept.id
                moved += 1
            else:
                items += await _fold(unit, conv, target)
                folded += 1

        old_household = merged.household_id
        if kept.household_id is None:
            kept.household_id = old_household
        merged.household_id, merged.merged_into_id = None, kept.id
        await s.flush()
        touched = {kept.id} | await rehouse(s, actor, kept)
        if old_household is not None and old_household != kept.household_id:
            touched |= await prune_household(s, actor, old_household)

        detail = {
            "merged_id": merged.id,
            "conversations_moved": moved,
            "conversations_folded": folded,
            "items_moved": items,
            "phones_moved": phones_moved,
            "emails_moved": emails_moved,
            "household_id": kept.household_id,
        }
        audit.record(s, actor, "merge", "contact", kept.id, detail)
        audit.record(s, actor, "merged_into", "contact", merged.id, {"kept_id": kept.id})
        await announce(unit, touched)
        out = await contact_out(s, actor, kept, await conversations_of(s, kept.id))
        return MergeResult(
            contact=out, conversations_moved=moved, conversations_folded=folded, items_moved=items
        )
