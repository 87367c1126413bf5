"""The demo's review pages: each demo location's review links lead to a stand-in page the demo serves
(a real practice sets its Google or other page), so a review request can be followed end to end."""

from __future__ import annotations

from sqlalchemy import select

from comms.models import Location, Practice
from comms.review_models import ReviewSite
from comms.services import Services

DEMO_REVIEW_PATH = "/demo/reviews/"  # served by the app in demo mode only (web/demo_reviews.py)


def demo_review_url(base_url: str, location_id: int) -> str:
    return f"{base_url.rstrip('/')}{DEMO_REVIEW_PATH}{location_id}"


async def seed_review_sites(services: Services, practice_name: str, base_url: str) -> int:
    """Point the practice's locations that have no review page at the demo's, and move the demo's own
    to `base_url` (the demo may listen on another port this time); a page an admin set is kept.
    Returns how many sites were added or moved."""
    changed = 0
    async with services.unit() as unit:
        s = unit.session
        locations = await s.scalars(
            select(Location)
            .join(Practice, Practice.id == Location.practice_id)
            .where(Practice.name == practice_name)
            .order_by(Location.id)
        )
        for location in locations:
            url = demo_review_url(base_url, location.id)
            site = await s.get(ReviewSite, location.id)
            if site is None:
                s.add(ReviewSite(location_id=location.id, url=url))
                changed += 1
            elif DEMO_REVIEW_PATH in site.url and site.url != url:
                site.url = url
                changed += 1
    return changed
