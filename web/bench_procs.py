"""Benchmark process plumbing: child servers, their CPU time and memory, free ports and fd limits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path

import aiohttp

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> int:
    """Thousands of sockets need thousands of descriptors: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (psutil is not a dependency)."""
    data = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    fields = data.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def free_port() -> int:
    """A loopback port nobody listens on right now (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Children:
    """Every process the benchmark starts, so each one ends even when a phase fails half-way."""

    def __init__(self) -> None:
        self._popen: list[subprocess.Popen[bytes]] = []
        self._workers: list[BaseProcess] = []

    def start(self, args: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
        """Start a server; its output goes to a file (a pipe nobody reads would fill and block it)."""
        with log_path.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._popen.append(proc)
        return proc

    def track(self, worker: BaseProcess) -> None:
        """Remember a client process started elsewhere, so stop_all ends it too."""
        self._workers.append(worker)

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
        """SIGTERM (aiohttp shuts down gracefully on it), then SIGKILL if it lingers."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self._popen:
            self._popen.remove(proc)

    def stop_worker(self, worker: BaseProcess, grace: float = 5.0) -> None:
        """A client process normally exits when told; otherwise terminate, then kill."""
        worker.join(grace)
        if worker.is_alive():
            worker.terminate()
            worker.join(grace)
        if worker.is_alive():
            worker.kill()
            worker.join()
        if worker in self._workers:
            self._workers.remove(worker)

    def stop_all(self) -> None:
        """End whatever is still running, each by its own handle."""
        for worker in list(self._workers):
            self.stop_worker(worker, grace=1.0)
        for proc in list(self._popen):
            self.stop(proc, grace=5.0)


_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Timeout)): ?(.*)$")


def server_errors(path: Path, most: int = 3) -> list[str]:
    """The distinct exceptions a server logged, most frequent first, with how often: a benchmark
    that overloads the server should say how it failed, not only that it was slow."""
    counts: dict[str, int] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        found = _EXCEPTION_LINE.match(line)
        if found:
            key = f"{found.group(1)}: {found.group(2)[:120]}"
            counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:most]
    return [f"server logged {text} ({n}\u00d7)" for text, n in ranked]


def log_tail(path: Path, lines: int = 15) -> str:
    """The end of a child's log, for an error message when it fails to start."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path, within: float = 30.0) -> None:
    """Poll a health URL until it answers 200; fail early, with the log, if the child exits."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log_tail(log_path)}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server not ready after {within:.0f}s:\n{log_tail(log_path)}")
