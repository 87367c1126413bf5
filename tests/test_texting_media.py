"""MMS: what is refused is recorded with its reason and never half-kept; files reach only staff who may
see the thread, and every view is audited."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

from comms.models import AuditEntry, Media, StaffUser, TimelineItem
from tests.carrier import start_pair
from tests.helpers import browser, sign_in
from tests.sms_helpers import inbound_params, items, post_signed, text_in, wait_for
from web.keys import SERVICES

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
LIMIT = 1024  # twilio.max_media_bytes for these tests (the smallest the settings allow)
CHUNK, CHUNKS = b"\xff" * 16384, 4096  # 64 MB, far past any socket buffer
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _files(media_dir: Path) -> list[Path]:
    return sorted(p for p in media_dir.rglob("*") if p.is_file()) if media_dir.exists() else []


async def test_refused_media_is_recorded_with_its_reason_and_nothing_is_half_kept(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path, twilio={"max_media_bytes": LIMIT})
    media_dir = tmp_path / "media"
    too_big = PNG + b"\0" * (LIMIT + 1 - len(PNG))  # one byte over; the stand-in says how long it is
    result = await text_in(
        carrier,
        "card front, card back, and a drawing",
        media=[
            {"content_type": "image/png", "data_base64": _b64(PNG)},
            {"content_type": "image/svg+xml", "data_base64": _b64(SVG)},  # scripts: never served to staff
            {"content_type": "image/png", "data_base64": _b64(too_big)},
        ],
    )

    async def settled() -> TimelineItem | None:
        [row] = await items(carrier, carrier_sid=result["sid"])
        states = [m["state"] for m in row.meta.get("media", [])]
        return row if states and "pending" not in states else None

    row = await wait_for(settled)
    assert [(m["state"], m["error"]) for m in row.meta["media"]] == [
        ("stored", None),
        ("refused", "file type image/svg+xml is not accepted"),
        ("refused", "file is too large"),
    ]
    async with carrier.app[SERVICES].read() as s:
        rows = list(await s.scalars(select(Media).where(Media.item_id == row.id).order_by(Media.position)))
    assert [(m.state, m.size, m.sha256 is not None) for m in rows] == [
        ("stored", len(PNG), True),
        ("refused", None, False),
        ("refused", None, False),
    ]
    assert [p.read_bytes() for p in _files(media_dir)] == [PNG]  # only the accepted file is on disk
    async with browser() as north:
        await sign_in(north, carrier.base, carrier.practice.staff_a)
        for refused in rows[1:]:
            async with north.get(f"{carrier.base}/api/v1/media/{refused.id}") as resp:
                assert resp.status == 404
                assert (await resp.json())["error"][
                    "message"
                ] == f"this file is not available: {refused.error}"


async def test_a_stream_past_the_limit_stops_and_keeps_nothing(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    """A carrier answer without Content-Length is cut off at the limit, not read to its end."""
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path, twilio={"max_media_bytes": LIMIT})
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(CHUNKS):
                await response.write(CHUNK)
                sent.append(len(CHUNK))
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    media_app = web.Application()
    media_app.router.add_get("/picture.jpg", endless)
    media_server = await aiohttp_server(media_app)
    url = f"{carrier.base}/twilio/sms"
    params = {
        **inbound_params("picture"),
        "NumMedia": "1",
        "MediaUrl0": str(media_server.make_url("/picture.jpg")),
        "MediaContentType0": "image/jpeg",
    }
    async with aiohttp.ClientSession() as http:
        status, _ = await post_signed(http, url, params)
    assert status == 200

    async def settled() -> dict[str, Any] | None:
        [row] = await items(carrier, carrier_sid=params["MessageSid"])
        media = row.meta["media"][0]
        return dict(media) if media["state"] != "pending" else None

    media = await wait_for(settled)
    assert (media["state"], media["error"]) == ("refused", "file is too large")
    assert _files(tmp_path / "media") == []
    assert sum(sent) < CHUNKS * len(CHUNK)  # it hung up rather than read 64 MB


async def test_media_only_for_staff_of_the_threads_location_and_every_view_audited(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path)
    p, services = carrier.practice, carrier.app[SERVICES]
    result = await text_in(
        carrier, "my card", media=[{"content_type": "image/png", "data_base64": _b64(PNG)}]
    )

    async def stored() -> int | None:
        [row] = await items(carrier, carrier_sid=result["sid"])
        media = row.meta.get("media", [])
        return int(media[0]["id"]) if media and media[0]["state"] == "stored" else None

    media_id = await wait_for(stored)
    url = f"{carrier.base}/api/v1/media/{media_id}"
    answers = {}
    for email in (p.staff_a, p.staff_b, p.admin):  # North's staff, South's staff, the admin
        async with browser() as staff:
            await sign_in(staff, carrier.base, email)
            async with staff.get(url) as resp:
                answers[email] = (resp.status, await resp.read() if resp.status == 200 else b"")
                if resp.status == 200:
                    assert resp.headers["Content-Type"] == "image/png"
                    assert resp.headers["Cache-Control"].startswith("private")
    assert answers == {p.staff_a: (200, PNG), p.staff_b: (404, b""), p.admin: (200, PNG)}
    async with aiohttp.ClientSession() as anonymous, anonymous.get(url) as resp:
        assert resp.status == 401
    async with services.read() as s:
        viewers = {
            email
            for (email,) in (
                await s.execute(
                    select(StaffUser.email)
                    .join(AuditEntry, AuditEntry.actor_id == StaffUser.id)
                    .where(
                        AuditEntry.action == "view",
                        AuditEntry.record_type == "media",
                        AuditEntry.record_id == str(media_id),
                    )
                )
            ).all()
        }
    assert viewers == {p.staff_a, p.admin}  # who saw it, and nobody who did not
