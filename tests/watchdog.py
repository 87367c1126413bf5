"""A test phase that hangs fails the run with every thread's and asyncio task's stack, not a silent stall.

CI otherwise waits out its own time limit and prints nothing about where the suite stopped.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

# The slowest browser test takes about a minute.
PHASE_SECONDS = float(os.environ.get("FRONTDESK_TEST_PHASE_SECONDS", "300"))


def dump_tasks() -> None:
    """Every live asyncio task's coroutine stack, to stderr (the loop thread is idle in a hang)."""
    tasks = list(asyncio.tasks._all_tasks)  # type: ignore[attr-defined]
    print(f"\n=== {len(tasks)} asyncio tasks ===", file=sys.stderr)
    for task in tasks:
        if task.done():
            continue
        print(f"--- {task!r}", file=sys.stderr)
        for frame in task.get_stack():
            print("".join(traceback.format_stack(frame, limit=1)).rstrip(), file=sys.stderr)


def _fire(name: str, capture: Any) -> None:
    # pytest holds stderr for the test; let the dump through to the run's own output.
    with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        _dump(name)
    os.kill(os.getpid(), signal.SIGINT)  # a real signal: it wakes the loop out of its wait


def _dump(name: str) -> None:
    print(f"\n=== {name} ran {PHASE_SECONDS:.0f} s: stacks follow, then the run stops ===", file=sys.stderr)
    faulthandler.dump_traceback(all_threads=True)
    dump_tasks()
    sys.stderr.flush()


@contextmanager
def watched(name: str, capture: Any = None) -> Iterator[None]:
    """Run the block; past PHASE_SECONDS dump the stacks and stop the run (`capture`: pytest's
    capture manager, so the dump is not swallowed with the test's output)."""
    timer = threading.Timer(PHASE_SECONDS, _fire, args=(name, capture))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
