"""`make bench --only analytics` on a tiny store: it seeds calls and audit rows once and times every query."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from web import bench


def test_analytics_bench_runs_and_reuses_its_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store.db"
    args = ["--only", "analytics", "--conversations", "300", "--items", "3000", "--runs", "2", "--store-db"]
    bench.main([*args, str(store)])
    out = capsys.readouterr().out
    assert "Analytics store additions" in out
    for label in (
        "figures, last 7 days",
        "figures, last 365 days",
        "drill-down",
        "audit report, one patient",
    ):
        line = next(row for row in out.splitlines() if row.startswith(label))
        assert "target met" in line or "target missed" in line, line
    with sqlite3.connect(store) as con:
        calls = con.execute("SELECT count(*) FROM calls").fetchone()[0]
        call_items = con.execute("SELECT count(*) FROM timeline_items WHERE kind = 'call'").fetchone()[0]
        voicemails = con.execute("SELECT count(*) FROM recordings").fetchone()[0]
    assert calls == call_items > 0 and 0 < voicemails < calls
    with sqlite3.connect(store) as con:
        visits = con.execute("SELECT count(*) FROM appointments").fetchone()[0]
        requests = con.execute("SELECT count(*) FROM payment_requests").fetchone()[0]
    assert visits == 100 and requests == 42  # a third and a seventh of the 300 threads
    bench.main([*args, str(store)])  # a second run reuses the store and adds nothing
    assert "Analytics store additions" not in capsys.readouterr().out
    with sqlite3.connect(store) as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == calls
