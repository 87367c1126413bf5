"""Review requests: a text with a short tracked link (/r/<token>) that leads to the location's review
page. Every patient gets the same page (no gating on how they felt), each patient is asked at most once
per `reviews.period_days` whoever asks, and each click is counted on the thread's review card."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, FrontdeskError, NotFound
from comms.messaging import publish_update, queue_sms, write_unit
from comms.models import Contact, Conversation, Location, TimelineItem, utcnow
from comms.review_models import ReviewClick, ReviewRequest, ReviewSite
from comms.services import Services, Unit
from comms.timeline import add_item, conversation_for
from schemas.reviews import ReviewRequestOut, ReviewSiteIn, ReviewSiteOut


def review_text(location: str, url: str) -> str:
    return f"{location}: thank you for visiting us! Would you tell others how it went? {url}"


async def get_site(services: Services, actor: Actor, location_id: int) -> ReviewSiteOut:
    actor.require_location(location_id)
    async with services.read() as s:
        site = await s.get(ReviewSite, location_id)
    return ReviewSiteOut(location_id=location_id, url=site.url if site else None)


async def put_site(services: Services, actor: Actor, location_id: int, body: ReviewSiteIn) -> ReviewSiteOut:
    """Set where the location's review links lead (admins); links already sent follow the change."""
    actor.require_admin()
    async with services.unit() as unit:
        location = await unit.session.get(Location, location_id)
        if location is None or location.practice_id != actor.practice_id:
            raise NotFound("no such location")
        site = await unit.session.get(ReviewSite, location_id)
        if site is None:
            unit.session.add(ReviewSite(location_id=location_id, url=body.url))
        else:
            site.url = body.url
        audit.record(unit.session, actor, "update", "review_site", location_id)
    return ReviewSiteOut(location_id=location_id, url=body.url)


async def _out(s: AsyncSession, request: ReviewRequest) -> ReviewRequestOut:
    clicks = await s.scalar(select(func.count(ReviewClick.id)).where(ReviewClick.request_id == request.id))
    return ReviewRequestOut(
        id=request.id,
        conversation_id=request.conversation_id,
        contact_id=request.contact_id,
        location_id=request.location_id,
        item_id=request.item_id,
        source=request.source,
        clicks=int(clicks or 0),
        first_clicked_at=request.first_clicked_at,
        created_at=request.created_at,
    )


async def _ask(
    services: Services, unit: Unit, conversation: Conversation, author_id: int | None, source: str
) -> ReviewRequest:
    """Write the review card and queue its text; Conflict when the patient was asked within the period."""
    s = unit.session
    location = await s.get(Location, conversation.location_id)
    site = await s.get(ReviewSite, conversation.location_id)
    if location is None:
        raise NotFound("no such conversation")
    if site is None:
        raise Conflict("this location has no review page yet: an admin sets it under the location's settings")
    # Lock the patient's row so two staff asking at once cannot both pass the once-per-period check.
    await s.get(Contact, conversation.contact_id, with_for_update=not services.settings.database.is_sqlite)
    now = utcnow()
    period = services.settings.reviews.period_days
    last = await s.scalar(
        select(func.max(ReviewRequest.created_at)).where(
            ReviewRequest.contact_id == conversation.contact_id,
            ReviewRequest.created_at > now - dt.timedelta(days=period),
        )
    )
    if last is not None:
        raise Conflict(
            f"this patient was asked for a review on {last:%B %-d, %Y}; at most once every {period} days"
        )
    request = ReviewRequest(
        token=secrets.token_urlsafe(8),
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        location_id=location.id,
        created_by_id=author_id,
        source=source,
        created_at=now,
    )
    s.add(request)
    await s.flush()
    item = await add_item(
        unit,
        conversation,
        TimelineItem(
            kind="review",
            direction="internal",
            body="Review request",
            status="sent",
            author_id=author_id,
            meta={"review_request_id": request.id, "clicks": 0, "source": source},
        ),
    )
    request.item_id = item.id
    url = f"{services.settings.server.public_base_url}/r/{request.token}"
    await queue_sms(
        unit,
        conversation,
        review_text(location.name, url),
        author_id=author_id,
        meta={"review_request_id": request.id},
    )
    return request


async def request_review(services: Services, actor: Actor, conversation_id: int) -> ReviewRequestOut:
    """Staff ask the thread's patient for a review (all or nothing: STOP or the period refuses it)."""
    async with write_unit(services) as unit:
        conversation = await conversation_for(unit, actor, conversation_id)
        request = await _ask(services, unit, conversation, actor.user_id, "staff")
        audit.record(unit.session, actor, "create", "review_request", request.id)
        return await _out(unit.session, request)


async def request_review_after_visit(services: Services, conversation_id: int) -> int | None:
    """The automatic ask after a completed appointment; None (nothing sent) when the patient was asked
    within the period, opted out, or the location has no review page."""
    try:
        async with write_unit(services) as unit:
            conversation = await unit.session.get(Conversation, conversation_id)
            if conversation is None:
                return None
            request = await _ask(services, unit, conversation, None, "appointment")
            audit.record(
                unit.session, None, "create", "review_request", request.id, {"source": "appointment"}
            )
            return request.id
    except FrontdeskError:
        return None


async def follow(services: Services, token: str) -> str:
    """A patient opened a review link: count the click (on the card, live) and say where it leads."""
    async with write_unit(services) as unit:
        s = unit.session
        request = await s.scalar(select(ReviewRequest).where(ReviewRequest.token == token))
        if request is None:
            raise NotFound("this review link is not valid")
        site = await s.get(ReviewSite, request.location_id)
        if site is None:
            raise NotFound("this location has no review page")
        now = utcnow()
        s.add(ReviewClick(request_id=request.id, at=now))
        request.first_clicked_at = request.first_clicked_at or now
        await s.flush()
        clicks = await s.scalar(
            select(func.count(ReviewClick.id)).where(ReviewClick.request_id == request.id)
        )
        item = await s.get(TimelineItem, request.item_id) if request.item_id else None
        if item is not None:
            item.status = "clicked"
            item.meta = {
                **(item.meta or {}),
                "clicks": int(clicks or 0),
                "first_clicked_at": request.first_clicked_at.isoformat(),
            }
            await publish_update(unit, item)
        audit.record(s, None, "click", "review_request", request.id)
        return site.url
