"""Fan-out figures: what one (server, socket count) run measured, and the table that compares them.

Each Frontdesk figure is printed beside the bare-aiohttp figure from the same run, with its ratio and
the issue's target; the slow-consumer row compares Frontdesk with a stalled client against itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from web.bench_baseline import FRAME_BYTES
from web.bench_report import TIMES, kb, ms, print_table, ratio, secs, us, verdict

FRONTDESK = "frontdesk"
BASELINE = "baseline"
STORM_TARGET = 5.0
MEMORY_TARGET = 30 * 1024
SLOW_TARGET = 1.10


@dataclass(frozen=True)
class FanoutConfig:
    """The run's shape: socket counts, publish rate, phase length and the load generator's size."""

    sockets: tuple[int, ...]
    rate: float
    seconds: float
    client_procs: int
    inflight: int
    # Publishes waiting for their reply at most; past it the publisher waits, so an overloaded server
    # shows up as a lower achieved rate instead of an ever-growing pile of requests.
    max_in_flight: int = 10


@dataclass
class Phase:
    """What clients saw while recording, and what the server spent meanwhile."""

    p50: float = math.nan
    p99: float = math.nan
    deliveries: int = 0
    expected: int = 0
    server_cpu: float = math.nan
    chars_per_delivery: float = math.nan
    client_busy: list[float] = field(default_factory=list)
    gaps: int = 0
    duplicates: int = 0
    open_sockets: int = 0
    publish_p50: float = math.nan
    publish_p99: float = math.nan
    achieved_rate: float = math.nan

    @property
    def cpu_per_delivery(self) -> float:
        """Server CPU over deliveries counted on the clients (what the server spent per frame received)."""
        return self.server_cpu / self.deliveries if self.deliveries else math.nan


@dataclass
class Figures:
    """One server at one socket count."""

    kind: str
    sockets: int
    connected: int = 0
    connect_seconds: float = math.nan
    memory_per_socket: float = math.nan
    steady: Phase = field(default_factory=Phase)
    slow: Phase | None = None
    slow_skipped: str = ""
    publish_failed: int = 0
    storm_seconds: float = math.nan
    storm_resumed: int = 0
    storm_resync: int = 0
    storm_replayed: int = 0
    after: Phase | None = None
    errors: list[str] = field(default_factory=list)


def _p99_target(sockets: int) -> float:
    """The issue's latency budget: 50 ms up to 1,000 sockets, 150 ms up to 3,000."""
    if sockets <= 1000:
        return 0.050
    if sockets <= 3000:
        return 0.150
    return math.nan


def _row(
    label: str, n: int, fmt: Callable[[float], str], fd: float, base: float, target: str, outcome: str
) -> list[str]:
    return [label, f"{n:,}", fmt(fd), fmt(base), ratio(fd, base), target, outcome]


def _rows(n: int, fd: Figures, base: Figures) -> list[list[str]]:
    """The figures for one socket count, each with its target (the slow-consumer row compares
    Frontdesk with a stalled client against Frontdesk without one)."""
    p99_target = _p99_target(n)
    cpu, base_cpu = fd.steady.cpu_per_delivery, base.steady.cpu_per_delivery
    storm = fd.storm_seconds
    if not math.isnan(storm) and fd.storm_resumed < n:
        storm = math.inf  # a socket that never resumed misses the target whatever the time
    rows = [
        _row("publish→socket p50", n, ms, fd.steady.p50, base.steady.p50, "", ""),
        _row(
            "publish→socket p99", n, ms, fd.steady.p99, base.steady.p99,
            f"≤ {p99_target * 1000:.0f} ms", verdict(fd.steady.p99, p99_target),
        ),
        _row(
            "server CPU per delivered event", n, us, cpu, base_cpu,
            f"≤ 1.0{TIMES} baseline", verdict(cpu / base_cpu if base_cpu else math.nan, 1.0),
        ),
        _row(
            "memory per idle socket (RSS)", n, kb, fd.memory_per_socket, base.memory_per_socket,
            "≤ 30 KB", verdict(fd.memory_per_socket, MEMORY_TARGET),
        ),
        _row(
            "reconnect storm: all resumed", n, secs, fd.storm_seconds, base.storm_seconds,
            "≤ 5 s", verdict(storm, STORM_TARGET),
        ),
    ]  # fmt: skip
    slow_p99 = fd.slow.p99 if fd.slow is not None else math.nan
    rows.append(
        _row(
            "slow consumer: others' p99 (vs none)", n, ms, slow_p99, fd.steady.p99,
            "< +10%", verdict(slow_p99 / fd.steady.p99, SLOW_TARGET - 1e-9),
        )
    )  # fmt: skip
    return rows


