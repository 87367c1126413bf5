"""`make bench`: prints how Frontdesk performs, each figure beside a baseline measured in the same run.

Four parts: WebSocket fan-out (the real server vs a bare aiohttp broadcast server, each a separate
process, clients in load-generator processes), the conversation list and search on a large seeded
SQLite store (vs a bare `SELECT ... ORDER BY last_item_at LIMIT 50`), and inbound SMS webhook ingest
(signed webhooks stored and fanned out, vs a bare handler that only checks the signature), and the
office analytics (figures per range, a drill-down, the audit report) on the same large store. Figures,
not pass/fail: each target line says "target met" or "target missed" and the exit code stays 0.

    python -m web.bench            # 1,000 and 3,000 sockets; 100,000 conversations, 1,000,000 items
    python -m web.bench --quick    # 200 sockets; 10,000 conversations, 100,000 items
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import sqlalchemy

from web.bench_procs import Children, raise_fd_limit


def build_parser() -> argparse.ArgumentParser:
    """Every knob has a default that fits the issue's run; --quick scales the whole run down."""
    parser = argparse.ArgumentParser(prog="python -m web.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run: 200 sockets, a 10x smaller store")
    parser.add_argument(
        "--sockets", type=int, nargs="+", metavar="N", help="socket counts (default 1000 3000)"
    )
    parser.add_argument("--rate", type=float, default=10.0, help="events published per second (default 10)")
    parser.add_argument("--seconds", type=float, help="length of each measured phase (default 10, quick 5)")
    parser.add_argument("--client-procs", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument(
        "--inflight", type=int, default=100, help="WebSocket handshakes in flight per client process"
    )
    parser.add_argument("--conversations", type=int, help="seeded conversations (default 100,000)")
    parser.add_argument("--items", type=int, help="seeded timeline items (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per query (default 200)")
    parser.add_argument(
        "--store-db", type=Path, metavar="FILE", help="keep the seeded store here and reuse it next time"
    )
    parser.add_argument(
        "--analyze", action="store_true", help="run SQLite ANALYZE on the store before timing queries"
    )
    parser.add_argument(
        "--ingest-seconds", type=float, help="length of the measured ingest run (default 10, quick 5)"
    )
    parser.add_argument(
        "--ingest-concurrency", type=int, default=32, help="webhooks in flight during ingest (default 32)"
    )
    parser.add_argument("--only", choices=("ws", "store", "ingest", "analytics"), help="run one part only")
    return parser


def _header(args: argparse.Namespace) -> None:
    cpus = os.cpu_count() or 1
    print(
        f"Frontdesk benchmark — {cpus} CPUs, Python {platform.python_version()}, "
        f"aiohttp {aiohttp.__version__}, SQLAlchemy {sqlalchemy.__version__}, SQLite {sqlite3.sqlite_version}"
        + (" (quick)" if args.quick else ""),
        flush=True,
    )
    # Other work on the machine skews every figure; say how busy it was, so a reader can judge.
    one, five, _ = os.getloadavg()
    busy = "  (busy machine: figures are pessimistic)" if one > cpus / 2 else ""
    print(f"load average before starting: {one:.2f} (1 min), {five:.2f} (5 min){busy}", flush=True)


async def run(args: argparse.Namespace) -> None:
    """Everything in one temporary directory; every child process ends before it is removed."""
    from web import bench_analytics, bench_ingest, bench_store, bench_ws, bench_ws_report

    fd_limit = raise_fd_limit()
    children = Children()
    # SIGTERM cancels the run like Ctrl-C does, so the finally below still ends every child.
    main_task = asyncio.current_task()
    if main_task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    started = time.monotonic()
    _header(args)
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        try:
            if args.only in (None, "ws"):
                cfg = bench_ws_report.FanoutConfig(
                    sockets=tuple(args.sockets or ((200,) if args.quick else (1000, 3000))),
                    rate=args.rate,
                    seconds=args.seconds or (5.0 if args.quick else 10.0),
                    client_procs=max(1, args.client_procs),
                    inflight=max(1, args.inflight),
                )
                if max(cfg.sockets) * 2 + 100 > fd_limit:
                    print(f"warning: file-descriptor limit {fd_limit} is low for {max(cfg.sockets)} sockets")
                fanout = bench_ws.FanoutBench(cfg, Path(tmp), children)
                await fanout.prepare()
                bench_ws_report.report(await fanout.run(), cfg)
            shape = bench_store.StoreShape(
                conversations=args.conversations or (10_000 if args.quick else 100_000),
                items=args.items or (100_000 if args.quick else 1_000_000),
            )
            if args.only in (None, "store"):
                await bench_store.run(shape, args.store_db or Path(tmp) / "store.db", args.runs, args.analyze)
            if args.only in (None, "analytics"):
                # The same store as the query benchmark (seeded once when both run).
                await bench_analytics.run(shape, args.store_db or Path(tmp) / "store.db", args.runs)
            if args.only in (None, "ingest"):
                ingest = bench_ingest.IngestConfig(
                    seconds=args.ingest_seconds or (5.0 if args.quick else 10.0),
                    concurrency=max(1, args.ingest_concurrency),
                )
                await bench_ingest.run(ingest, Path(tmp), children)
        finally:
            children.stop_all()
    print(f"\nbenchmark took {time.monotonic() - started:.0f} s")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `make bench`; exits 0 whatever the figures (130 when interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(130)


if __name__ == "__main__":
    main()
