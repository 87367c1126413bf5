"""Inbound-webhook ingest benchmark: signed Twilio SMS webhooks per second into the real server.

Frontdesk (`frontdesk serve`, SQLite, one process) verifies each webhook, stores the text in the
patient's thread and fans it out; a staff WebSocket connected to it must receive every one. Beside it,
in the same run, a bare aiohttp handler that only checks the signature and answers empty TwiML
(`python -m web.bench_ingest --port P --token T`): the floor. Load comes from a separate process that
signs every webhook before the clock starts and keeps a fixed number in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import secrets
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from sqlalchemy import insert, select
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from web.bench_procs import Children, cpu_seconds, free_port, server_errors, wait_ready
from web.bench_report import MET, MISSED, TIMES, UNMEASURED, ms, percentile, print_table, progress, ratio

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token-not-secret"  # noqa: S105 - a throwaway account in a temp database
NORTH = "+12025550143"  # the bench practice's number (web.bench_ws.seed_frontdesk)
PATIENTS = 500
RATE_TARGET = 500.0
RATIO_TARGET = 0.3
DRAIN_SECONDS = 10.0  # after the load stops, for the last events to reach the socket
FRONTDESK, BARE = "Frontdesk", "bare aiohttp (signature only)"


@dataclass(frozen=True)
class IngestConfig:
    seconds: float = 10.0
    concurrency: int = 32  # webhooks in flight, as Twilio delivers a busy number's texts
    warmup_seconds: float = 2.0


@dataclass
class IngestFigures:
    kind: str
    answered: int = 0  # 2xx answers in the measured window
    failed: int = 0
    seconds: float = math.nan
    p50: float = math.nan
    p99: float = math.nan
    server_cpu: float = math.nan
    load_cpu: float = math.nan
    stored: int | None = None  # Frontdesk only: rows in the store for the measured webhooks
    fanned_out: int | None = None  # Frontdesk only: events the staff socket received for them
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds and self.seconds > 0 else math.nan


# --- the bare handler (its own process) ---------------------------------------------------------

BASELINE_URL = web.AppKey("bench_ingest_url", str)
BASELINE_VALIDATOR = web.AppKey("bench_ingest_validator", RequestValidator)


async def bare_sms(request: web.Request) -> web.Response:
    """Read the form, check X-Twilio-Signature with the library, answer empty TwiML: nothing else."""
    form = await request.post()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    signature = request.headers.get(SIGNATURE_HEADER, "")
    url = request.app[BASELINE_URL] + request.rel_url.raw_path_qs
    if not request.app[BASELINE_VALIDATOR].validate(url, params, signature):
        return web.Response(status=403)
    return web.Response(text='<?xml version="1.0" encoding="UTF-8"?><Response />', content_type="text/xml")


async def bare_health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def bare_app(base_url: str, token: str) -> web.Application:
    """Two routes, no middleware, no store."""
    app = web.Application()
    app[BASELINE_URL] = base_url
    app[BASELINE_VALIDATOR] = RequestValidator(token)
    app.router.add_post("/twilio/sms", bare_sms)
    app.router.add_get("/healthz", bare_health)
    return app


# --- the load generator (its own process) ------------------------------------------------------


def signed_bodies(url: str, token: str, tag: str, count: int) -> list[tuple[bytes, str]]:
    """`count` distinct inbound-SMS webhooks from the seeded patients, form-encoded and signed."""
    validator = RequestValidator(token)
    bodies = []
    for i in range(count):
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "Body": f"bench {tag} {i}: can I move my cleaning to Friday?",
            "From": patient_number(i % PATIENTS),
            "MessageSid": "SM" + secrets.token_hex(16),
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "To": NORTH,
        }
        bodies.append((urlencode(params).encode(), str(validator.compute_signature(url, params))))
    return bodies


def patient_number(i: int) -> str:
    return f"+1303555{i:04d}"


async def _fire(
    url: str, bodies: list[tuple[bytes, str]], concurrency: int, seconds: float
) -> dict[str, Any]:
    """Keep `concurrency` webhooks in flight until the time or the bodies run out."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        started = time.monotonic()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal next_index
            while time.monotonic() < deadline and next_index < len(bodies):
                body, signature = bodies[next_index]
                next_index += 1
                headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/x-www-form-urlencoded"}
                sent = time.monotonic()
                try:
                    async with http.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if len(errors) < 3:
                        errors.append(f"{exc.__class__.__name__}: {exc}"[:200])
                    statuses[0] = statuses.get(0, 0) + 1
                    continue
                latencies.append(time.monotonic() - sent)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {
        "statuses": statuses,
        "latencies": latencies,
        "elapsed": elapsed,
        "errors": errors,
        "exhausted": next_index >= len(bodies),
    }


