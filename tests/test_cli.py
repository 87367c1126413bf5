"""The `frontdesk` command as operators run it: real processes against a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import browser
from tests.ports import free_port
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


class Demo:
    """A `frontdesk demo` process whose output goes to a file, so a test can read it while it runs."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.log = cwd / "demo.log"
        env = {**clean_env(), "FRONTDESK_SMTP__LISTEN_PORT": "0"}  # never clash on the default 2525
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "demo", *args],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )

    @property
    def output(self) -> str:
        return self.log.read_text()

    async def wait_for(self, line: str) -> None:
        """Until the demo printed `line` (it prints once every site listens), or fail with its output."""
        deadline = time.monotonic() + TIMEOUT
        while line not in self.output:
            assert self.proc.poll() is None, f"the demo exited:\n{self.output}"
            assert time.monotonic() < deadline, f"the demo did not come up:\n{self.output}"
            await asyncio.sleep(0.2)

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


async def _until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
    return value


async def test_demo_runs_the_carrier_sandbox_and_a_text_goes_both_ways(tmp_path: Path) -> None:
    from comms.seed import LOCATIONS

    port, sandbox_port = free_port(), free_port()
    base, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
    demo = Demo(tmp_path, "--port", str(port), "--sandbox-port", str(sandbox_port))
    try:
        await demo.wait_for(f"patient phone at {sandbox}/phone")
        assert (tmp_path / "var" / "demo.db").exists()
        found = re.search(r"text the practice at (\+\d+) as [^,]+, (\+\d+)", demo.output)
        assert found, demo.output
        practice_number, patient = found.groups()
        async with browser() as http:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["database"] == "ok"
            async with http.get(f"{sandbox}/phone") as resp:
                assert resp.status == 200 and resp.content_type == "text/html"
            async with http.get(f"{sandbox}/phone/api/state") as resp:
                assert (await resp.json())["numbers"] == [location[2] for location in LOCATIONS]

            text = "Can I bring my daughter to my 3:00 cleaning?"
            payload = {"from": patient, "to": practice_number, "body": text}
            async with http.post(f"{sandbox}/sandbox/inbound", json=payload) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["status"] == 200  # the app took the signed webhook

            login = {"email": "admin@example.com", "password": "frontdesk-demo"}
            async with http.post(f"{base}/api/v1/session", json=login, headers={"Origin": base}) as resp:
                assert resp.status == 201
                session = await resp.json()
            async with http.get(f"{base}/api/v1/conversations", params={"limit": "100"}) as resp:
                page = await resp.json()
            [conversation] = [c for c in page["items"] if c["last_item"] and c["last_item"]["body"] == text]
            assert patient in conversation["contact"]["phones"]

            reply = "Of course, we will see you both at 3:00."
            async with http.post(
                f"{base}/api/v1/conversations/{conversation['id']}/messages",
                json={"body": reply},
                headers={"X-CSRF-Token": session["csrf_token"], "Origin": base},
            ) as resp:
                assert resp.status == 201, await resp.text()
                item = await resp.json()

            async def carried() -> list[dict[str, Any]]:
                async with http.get(f"{sandbox}/sandbox/messages", params={"to": patient}) as resp:
                    sent = [m for m in (await resp.json())["messages"] if m["body"] == reply]
                return sent if sent and sent[0]["status"] == "delivered" else []

            [message] = await _until(carried, "the reply to be delivered at the sandbox")
            assert message["from"] == practice_number

            async def delivered_in_app() -> bool:
                url = f"{base}/api/v1/conversations/{conversation['id']}/items"
                async with http.get(url) as resp:
                    rows = {i["id"]: i for i in await resp.json()}
                return rows[item["id"]]["status"] == "delivered"

            # The sandbox's signed status callbacks reached the app and were accepted.
            await _until(delivered_in_app, "the app to see the reply delivered")
    finally:
        code = demo.stop()
    output = demo.output
    assert code == 0, output
    assert f"open {base}/" in output and "admin@example.com" in output and "frontdesk-demo" in output
    assert f"{sandbox}/phone" in output and "Traceback" not in output


async def test_demo_takes_a_payment_through_the_stripe_stand_in(tmp_path: Path) -> None:
    """No Stripe account: a payment link checks out on the stand-in's test-card page and ends paid."""
    port, sandbox_port = free_port(), free_port()
    base, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
    demo = Demo(tmp_path, "--port", str(port), "--sandbox-port", str(sandbox_port))
    try:
        await demo.wait_for(f"check out at {sandbox}/stripe with test card")
        async with browser() as http:
            login = {"email": "admin@example.com", "password": "frontdesk-demo"}
            async with http.post(f"{base}/api/v1/session", json=login, headers={"Origin": base}) as resp:
                session = await resp.json()
            headers = {"X-CSRF-Token": session["csrf_token"], "Origin": base}
            async with http.get(f"{base}/api/v1/conversations", params={"limit": "100"}) as resp:
                conversation = next(c for c in (await resp.json())["items"] if c["contact"]["phones"])
            body = {"amount_cents": 4500, "description": "Exam copay"}
            url = f"{base}/api/v1/conversations/{conversation['id']}/payment-requests"
            async with http.post(url, json=body, headers=headers) as resp:
                assert resp.status == 201, await resp.text()
                request = await resp.json()
            phone = conversation["contact"]["phones"][0]

            async def link() -> str | None:
                async with http.get(f"{sandbox}/sandbox/messages", params={"to": phone}) as resp:
                    bodies = [m["body"] for m in (await resp.json())["messages"]]
                found = [re.search(r"http\S+/pay/\S+", b) for b in bodies]
                return next((f.group(0) for f in found if f), None)

            pay = await _until(link, "the payment text at the sandbox")
            async with http.post(f"{pay}/checkout", allow_redirects=False) as resp:
                assert resp.status == 303, await resp.text()
                checkout = resp.headers["Location"]
            assert checkout.startswith(f"{sandbox}/stripe/c/pay/cs_test_")
            async with http.post(checkout, data={"card": "4242424242424242"}, allow_redirects=False) as resp:
                assert resp.status == 303 and resp.headers["Location"] == f"{base}/pay/thanks"

            async def paid() -> bool:
                async with http.get(f"{base}/api/v1/payment-requests/{request['id']}") as resp:
                    return (await resp.json())["status"] == "paid"

            await _until(paid, "the stand-in's signed event to settle the request")
    finally:
        code = demo.stop()
    assert code == 0, demo.output
    assert "Traceback" not in demo.output


async def test_demo_keeps_a_configured_twilio_account_and_starts_no_sandbox(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    config = tmp_path / "frontdesk.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "fd.db"}"\n'
        f'[twilio]\naccount_sid = "AC{"0" * 32}"\nauth_token = "a-real-token"\n',
        encoding="utf-8",
    )
    args = ("--config", str(config), "--port", str(port), "--sandbox-port", str(sandbox_port))
    demo = Demo(tmp_path, *args)
    try:
        await demo.wait_for("Twilio account in your configuration")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", sandbox_port), timeout=2).close()
    finally:
        code = demo.stop()
    assert code == 0 and "/phone" not in demo.output
