"""Load-generator process for the fan-out benchmark: many aiohttp WebSocket clients on one event loop.

The orchestrator starts one or two of these (multiprocessing, spawn) through `Workers` and drives
them over a pipe with small commands: connect, record, collect, storm, close, quit. Parsing is a few
`str.find` calls per message rather than `json.loads`, so the clients stay cheap next to the server.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import time
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from web.bench_procs import Children, cpu_seconds, raise_fd_limit

# The publisher puts `bench t=<monotonic ns>;` in each event; CLOCK_MONOTONIC is shared by processes.
MARK = "bench t="
EVENT = '"type":"event","id":'
RESULT = '"type":"result"'
_REPLAYED = re.compile(r'"replayed":(\d+)')
SUBSCRIBE_TIMEOUT = 60.0
# However slow the server, a connect or a storm ends: sockets not subscribed by then count as failed.
CONNECT_DEADLINE = 60.0


def marker(now_ns: int) -> str:
    """The text a published event carries so every receiver can compute its own latency."""
    return f"{MARK}{now_ns};"


@dataclass(frozen=True)
class Target:
    """Where and how the clients connect."""

    url: str
    origin: str
    cookie_name: str
    inflight: int  # handshakes in flight at once per process (the server's accept backlog is finite)


class Client:
    """One socket: its session cookie, the last event id it saw, and its reader task."""

    __slots__ = ("last_id", "reader", "replayed", "resync", "subscribed", "token", "ws")

    def __init__(self, token: str) -> None:
        self.token = token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.last_id = 0
        self.reader: asyncio.Task[None] | None = None
        self.subscribed: asyncio.Future[bool] | None = None
        self.resync = False
        self.replayed = 0


class Load:
    """All clients of one process, and what they measured while recording."""

    def __init__(self, target: Target, tokens: list[str]) -> None:
        self.target = target
        self.clients = [Client(t) for t in tokens]
        self.http: aiohttp.ClientSession | None = None
        self.recording = False
        self.latencies = array("q")
        self.deliveries = 0
        self.received_chars = 0
        self.gaps = 0
        self.duplicates = 0
        self.errors: list[str] = []

    async def open(self) -> None:
        """One client session for all sockets; it keeps no cookies (each socket sends its own)."""
        # limit=0: the connector's default pool cap (100) would otherwise queue the 101st socket.
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, connect=60),
        )

    async def shutdown(self) -> None:
        """Close every socket, then the session, so the process exits without warnings."""
        await self.close_all()
        if self.http is not None:
            await self.http.close()

    def _error(self, exc: BaseException) -> None:
        if len(self.errors) < 5:
            self.errors.append(f"{exc.__class__.__name__}: {exc}"[:200])

    async def _connect(self, client: Client, resume: bool) -> bool:
        """Upgrade with the session cookie and our Origin, subscribe, and wait for the result."""
        assert self.http is not None
        headers = {"Origin": self.target.origin}
        if client.token:
            headers["Cookie"] = f"{self.target.cookie_name}={client.token}"
        ws = await self.http.ws_connect(
            self.target.url, headers=headers, compress=0, autoping=True, max_msg_size=0
        )
        client.ws = ws
        client.resync = False
        client.subscribed = asyncio.get_running_loop().create_future()
        command: dict[str, Any] = {"id": 1, "type": "subscribe"}
        if resume and client.last_id:
            command["last_event_id"] = client.last_id
        client.reader = asyncio.create_task(self._read(client, ws))
        await ws.send_str(json.dumps(command))
        return await asyncio.wait_for(client.subscribed, SUBSCRIBE_TIMEOUT)

    async def _read(self, client: Client, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            while True:
                msg = await ws.receive()
                if msg.type != WSMsgType.TEXT:
                    break
                self._on_text(client, msg.data, time.monotonic_ns())
        except Exception as exc:
            self._error(exc)
        finally:
            if client.subscribed is not None and not client.subscribed.done():
                client.subscribed.set_result(False)

    def _on_text(self, client: Client, data: str, now: int) -> None:
        """Latency per marked event, event-id continuity, and the subscribe result."""
        if self.recording:
            self.received_chars += len(data)
            pos = data.find(MARK)
            while pos >= 0:
                start = pos + len(MARK)
                end = data.find(";", start)
                self.latencies.append(now - int(data[start:end]))
                self.deliveries += 1
                pos = data.find(MARK, end)
        pos = data.find(EVENT)
        while pos >= 0:
            start = pos + len(EVENT)
            end = data.find(",", start)
            event_id = int(data[start:end])
            if client.last_id:
                if event_id <= client.last_id:
                    self.duplicates += 1
                elif event_id != client.last_id + 1:
                    self.gaps += 1
            client.last_id = max(client.last_id, event_id)
            pos = data.find(EVENT, end)
        waiting = client.subscribed
        if waiting is not None and not waiting.done() and RESULT in data:
            client.resync = '"resync":true' in data or '"type":"resync"' in data
            found = _REPLAYED.search(data)
            client.replayed = int(found.group(1)) if found else 0
            waiting.set_result('"success":true' in data)

    async def connect_all(self, resume: bool) -> dict[str, Any]:
        """Connect every client, at most `inflight` handshakes at a time; report how many made it."""
        gate = asyncio.Semaphore(self.target.inflight)

        async def one(client: Client) -> bool:
            async with gate:
                try:
                    return await self._connect(client, resume)
                except Exception as exc:
                    self._error(exc)
                    return False

        started = time.monotonic_ns()
        tasks = [asyncio.create_task(one(c)) for c in self.clients]
        done, pending = await asyncio.wait(tasks, timeout=CONNECT_DEADLINE)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            self._error(TimeoutError(f"{len(pending)} sockets not subscribed after {CONNECT_DEADLINE:.0f} s"))
        ok = sum(1 for task in done if task.result())
        return {
            "ok": ok,
            "failed": len(tasks) - ok,
            "start_ns": started,
            "end_ns": time.monotonic_ns(),
            "resync": sum(c.resync for c in self.clients),
            "replayed": sum(c.replayed for c in self.clients),
            "errors": list(self.errors),
        }

    async def _close(self, client: Client) -> None:
        if client.ws is not None and not client.ws.closed:
            try:
                await client.ws.close()
            except Exception as exc:
                self._error(exc)
        if client.reader is not None:
            await asyncio.gather(client.reader, return_exceptions=True)
        client.ws, client.reader = None, None

    async def close_all(self) -> None:
        """Close every socket at once (a clean close: the server sees each one go)."""
        await asyncio.gather(*(self._close(c) for c in self.clients))

    async def storm(self) -> dict[str, Any]:
        """Drop every socket at once, then reconnect each one resuming from its last event id."""
        started = time.monotonic_ns()
        await self.close_all()
        closed = time.monotonic_ns()
        result = await self.connect_all(resume=True)
        return {**result, "start_ns": started, "closed_ns": closed}

    def record(self) -> dict[str, Any]:
        """Start a measured phase from zero."""
        self.recording = True
        self.latencies = array("q")
        self.deliveries = self.received_chars = self.gaps = self.duplicates = 0
        return {}

    def collect(self) -> dict[str, Any]:
        """End the phase; latencies go back as raw bytes so the parent can merge percentiles exactly."""
        self.recording = False
        return {
            "latencies": self.latencies.tobytes(),
            "deliveries": self.deliveries,
            "chars": self.received_chars,
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "open": sum(1 for c in self.clients if c.ws is not None and not c.ws.closed),
        }

    async def handle(self, name: str) -> dict[str, Any]:
        """Run one command from the orchestrator and return its reply."""
        if name == "connect":
            return await self.connect_all(resume=False)
        if name == "record":
            return self.record()
        if name == "collect":
            return self.collect()
        if name == "storm":
            return await self.storm()
        if name == "close":
            await self.close_all()
            return {}
        raise ValueError(f"unknown command {name!r}")


async def _serve(conn: Connection, target: Target, tokens: list[str]) -> None:
    load = Load(target, tokens)
    await load.open()
    try:
        while True:
            try:
                name = await asyncio.to_thread(conn.recv)
            except EOFError:
                return
            if name == "quit":
                return
            try:
                reply = await load.handle(str(name))
            except Exception as exc:
                reply = {"error": f"{exc.__class__.__name__}: {exc}"}
            conn.send(reply)
    finally:
        await load.shutdown()
        conn.close()


def worker_main(conn: Connection, target: Target, tokens: list[str]) -> None:
    """Entry point of a client process (spawned, so it shares no state with the orchestrator)."""
    raise_fd_limit()
    asyncio.run(_serve(conn, target, tokens))


class Workers:
    """The load-generator processes, each holding a share of the sockets."""

    def __init__(self, children: Children, target: Target, tokens: list[str], procs: int) -> None:
        self.children = children
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[BaseProcess] = []
        for share in range(procs):
            mine, theirs = context.Pipe()
            proc = context.Process(
                target=worker_main,
                args=(theirs, target, tokens[share::procs]),
                name=f"bench-clients-{share}",
                daemon=True,
            )
            proc.start()
            children.track(proc)
            theirs.close()
            self.pipes.append(mine)
            self.procs.append(proc)

    @staticmethod
    def _call(pipe: Connection, name: str) -> dict[str, Any]:
        pipe.send(name)
        reply: dict[str, Any] = pipe.recv()
        return reply

    async def call(self, name: str) -> list[dict[str, Any]]:
        """Send a command to every client process at once and wait for all replies."""
        replies = await asyncio.gather(*(asyncio.to_thread(self._call, p, name) for p in self.pipes))
        for reply in replies:
            if "error" in reply:
                raise RuntimeError(f"client process failed on {name}: {reply['error']}")
        return list(replies)

    def cpu(self) -> list[float]:
        """CPU seconds of each client process, to show the load generator is not the bottleneck."""
        return [cpu_seconds(p.pid) if p.pid else 0.0 for p in self.procs]

    def stop(self) -> None:
        """Ask each process to quit (it closes its sockets), then make sure it has ended."""
        for pipe in self.pipes:
            try:
                pipe.send("quit")
            except OSError:
                pass
        for proc in self.procs:
            self.children.stop_worker(proc, grace=10.0)
        for pipe in self.pipes:
            pipe.close()
