"""A recording paused through one node shows on a staff member's screen served by another (Redis bus)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from telephony.sandbox import SANDBOX_VOICE
from tests.carrier import start_pair
from tests.ports import free_port
from tests.test_voice_calls import NORTH, PATIENT, SCALE, _configure, _ended, _sandbox, _softphone
from tests.voice import API_KEY_SECRET, API_KEY_SID, TWIML_APP_SID, open_desk, until
from web.app import create_app
from web.keys import SETTINGS


async def test_a_pause_on_node_a_reaches_a_desk_on_node_b(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path, redis_url: str
) -> None:
    twilio = {"api_key_sid": API_KEY_SID, "api_key_secret": API_KEY_SECRET, "twiml_app_sid": TWIML_APP_SID}
    bus = {"redis_url": redis_url, "stream_key": "test-rec:" + secrets.token_hex(6)}
    carrier = await start_pair(
        db_settings,
        aiohttp_server,
        tmp_path,
        twilio=twilio,
        sections={"bus": bus, "recording": {"enabled": True}},
        api_keys={API_KEY_SID: API_KEY_SECRET},
        twiml_app_sid=TWIML_APP_SID,
        voice_time_scale=SCALE,
    )
    node_b = await aiohttp_server(create_app(carrier.app[SETTINGS]), port=free_port())
    p = carrier.practice
    north = await open_desk(carrier.base, p.staff_a)
    elsewhere = await open_desk(f"http://127.0.0.1:{node_b.port}", p.admin, on_duty=False)
    try:
        await _configure(carrier, elsewhere)  # the practice's [recording] applies
        phone = await _softphone(carrier, north)
        sid = (await _sandbox(carrier, "POST", f"/sandbox/phones/{PATIENT}/calls", {"to": NORTH}))["call_sid"]
        ring = await phone.next("incoming")
        await phone.send("accept", call_sid=ring["call_sid"])
        await phone.next("connected")
        call_id = int(ring["params"]["call_id"])

        def update(e: dict[str, Any]) -> bool:
            return e["type"] == "call.updated" and e["call"]["id"] == call_id

        answered = await elsewhere.event(lambda e: update(e) and e["call"]["answered_by_id"] is not None, 10)
        assert (answered["call"]["recording"], answered["call"]["recording_paused"]) == (True, False)

        async def take() -> Any:
            return carrier.sandbox_app[SANDBOX_VOICE].recording_now.get(sid)

        await until(take, 10)
        control = f"{carrier.base}/api/v1/calls/{call_id}/recording"
        assert await north.api("POST", control, {"action": "pause"}) == {"recording": "paused"}
        paused = await elsewhere.event(lambda e: update(e) and e["call"]["recording_paused"], timeout=10)
        assert paused["call"]["recording"] is True
        elsewhere.events.clear()  # only what follows the resume
        assert await north.api("POST", control, {"action": "resume"}) == {"recording": "in-progress"}
        await elsewhere.event(lambda e: update(e) and not e["call"]["recording_paused"], timeout=10)
        await _sandbox(carrier, "POST", f"/sandbox/calls/{sid}/hangup", {})
        await _ended(carrier)
    finally:
        await north.close()
        await elsewhere.close()
