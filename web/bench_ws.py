"""Fan-out benchmark: the real server and a bare aiohttp broadcast server, each in its own process,
with N WebSocket clients in separate load-generator processes and events published at a steady rate.

Per server and N: publish-to-socket latency, server CPU per delivered event, memory per idle socket,
a reconnect storm; for Frontdesk also others' latency while one subscribed client stops reading.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import math
import os
import secrets
import socket
import sys
import time
from array import array
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import insert

from comms import migrate
from comms.auth import session_id_for
from comms.db import make_engine, make_sessionmaker
from comms.models import Contact, ContactPhone, Conversation, StaffSession, utcnow
from comms.practice import add_location, add_staff, ensure_practice
from comms.services import Services
from config.settings import Settings
from routing.bus import InProcessBus
from web.bench_clients import Target, Workers, marker
from web.bench_procs import Children, cpu_seconds, free_port, rss_bytes, server_errors, wait_ready
from web.bench_report import ms, percentile, progress, secs
from web.bench_ws_report import BASELINE, FRONTDESK, FanoutConfig, Figures, Phase

PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway account in a temp database
STAFF_ACCOUNTS = 20  # sessions are per login, so many sockets share a few accounts, as tabs do
DRAIN_SECONDS = 1.0  # after the last publish, for in-flight events to land before counting
SETTLE_SECONDS = 1.0
AFTER_STORM_SECONDS = 1.0
TAIL_SECONDS = 10.0  # how long a phase waits for publishes still unanswered when it ends
# A server below this share of the asked rate, or with queues this long, is saturated already; a
# stalled client cannot be told apart from that, so the slow-consumer phase is skipped.
SATURATED_RATE = 0.8
SATURATED_P99 = 1.0


@dataclass(frozen=True)
class FrontdeskSeed:
    """What the clients and the publisher need from the seeded store: threads and session tokens."""

    conversation_ids: list[int]
    tokens: list[str]
    publisher_token: str
    publisher_csrf: str
    stalled_token: str


async def seed_frontdesk(settings: Settings, sessions: int) -> FrontdeskSeed:
    """A migrated store with one practice, staff at one location, a few threads and N sessions.

    Sessions are written straight into staff_sessions: an argon2 login costs ~50 ms, so 3,000 of them
    would take minutes; the row is exactly what `auth.login` writes.
    """
    engine = make_engine(settings.database)
    try:
        await migrate.upgrade(engine)
        services = Services(settings, make_sessionmaker(engine), InProcessBus())
        practice = await ensure_practice(services, "Bench Dental")
        north = await add_location(services, practice, "North", "America/New_York", ["+12025550143"])
        await add_location(services, practice, "South", "America/Chicago", ["+13125550188"])
        staff = [
            await add_staff(
                services, practice, f"desk{i}@bench.example", f"Desk {i}", PASSWORD, "staff", [north]
            )
            for i in range(STAFF_ACCOUNTS)
        ]
        conversations = []
        async with services.unit() as unit:
            for i in range(4):
                contact = Contact(practice_id=practice, first_name="Pat", last_name=f"Bench{i}")
                contact.phones.append(ContactPhone(e164=f"+1202555017{i}"))
                unit.session.add(contact)
                await unit.session.flush()
                conversation = Conversation(contact_id=contact.id, location_id=north)
                unit.session.add(conversation)
                await unit.session.flush()
                conversations.append(conversation.id)
        now = utcnow()
        tokens = [secrets.token_urlsafe(32) for _ in range(sessions + 2)]
        csrf = [secrets.token_urlsafe(32) for _ in tokens]
        rows = [
            {
                "id": session_id_for(token),
                "user_id": staff[i % len(staff)],
                "csrf_token": csrf[i],
                "created_at": now,
                "last_seen_at": now,
                "expires_at": now + dt.timedelta(hours=settings.sessions.absolute_lifetime_hours),
                "remote_addr": "127.0.0.1",
                "user_agent": "frontdesk-bench",
            }
            for i, token in enumerate(tokens)
        ]
        async with services.unit() as unit:
            await unit.session.execute(insert(StaffSession), rows)
    finally:
        await engine.dispose()
    return FrontdeskSeed(conversations, tokens[:sessions], tokens[sessions], csrf[sessions], tokens[-1])


class Publisher:
    """Publishes marked events at a steady rate through the server's real write path over HTTP."""

    def __init__(
        self, http: aiohttp.ClientSession, base: str, seed: FrontdeskSeed | None, max_in_flight: int
    ) -> None:
        self.http = http
        self.base = base
        self.seed = seed
        self.published = 0
        self.failed = 0
        self.errors: list[str] = []
        self.round_trips: list[float] = []  # seconds from sending a publish to its HTTP reply
        self.delayed = 0  # publishes that went out late because max_in_flight were unanswered
        self._slots = asyncio.Semaphore(max_in_flight)

    async def _post(self, n: int) -> None:
        try:
            await self._post_once(n)
        finally:
            self._slots.release()

    async def _post_once(self, n: int) -> None:
        now = time.monotonic_ns()
        if self.seed is None:
            url, body, headers = f"{self.base}/publish", {"marker": marker(now)}, {}
        else:
            conversation = self.seed.conversation_ids[n % len(self.seed.conversation_ids)]
            url = f"{self.base}/api/v1/conversations/{conversation}/notes"
            body = {"body": f"{marker(now)} checked the x-ray, all clear"}
            headers = {
                "Origin": self.base,
                "Cookie": f"frontdesk_session={self.seed.publisher_token}",
                "X-CSRF-Token": self.seed.publisher_csrf,
            }
        try:
            async with self.http.post(url, json=body, headers=headers) as resp:
                await resp.read()
                if resp.status >= 300:
                    raise RuntimeError(f"publish answered {resp.status}")
            self.round_trips.append((time.monotonic_ns() - now) / 1e9)
            self.published += 1
        except (aiohttp.ClientError, RuntimeError, OSError) as exc:
            self.failed += 1
            if len(self.errors) < 3:
                self.errors.append(str(exc))

    async def run(self, seconds: float, rate: float, stop: asyncio.Event | None = None) -> int:
        """Fire on a fixed schedule rather than after each reply, with a bounded number unanswered."""
        loop = asyncio.get_running_loop()
        before = self.published
        start = loop.time()
        tasks = []
        for n in range(max(1, round(seconds * rate))):
            if stop is not None and stop.is_set():
                break
            delay = start + n / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._slots.locked():
                self.delayed += 1
            await self._slots.acquire()
            tasks.append(asyncio.create_task(self._post(n)))
        if tasks:
            # An overloaded server may sit on requests for long: give the stragglers a bounded wait.
            _done, late = await asyncio.wait(tasks, timeout=TAIL_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            self.failed += len(late)
        return self.published - before


class StalledClient:
    """The slow consumer: a WebSocket client that subscribes and then never reads another byte.

    A plain socket with a small receive buffer, so the server feels back-pressure within seconds
    (an aiohttp client would keep reading into its own buffers).
    """

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.headers = headers
        self.sock: socket.socket | None = None

    def open(self) -> None:
        """Handshake and subscribe by hand (blocking, run in a thread), then never read again."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            "GET /ws HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in self.headers.items()),
        ]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                raise RuntimeError("server closed the slow consumer's handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"slow consumer refused: {head.splitlines()[0]!r}")
        payload = b'{"id":1,"type":"subscribe"}'
        mask = os.urandom(4)
        sock.sendall(
            bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        )
        self.sock = sock

    def close(self) -> None:
        """Drop the connection; the server sees a reset, as from a vanished laptop."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class FanoutBench:
    """Runs every (server, N) measurement in order and turns them into table rows."""

    def __init__(self, cfg: FanoutConfig, workdir: Path, children: Children) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.children = children
        self.db_path = workdir / "fanout.db"
        self.seed: FrontdeskSeed | None = None

    def _settings(self, port: int) -> Settings:
        return Settings.model_validate(
            {
                "server": {"host": "127.0.0.1", "port": port, "public_base_url": f"http://127.0.0.1:{port}"},
                "database": {"url": f"sqlite+aiosqlite:///{self.db_path}"},
            }
        )

    def _write_config(self, port: int) -> Path:
        path = self.workdir / f"frontdesk-{port}.toml"
        path.write_text(
            "[server]\n"
            'host = "127.0.0.1"\n'
            f"port = {port}\n"
            f'public_base_url = "http://127.0.0.1:{port}"\n'
            "[database]\n"
            f'url = "sqlite+aiosqlite:///{self.db_path}"\n'
            # The SMTP listener on a free port: another server on this machine may hold 2525.
            "[smtp]\n"
            "listen_port = 0\n"
        )
        return path

    async def prepare(self) -> float:
        """Seed the Frontdesk store once for all runs; returns the seconds it took."""
        progress(f"seeding the fan-out store: {STAFF_ACCOUNTS} staff, {max(self.cfg.sockets):,} sessions")
        started = time.perf_counter()
        self.seed = await seed_frontdesk(self._settings(8080), max(self.cfg.sockets))
        return time.perf_counter() - started

    async def _phase(
        self, workers: Workers, publisher: Publisher, pid: int, sockets: int, seconds: float
    ) -> Phase:
        """Record while publishing; server CPU and client deliveries cover the same window."""
        await workers.call("record")
        cpu_before, clients_before, started = cpu_seconds(pid), workers.cpu(), time.monotonic()
        first_trip = len(publisher.round_trips)
        published = await publisher.run(seconds, self.cfg.rate)
        publishing = time.monotonic() - started
        trips = sorted(publisher.round_trips[first_trip:])
        await asyncio.sleep(DRAIN_SECONDS)
        cpu_after, clients_after, elapsed = cpu_seconds(pid), workers.cpu(), time.monotonic() - started
        replies = await workers.call("collect")
        latencies = array("q")
        for reply in replies:
            latencies.frombytes(reply["latencies"])
        ordered = sorted(latencies)
        deliveries = sum(r["deliveries"] for r in replies)
        return Phase(
            p50=percentile(ordered, 50) / 1e9,
            p99=percentile(ordered, 99) / 1e9,
            deliveries=deliveries,
            expected=published * sockets,
            server_cpu=cpu_after - cpu_before,
            chars_per_delivery=sum(r["chars"] for r in replies) / deliveries if deliveries else math.nan,
            client_busy=[(a - b) / elapsed for a, b in zip(clients_after, clients_before, strict=True)],
            gaps=sum(r["gaps"] for r in replies),
            duplicates=sum(r["duplicates"] for r in replies),
            open_sockets=sum(r["open"] for r in replies),
            publish_p50=percentile(trips, 50),
            publish_p99=percentile(trips, 99),
            achieved_rate=published / publishing if publishing > 0 else math.nan,
        )

    async def _storm(self, workers: Workers, publisher: Publisher, figures: Figures) -> None:
        """Every client drops its socket at once and resumes; events keep flowing meanwhile."""
        stop = asyncio.Event()
        background = asyncio.create_task(publisher.run(3600, self.cfg.rate, stop))
        try:
            replies = await workers.call("storm")
        finally:
            stop.set()
            await background
        figures.storm_resumed = sum(r["ok"] for r in replies)
        figures.storm_resync = sum(r["resync"] for r in replies)
        figures.storm_replayed = sum(r["replayed"] for r in replies)
        finished, began = max(r["end_ns"] for r in replies), min(r["start_ns"] for r in replies)
        figures.storm_seconds = (finished - began) / 1e9
        figures.errors.extend(e for r in replies for e in r["errors"])

    async def measure(self, kind: str, sockets: int) -> Figures:
        """Start the server, connect N clients, run the phases, stop everything again."""
        assert self.seed is not None
        figures = Figures(kind, sockets)
        port = free_port()
        log = self.workdir / f"{kind}-{sockets}.log"
        if kind == FRONTDESK:
            args = [sys.executable, "-m", "web.cli", "serve", "--config", str(self._write_config(port))]
            tokens = self.seed.tokens[:sockets]
            seed: FrontdeskSeed | None = self.seed
        else:
            args = [sys.executable, "-m", "web.bench_baseline", "--port", str(port)]
            tokens = [""] * sockets
            seed = None
        base = f"http://127.0.0.1:{port}"
        target = Target(f"ws://127.0.0.1:{port}/ws", base, "frontdesk_session", self.cfg.inflight)
        progress(
            f"{kind}, {sockets:,} sockets: starting the server and {self.cfg.client_procs} client process(es)"
        )
        server = self.children.start(args, log)
        workers = Workers(self.children, target, tokens, self.cfg.client_procs)
        try:
            await wait_ready(f"{base}/healthz", server, log)
            async with aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=60)
            ) as http:
                publisher = Publisher(http, base, seed, self.cfg.max_in_flight)
                await publisher.run(1.0, self.cfg.rate)  # warm-up: first-use imports and caches
                await asyncio.sleep(0.5)
                rss_before = rss_bytes(server.pid)
                connected = await workers.call("connect")
                figures.connected = sum(r["ok"] for r in connected)
                figures.connect_seconds = (
                    max(r["end_ns"] for r in connected) - min(r["start_ns"] for r in connected)
                ) / 1e9
                figures.errors.extend(e for r in connected for e in r["errors"])
                progress(f"  {figures.connected:,} connected in {secs(figures.connect_seconds)}")
                await asyncio.sleep(SETTLE_SECONDS)
                if figures.connected:
                    figures.memory_per_socket = (rss_bytes(server.pid) - rss_before) / figures.connected
                figures.steady = await self._phase(
                    workers, publisher, server.pid, figures.connected, self.cfg.seconds
                )
                progress(
                    f"  steady: p99 {ms(figures.steady.p99)}, {figures.steady.achieved_rate:.1f} events/s"
                )
                steady = figures.steady
                if kind == FRONTDESK and (
                    steady.achieved_rate < SATURATED_RATE * self.cfg.rate or steady.p99 > SATURATED_P99
                ):
                    figures.slow_skipped = (
                        f"skipped: the server was saturated without it ({steady.achieved_rate:.1f} events/s, "
                        f"p99 {ms(steady.p99)})"
                    )
                elif kind == FRONTDESK:
                    figures.slow = await self._slow_phase(workers, publisher, server.pid, port, figures)
                    progress(f"  with a stalled client: p99 {ms(figures.slow.p99)}")
                await self._storm(workers, publisher, figures)
                progress(f"  storm: {figures.storm_resumed:,} resumed in {secs(figures.storm_seconds)}")
                # A brief check after the storm: every resumed socket is live and saw no gap.
                figures.after = await self._phase(
                    workers, publisher, server.pid, figures.storm_resumed, AFTER_STORM_SECONDS
                )
                figures.errors.extend(publisher.errors)
                figures.publish_failed = publisher.failed
                await workers.call("close")
        except Exception as exc:  # keep what was measured; the rest reads "not measured"
            figures.errors.append(f"{exc.__class__.__name__}: {' '.join(str(exc).split())[-400:]}")
        finally:
            workers.stop()
            self.children.stop(server)
            figures.errors.extend(server_errors(log))
        return figures

    async def _slow_phase(
        self, workers: Workers, publisher: Publisher, pid: int, port: int, figures: Figures
    ) -> Phase:
        assert self.seed is not None
        stalled = StalledClient(
            port,
            {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"frontdesk_session={self.seed.stalled_token}"},
        )
        await asyncio.to_thread(stalled.open)
        try:
            # The stalled client has a session of its own; the N others are what is measured.
            return await self._phase(workers, publisher, pid, figures.connected, self.cfg.seconds)
        finally:
            stalled.close()

    async def run(self) -> list[Figures]:
        """Every measurement in turn; a failed one keeps what it measured, and the rest go on."""
        return [
            await self.measure(kind, sockets)
            for sockets in self.cfg.sockets
            for kind in (BASELINE, FRONTDESK)
        ]
