"""Benchmark output: percentiles, units and plain-text tables that read well in a terminal or a PR."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence

MET = "target met"
MISSED = "target missed"
UNMEASURED = "not measured"
_STARTED = time.monotonic()
TIMES = "\u00d7"  # the multiplication sign, spelled out so linters do not take it for an x


def progress(message: str) -> None:
    """A line on stderr while a long run goes on; stdout keeps only the tables."""
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of sorted samples (NaN when there are none, so gaps show, not zeros)."""
    if not samples:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(samples)))
    return float(samples[min(rank, len(samples)) - 1])


def verdict(value: float, limit: float) -> str:
    """Met when the figure is at or under its limit; a figure we could not measure says so."""
    if math.isnan(value) or math.isnan(limit):
        return UNMEASURED
    return MET if value <= limit else MISSED


def ratio(value: float, base: float) -> str:
    """Figure over baseline, as 2.31 and a multiplication sign; a dash when the baseline is missing."""
    if math.isnan(value) or math.isnan(base) or base <= 0:
        return "—"
    return f"{value / base:.2f}{TIMES}"


def ms(seconds: float) -> str:
    """Seconds as milliseconds, with two decimals below 10 ms where they still mean something."""
    if math.isnan(seconds):
        return "—"
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def us(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1e6:.1f} µs"


def kb(nbytes: float) -> str:
    return "—" if math.isnan(nbytes) else f"{nbytes / 1024:.1f} KB"


def secs(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds:.2f} s"


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[str] = ()
) -> None:
    """Columns sized to their widest cell; text left-aligned, everything else right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            left = i == 0 or i >= len(cells) - 2  # the label, the target and the verdict
            out.append(str(cell).ljust(widths[i]) if left else str(cell).rjust(widths[i]))
        return "  ".join(out).rstrip()

    print()
    print(title)
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    for note in notes:
        print(f"  {note}")