def report(results: list[Figures], cfg: FanoutConfig) -> None:
    """One table: each Frontdesk figure beside the bare-aiohttp figure from the same run."""
    rows: list[list[str]] = []
    notes: list[str] = []
    by_n: dict[int, dict[str, Figures]] = {}
    for fig in results:
        by_n.setdefault(fig.sockets, {})[fig.kind] = fig
    for n, pair in by_n.items():
        rows += _rows(n, pair[FRONTDESK], pair[BASELINE])
        notes += _notes(n, pair[FRONTDESK], pair[BASELINE], cfg.max_in_flight)
    header = (
        f"WebSocket fan-out — {cfg.rate:g} events/s, {cfg.seconds:g} s per phase, "
        f"{cfg.client_procs} client process(es), ≤ {cfg.inflight} handshakes in flight per process"
    )
    print_table(
        header, ["figure", "sockets", "frontdesk", "baseline", "ratio", "target", "verdict"], rows, notes
    )


def _notes(n: int, fd: Figures, base: Figures, max_in_flight: int) -> list[str]:
    """The context a reader needs to trust (or doubt) the row above: counts, sizes, client load."""
    out = [
        f"N={n:,}: connected {fd.connected:,}/{n:,} frontdesk in {secs(fd.connect_seconds)}, "
        f"{base.connected:,}/{n:,} baseline in {secs(base.connect_seconds)}; "
        f"delivered {fd.steady.deliveries:,}/{fd.steady.expected:,} frontdesk, "
        f"{base.steady.deliveries:,}/{base.steady.expected:,} baseline",
        f"N={n:,}: message size frontdesk {fd.steady.chars_per_delivery:,.0f} B, baseline "
        f"{FRAME_BYTES} B; client processes busy "
        f"{', '.join(f'{b:.0%}' for b in fd.steady.client_busy)} (frontdesk), "
        f"{', '.join(f'{b:.0%}' for b in base.steady.client_busy)} (baseline) of one core",
        f"N={n:,}: publish rate achieved {fd.steady.achieved_rate:.1f}/s frontdesk, "
        f"{base.steady.achieved_rate:.1f}/s baseline (at most {max_in_flight} unanswered at a time); "
        f"failed or timed out: {fd.publish_failed} frontdesk, {base.publish_failed} baseline",
        f"N={n:,}: publish request (HTTP round trip) p50/p99 frontdesk {ms(fd.steady.publish_p50)} / "
        f"{ms(fd.steady.publish_p99)} (a note through the action path), baseline "
        f"{ms(base.steady.publish_p50)} / {ms(base.steady.publish_p99)} (includes its send_str loop)",
        f"N={n:,}: storm resumed {fd.storm_resumed:,}/{n:,}, {fd.storm_replayed:,} missed events replayed, "
        f"{fd.storm_resync} told to resync; after it: "
        f"{fd.after.deliveries if fd.after else 0:,} deliveries, {fd.after.gaps if fd.after else 0} gaps, "
        f"{fd.after.duplicates if fd.after else 0} duplicates",
    ]
    if fd.slow_skipped:
        out.append(f"N={n:,}: slow consumer {fd.slow_skipped}")
    if fd.slow is not None:
        out.append(
            f"N={n:,}: with the stalled client, {fd.slow.deliveries:,}/{fd.slow.expected:,} delivered "
            f"to the others; server CPU per delivery {us(fd.slow.cpu_per_delivery)}"
        )
    for fig in (fd, base):
        if fig.errors:
            out.append(f"N={n:,} {fig.kind} errors (first few): " + "; ".join(dict.fromkeys(fig.errors)))
    return out