def load_main(conn: Connection, url: str, token: str) -> None:
    """Entry point of the load process: sign on "prepare", fire on "fire", until "quit"."""
    bodies: list[tuple[bytes, str]] = []
    while True:
        command = conn.recv()
        if command[0] == "quit":
            conn.close()
            return
        if command[0] == "prepare":
            _, tag, count = command
            bodies = signed_bodies(url, token, tag, count)
            conn.send({"ready": len(bodies)})
        elif command[0] == "fire":
            _, concurrency, seconds = command
            conn.send(asyncio.run(_fire(url, bodies, concurrency, seconds)))


class Load:
    """The load process and the pipe that drives it."""

    def __init__(self, children: Children, url: str, token: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, theirs = context.Pipe()
        self.proc = context.Process(target=load_main, args=(theirs, url, token), name="bench-ingest-load")
        self.proc.start()
        children.track(self.proc)
        theirs.close()
        self.children = children

    async def call(self, *command: Any) -> dict[str, Any]:
        def roundtrip() -> dict[str, Any]:
            self.pipe.send(command)
            reply: dict[str, Any] = self.pipe.recv()
            return reply

        return await asyncio.to_thread(roundtrip)

    def stop(self) -> None:
        try:
            self.pipe.send(("quit",))
        except OSError:
            pass
        self.children.stop_worker(self.proc)
        self.pipe.close()


# --- the staff socket (in the orchestrator) ----------------------------------------------------


class StaffSocket:
    """One staff WebSocket subscribed to the North inbox; counts the bench texts it is told about."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}  # run tag -> numbers of the texts received
        self.changed = asyncio.Event()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        headers = {"Origin": base, "Cookie": f"frontdesk_session={token}"}
        self.ws = await http.ws_connect(f"{base.replace('http', 'ws', 1)}/ws", headers=headers, compress=0)
        await self.ws.send_json({"id": 1, "type": "subscribe"})
        first = await asyncio.wait_for(self.ws.receive(), 10)
        if '"success":true' not in str(first.data).replace(" ", ""):
            raise RuntimeError(f"the staff socket could not subscribe: {str(first.data)[:200]}")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        marker = '"body":"bench '
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            # A frame may carry several events, and each names its text twice (item and preview):
            # count distinct texts, by the tag and number every bench text starts with.
            data = msg.data
            pos = data.find(marker)
            while pos >= 0:
                start = pos + len(marker)
                space = data.find(" ", start)
                colon = data.find(":", space)
                tag, number = data[start:space], data[space + 1 : colon]
                seen = self.seen.setdefault(tag, set())
                if number not in seen:
                    seen.add(number)
                    self.changed.set()
                pos = data.find(marker, colon)

    async def wait_for(self, tag: str, count: int, seconds: float) -> int:
        """Until `count` events of this run arrived, or `seconds` passed; how many did."""
        deadline = time.monotonic() + seconds
        while len(self.seen.get(tag, ())) < count and time.monotonic() < deadline:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.monotonic()))
        return len(self.seen.get(tag, ()))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


# --- the orchestrator --------------------------------------------------------------------------


class IngestBench:
    """Seeds one SQLite store, then measures the bare handler and Frontdesk under the same load."""

    def __init__(self, cfg: IngestConfig, workdir: Path, children: Children) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.children = children
        self.db_path = workdir / "ingest.db"
        self.staff_token = ""

    async def prepare(self) -> None:
        """Practice, North's number, a signed-in staff member and PATIENTS patients with threads."""
        from comms.db import make_engine, make_sessionmaker
        from comms.models import Contact, ContactPhone, Conversation, Location
        from comms.services import Services
        from config.settings import Settings
        from routing.bus import InProcessBus
        from web.bench_ws import seed_frontdesk

        progress(f"ingest: seeding a store with {PATIENTS} patients")
        settings = Settings.model_validate({"database": {"url": f"sqlite+aiosqlite:///{self.db_path}"}})
        seed = await seed_frontdesk(settings, 1)
        self.staff_token = seed.tokens[0]
        engine = make_engine(settings.database)
        try:
            services = Services(settings, make_sessionmaker(engine), InProcessBus())
            async with services.unit() as unit:
                s = unit.session
                north = await s.scalar(select(Location).where(Location.name == "North"))
                assert north is not None
                for i in range(PATIENTS):
                    contact = Contact(practice_id=north.practice_id, first_name="Pat", last_name=f"Ingest{i}")
                    s.add(contact)
                    await s.flush()
                    await s.execute(
                        insert(ContactPhone).values(contact_id=contact.id, e164=patient_number(i))
                    )
                    s.add(Conversation(contact_id=contact.id, location_id=north.id))
        finally:
            await engine.dispose()

    def _config(self, port: int) -> Path:
        path = self.workdir / f"ingest-{port}.toml"
        path.write_text(
            "[server]\n"
            'host = "127.0.0.1"\n'
            f"port = {port}\n"
            f'public_base_url = "http://127.0.0.1:{port}"\n'
            "[database]\n"
            f'url = "sqlite+aiosqlite:///{self.db_path}"\n'
            "[twilio]\n"
            f'account_sid = "{ACCOUNT_SID}"\n'
            f'auth_token = "{AUTH_TOKEN}"\n'
            # Nothing is sent in this benchmark; the sender only polls an empty outbox.
            'api_base_url = "http://127.0.0.1:9"\n'
            "[smtp]\n"
            "listen_port = 0\n"
        )
        return path

    def _stored(self, tag: str) -> int:
        with sqlite3.connect(self.db_path) as db:
            row = db.execute(
                "SELECT count(*) FROM timeline_items WHERE direction = 'in' AND body LIKE ?",
                (f"bench {tag} %",),
            ).fetchone()
        return int(row[0])

    async def measure(self, kind: str) -> IngestFigures:
        figures = IngestFigures(kind)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = self.workdir / f"ingest-{'frontdesk' if kind == FRONTDESK else 'bare'}.log"
        if kind == FRONTDESK:
            args = [sys.executable, "-m", "web.cli", "serve", "--config", str(self._config(port))]
        else:
            args = [sys.executable, "-m", "web.bench_ingest", "--port", str(port), "--token", AUTH_TOKEN]
        progress(f"ingest, {kind}: starting the server and the load process")
        server = self.children.start(args, log)
        load = Load(self.children, f"{base}/twilio/sms", AUTH_TOKEN)
        socket = StaffSocket()
        try:
            await wait_ready(f"{base}/healthz", server, log)
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
                if kind == FRONTDESK:
                    await socket.open(http, base, self.staff_token)
                # Warm-up (imports, caches, first connections), then the measured run.
                warm = f"w{port}"
                await load.call("prepare", warm, int(self.cfg.warmup_seconds * 4000))
                await load.call("fire", self.cfg.concurrency, self.cfg.warmup_seconds)
                tag = f"m{port}"
                await load.call("prepare", tag, int(self.cfg.seconds * 6000))
                cpu_before, load_before = cpu_seconds(server.pid), cpu_seconds(load.proc.pid or 0)
                reply = await load.call("fire", self.cfg.concurrency, self.cfg.seconds)
                figures.server_cpu = cpu_seconds(server.pid) - cpu_before
                figures.load_cpu = cpu_seconds(load.proc.pid or 0) - load_before
                statuses: dict[int, int] = reply["statuses"]
                figures.answered = sum(n for status, n in statuses.items() if 200 <= status < 300)
                figures.failed = sum(n for status, n in statuses.items() if not 200 <= status < 300)
                figures.seconds = float(reply["elapsed"])
                ordered = sorted(reply["latencies"])
                figures.p50, figures.p99 = percentile(ordered, 50), percentile(ordered, 99)
                figures.errors.extend(reply["errors"])
                if figures.failed:
                    figures.errors.append(f"answers: {dict(sorted(statuses.items()))}")
                if reply["exhausted"]:
                    figures.errors.append("the load ran out of signed webhooks before the time was up")
                if kind == FRONTDESK:
                    figures.fanned_out = await socket.wait_for(tag, figures.answered, DRAIN_SECONDS)
                    figures.stored = self._stored(tag)
                await socket.close()
        except Exception as exc:  # keep what was measured; the rest reads "not measured"
            figures.errors.append(f"{exc.__class__.__name__}: {' '.join(str(exc).split())[-400:]}")
        finally:
            load.stop()
            self.children.stop(server)
            figures.errors.extend(server_errors(log))
        progress(f"  {figures.rate:,.0f} webhooks/s, p99 {ms(figures.p99)}")
        return figures


def report(bare: IngestFigures, frontdesk: IngestFigures, cfg: IngestConfig) -> None:
    """The table, the two target lines, and whatever went wrong."""

    def row(f: IngestFigures) -> list[str]:
        per = f.server_cpu / f.answered if f.answered else math.nan
        return [
            f.kind,
            f"{f.rate:,.0f}" if not math.isnan(f.rate) else "—",
            ms(f.p50),
            ms(f.p99),
            f"{per * 1e6:,.0f} µs" if not math.isnan(per) else "—",
            "—" if f.stored is None else f"{f.stored:,} / {f.answered:,}",
            "—" if f.fanned_out is None else f"{f.fanned_out:,} / {f.answered:,}",
        ]

    print_table(
        f"Inbound SMS webhook ingest — SQLite, one server process, {cfg.concurrency} in flight, "
        f"{cfg.seconds:.0f} s, load from a separate process",
        ["server", "webhooks/s", "p50", "p99", "server CPU/webhook", "stored", "on the staff socket"],
        [row(bare), row(frontdesk)],
    )
    complete = frontdesk.stored == frontdesk.answered == frontdesk.fanned_out and frontdesk.failed == 0
    rate, floor = frontdesk.rate, bare.rate
    relative = rate / floor if floor and not math.isnan(floor) and not math.isnan(rate) else math.nan

    def verdict(ok: bool, measured: bool) -> str:
        return UNMEASURED if not measured else (MET if ok and complete else MISSED)

    print(
        f"  target: >= {RATE_TARGET:.0f} webhooks/s, each stored and fanned out: "
        f"{rate:,.0f}/s — {verdict(rate >= RATE_TARGET, not math.isnan(rate))}"
    )
    print(
        f"  target: >= {RATIO_TARGET}{TIMES} the bare handler: {ratio(rate, floor)} — "
        f"{verdict(relative >= RATIO_TARGET, not math.isnan(relative))}"
    )
    if not complete and not math.isnan(rate):
        print(
            f"  incomplete: {frontdesk.failed:,} failed answers, {frontdesk.stored} stored and "
            f"{frontdesk.fanned_out} on the socket of {frontdesk.answered:,} answered"
        )
    for f in (bare, frontdesk):
        for error in dict.fromkeys(f.errors):
            print(f"  {f.kind}: {error}")


async def run(cfg: IngestConfig, workdir: Path, children: Children) -> None:
    """Seed, measure the floor, measure Frontdesk, print."""
    bench = IngestBench(cfg, workdir, children)
    await bench.prepare()
    bare = await bench.measure(BARE)
    frontdesk = await bench.measure(FRONTDESK)
    report(bare, frontdesk, cfg)


def main() -> None:
    """The bare handler as a process: `python -m web.bench_ingest --port P --token T`."""
    parser = argparse.ArgumentParser(description="bare aiohttp Twilio-webhook handler (benchmark baseline)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    app = bare_app(f"http://{args.host}:{args.port}", args.token)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
