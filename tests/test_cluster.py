"""Two `frontdesk serve` processes on one PostgreSQL and one Redis behave as one server."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from comms import migrate
from comms.db import make_engine, make_sessionmaker
from comms.services import Services
from routing.bus import InProcessBus
from tests.conftest import _drop_schema, _pg_schema, make_settings
from tests.helpers import ORIGIN, Practice, browser, recv_frame, seed_practice, sign_in
from tests.ports import free_port

FRONTDESK = str(Path(sys.executable).parent / "frontdesk")


@pytest.fixture
async def cluster_config(tmp_path: Path, redis_url: str) -> AsyncIterator[tuple[Path, Practice]]:
    """A migrated, seeded PostgreSQL schema and a config file pointing both nodes at it and at Redis."""
    schema = await _pg_schema()
    assert schema is not None
    from tests.conftest import PG_URL

    stream = "test-cluster:" + secrets.token_hex(6)
    config = tmp_path / "frontdesk.toml"
    config.write_text(
        f'[database]\nurl = "{PG_URL}"\nschema = "{schema}"\n'
        f'[bus]\nredis_url = "{redis_url}"\nstream_key = "{stream}"\n'
        f'[server]\nallowed_origins = ["{ORIGIN}"]\n'
        "[smtp]\nlisten_port = 0\n"
    )
    settings = make_settings({"url": PG_URL, "schema": schema})
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    practice = await seed_practice(Services(settings, make_sessionmaker(engine), InProcessBus()))
    await engine.dispose()
    try:
        yield config, practice
    finally:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(redis_url)
        await client.delete(stream, f"{stream}:seq")
        await client.aclose()
        await _drop_schema(schema)


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"node on port {port} exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                body = json.loads(resp.read())
                if resp.status == 200 and body["bus_kind"] == "redis":
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"node on port {port} did not become healthy in {timeout}s")


@pytest.fixture
def two_nodes(cluster_config: tuple[Path, Practice]) -> Iterator[tuple[str, str, Practice]]:
    config, practice = cluster_config
    ports = [free_port(), free_port()]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [
        subprocess.Popen(
            [FRONTDESK, "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for port in ports
    ]
    try:
        for port, proc in zip(ports, procs, strict=True):
            _wait_healthy(port, proc)
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", practice
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _connect(base: str, cookie: str) -> Any:
    return await websockets.connect(
        base.replace("http", "ws") + "/ws",
        origin=ORIGIN,
        additional_headers={"Cookie": cookie},  # type: ignore[arg-type]
    )


async def _recv(ws: Any) -> dict[str, Any]:
    return await recv_frame(ws, timeout=10)


async def test_event_on_node_a_reaches_node_b_and_resume_crosses_nodes(
    two_nodes: tuple[str, str, Practice],
) -> None:
    node_a, node_b, practice = two_nodes
    async with browser() as http:
        session = await sign_in(http, node_a, practice.staff_a)
        cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)

        async def note(body: str) -> None:
            async with http.post(
                f"{node_a}/api/v1/conversations/{practice.conv_a}/notes",
                json={"body": body},
                headers={"X-CSRF-Token": session["csrf_token"], "Origin": ORIGIN},
            ) as resp:
                assert resp.status == 201

        ws_b = await _connect(node_b, cookie)
        await ws_b.send(json.dumps({"id": 1, "type": "subscribe"}))
        assert (await _recv(ws_b))["success"] is True
        await note("published through A")
        event = await _recv(ws_b)
        assert event["type"] == "event" and event["event"]["item"]["body"] == "published through A"
        last = event["id"]
        await ws_b.close()

        for i in range(3):
            await note(f"missed {i}")

        ws_a = await _connect(node_a, cookie)
        await ws_a.send(json.dumps({"id": 1, "type": "subscribe", "last_event_id": last}))
        result = await _recv(ws_a)
        assert result["result"]["replayed"] == 3
        replay = [await _recv(ws_a) for _ in range(3)]
        assert [e["event"]["item"]["body"] for e in replay] == ["missed 0", "missed 1", "missed 2"]
        assert [e["id"] for e in replay] == [last + 1, last + 2, last + 3]
        await ws_a.close()
