"""The `frontdesk` command as operators run it: real processes against a real SQLite file."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from web import cli

TIMEOUT = 60


def clean_env() -> dict[str, str]:
    """The test's environment without FRONTDESK_* variables, so only our config file counts."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}


def frontdesk(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "frontdesk.toml"
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "fd.db"}"\n', encoding="utf-8")
    return path


def staff_rows(config: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(config.parent / "fd.db") as db:
        return db.execute("SELECT email, name, role FROM staff_users ORDER BY id").fetchall()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_migrate_then_user_add_creates_the_account(config: Path) -> None:
    migrated = frontdesk("migrate", "--config", str(config), cwd=config.parent)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated to revision" in migrated.stdout
    assert frontdesk("migrate", "--config", str(config), cwd=config.parent).returncode == 0  # idempotent

    args = ("user", "add", "--config", str(config), "--email", "Ada@Example.org", "--name", "Ada Admin")
    added = frontdesk(
        *args, "--role", "admin", "--password-stdin", cwd=config.parent, stdin="a long passphrase\n"
    )
    assert added.returncode == 0, added.stderr
    assert "ada@example.org" in added.stdout and "a long passphrase" not in added.stdout + added.stderr
    assert staff_rows(config) == [("ada@example.org", "Ada Admin", "admin")]

    again = frontdesk(*args, "--password-stdin", cwd=config.parent, stdin="a long passphrase\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = ("user", "add", "--config", str(config), "--email", "b@example.org", "--name", "B")
    refused = frontdesk(*short, "--password-stdin", cwd=config.parent, stdin="short\n")
    assert refused.returncode == 1 and "at least" in refused.stderr
    unknown = frontdesk(*short, "--location", "99", "--password-stdin", cwd=config.parent, stdin="x" * 12)
    assert unknown.returncode == 1 and "99" in unknown.stderr
    assert len(staff_rows(config)) == 1


def test_user_add_on_an_unmigrated_database_points_to_migrate(config: Path) -> None:
    args = ("user", "add", "--config", str(config), "--email", "a@example.org", "--name", "A")
    result = frontdesk(*args, "--password-stdin", cwd=config.parent, stdin="a long passphrase\n")
    assert result.returncode == 2
    assert "frontdesk migrate" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_serve_on_an_unmigrated_database_exits_2_with_one_clear_line(config: Path) -> None:
    result = frontdesk("serve", "--config", str(config), "--port", str(free_port()), cwd=config.parent)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("frontdesk: error:")]
    assert len(errors) == 1 and "frontdesk migrate" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_bad_setting_exits_2_naming_the_key(config: Path) -> None:
    config.write_text(config.read_text() + '[server]\nport = "abc"\n', encoding="utf-8")
    result = frontdesk("serve", "--config", str(config), cwd=config.parent)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "server.port" in result.stderr
    missing = frontdesk("migrate", "--config", str(config.parent / "nope.toml"), cwd=config.parent)
    assert missing.returncode == 2 and "nope.toml not found" in missing.stderr


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["demo"], ["migrate"], ["user"], ["user", "add"]], ids=" ".join
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: frontdesk")
    if command in (["serve"], ["demo"]):
        assert "--host" in out and "--port" in out and "--config" in out


def test_help_works_as_a_module_and_as_the_console_script(tmp_path: Path) -> None:
    result = frontdesk("--help", cwd=tmp_path)
    assert result.returncode == 0 and "serve" in result.stdout and "user" in result.stdout
    script = Path(sys.executable).parent / "frontdesk"
    if script.exists():
        run = subprocess.run([str(script), "serve", "--help"], capture_output=True, text=True, check=False)
        assert run.returncode == 0 and "--port" in run.stdout


def test_a_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--port", "70000"])
    assert exited.value.code == 2 and "65535" in capsys.readouterr().err


def test_user_add_prompts_twice_for_the_password(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [k for k in os.environ if k.startswith("FRONTDESK_")]:
        monkeypatch.delenv(name)
    assert cli.main(["migrate", "--config", str(config)]) == 0
    answers = iter(["a long passphrase", "a long passphrase!", "a long passphrase", "a long passphrase"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": next(answers))
    args = ["user", "add", "--config", str(config), "--email", "n@example.org", "--name", "Nora"]
    assert cli.main(args) == 1
    assert "do not match" in capsys.readouterr().err
    assert cli.main(args) == 0
    assert staff_rows(config) == [("n@example.org", "Nora", "staff")]
    assert "without --location" in capsys.readouterr().err


def test_demo_seeds_prints_the_login_and_serves(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:  # noqa: S310
                    assert json.load(resp)["database"] == "ok"
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the demo did not come up"
                time.sleep(0.2)
        assert (tmp_path / "var" / "demo.db").exists()
        login = urllib.request.Request(  # noqa: S310
            f"{base}/api/v1/session",
            data=json.dumps({"email": "admin@example.com", "password": "frontdesk-demo"}).encode(),
            headers={"Content-Type": "application/json", "Origin": base},
            method="POST",
        )
        with urllib.request.urlopen(login, timeout=10) as resp:  # noqa: S310
            assert resp.status == 201 and json.load(resp)["role"] == "admin"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=TIMEOUT)
    assert f"open {base}/" in output and "admin@example.com" in output and "frontdesk-demo" in output
