"""`make demo` seeds a review page for its locations: a review request sent from a demo thread can be
followed from the patient's link to the demo's stand-in review page; an admin's own page is kept."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import select

from comms import migrate, reviews
from comms.access import Actor
from comms.db import make_engine
from comms.models import Conversation, Location, StaffUser
from comms.review_models import ReviewRequest, ReviewSite
from comms.seed import PRACTICE_NAME, seed_demo
from comms.seed_reviews import seed_review_sites
from comms.services import Services
from tests.conftest import make_settings
from tests.ports import free_port
from web.keys import SERVICES


async def _sites(services: Services) -> dict[str, str]:
    async with services.read() as s:
        rows = await s.execute(select(Location.name, ReviewSite.url).join(ReviewSite))
        return {name: url for name, url in rows}


async def test_demo_locations_get_the_demo_review_page_and_an_admins_page_is_kept(
    services: Services,
) -> None:
    await seed_demo(services)
    assert await seed_review_sites(services, PRACTICE_NAME, "http://127.0.0.1:8080") == 2
    async with services.read() as s:
        ids = {name: i for name, i in await s.execute(select(Location.name, Location.id))}
    assert await _sites(services) == {
        "Maple Street": f"http://127.0.0.1:8080/demo/reviews/{ids['Maple Street']}",
        "Oak Park": f"http://127.0.0.1:8080/demo/reviews/{ids['Oak Park']}",
    }
    assert await seed_review_sites(services, PRACTICE_NAME, "http://127.0.0.1:8080") == 0  # idempotent
    async with services.unit() as unit:
        site = await unit.session.get(ReviewSite, ids["Oak Park"])
        assert site is not None
        site.url = "https://reviews.example/oak-park"  # the admin set the real one
    assert await seed_review_sites(services, PRACTICE_NAME, "http://127.0.0.1:9000/") == 1  # a new port
    assert await _sites(services) == {
        "Maple Street": f"http://127.0.0.1:9000/demo/reviews/{ids['Maple Street']}",
        "Oak Park": "https://reviews.example/oak-park",
    }
    assert await seed_review_sites(services, "Another practice", "http://127.0.0.1:9000") == 0


async def test_a_review_link_from_a_demo_thread_lands_on_the_demo_review_page(
    db_settings: dict[str, Any], aiohttp_server: Any
) -> None:
    from web.app import create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(db_settings, server={"public_base_url": base})
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = create_app(settings, demo=True)
    await aiohttp_server(app, port=port)
    services = app[SERVICES]
    await seed_demo(services)
    await seed_review_sites(services, PRACTICE_NAME, base)
    async with services.read() as s:
        admin = await s.scalar(select(StaffUser).where(StaffUser.role == "admin"))
        conversation = await s.scalar(
            select(Conversation).join(Location).where(Location.name == "Maple Street").limit(1)
        )
    assert admin is not None and conversation is not None
    actor = Actor(admin.id, admin.practice_id, "admin", None, "test")
    out = await reviews.request_review(services, actor, conversation.id)
    async with services.read() as s:
        token = await s.scalar(select(ReviewRequest.token).where(ReviewRequest.id == out.id))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/r/{token}", allow_redirects=False) as link:
            assert link.status == 302
            target = link.headers["Location"]
        assert target == f"{base}/demo/reviews/{conversation.location_id}"
        async with http.get(target) as page:
            assert page.status == 200 and "<h1>Review Maple Street</h1>" in await page.text()
        async with http.get(f"{base}/demo/reviews/999999") as missing:
            assert missing.status == 404
    async with services.read() as s:
        clicked = await s.get(ReviewRequest, out.id)
        assert clicked is not None and clicked.first_clicked_at is not None


async def test_outside_the_demo_there_is_no_stand_in_review_page(served: Any) -> None:
    async with aiohttp.ClientSession() as http, http.get(served.make_url("/demo/reviews/1")) as page:
        assert page.status == 404
