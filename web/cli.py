"""The `frontdesk` command: serve, demo, migrate and user add; start-up problems end in one clear line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from comms import migrate
from comms.db import make_engine, make_sessionmaker
from comms.errors import DatabaseNotReady, FrontdeskError
from comms.practice import add_staff, ensure_practice
from comms.seed import PRACTICE_NAME, STAFF, DemoLogin, seed_demo
from comms.seed_reviews import seed_review_sites
from comms.services import Services
from config.settings import ConfigError, Settings, load_settings
from routing.bus import InProcessBus

if TYPE_CHECKING:
    from web.demo import DemoPractice, SandboxSite

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEMO_DB = Path("var") / "demo.db"
EXIT_FAILED = 1  # the command ran and was refused (bad input, duplicate account)
EXIT_CANNOT_START = 2  # configuration or database not usable; also argparse's usage errors


class CommandFailed(Exception):
    """A command-level refusal with a message for the operator (mismatched passwords, for example)."""


def _fail(message: str, code: int) -> int:
    # One line, whatever the source: ConfigError lists each bad key on its own line.
    print("frontdesk: error: " + " ".join(message.split()), file=sys.stderr)
    return code


def _url_host(host: str) -> str:
    """The host as a browser would type it: a wildcard bind address is reached through loopback."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - mapping the wildcard away, not binding to it
        return DEFAULT_HOST
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def with_listen(settings: Settings, host: str | None, port: int | None) -> Settings:
    """Apply --host/--port over the config file.

    The WebSocket accepts only the Origin of `server.public_base_url`, so when the config did not set
    that URL it follows the address we listen on; otherwise `frontdesk demo --port 9000` would serve a
    page that may not open its own socket. An explicit public URL (a proxy's HTTPS name) is kept as is.
    """
    server = settings.server
    update: dict[str, Any] = {"host": server.host if host is None else host}
    update["port"] = server.port if port is None else port
    if "public_base_url" not in server.model_fields_set:
        update["public_base_url"] = f"http://{_url_host(update['host'])}:{update['port']}"
    return settings.model_copy(update={"server": server.model_copy(update=update)})


def _services(settings: Settings, engine: AsyncEngine) -> Services:
    """Services for a one-off command; its events have no listener, as nobody is connected yet."""
    return Services(settings, make_sessionmaker(engine), InProcessBus(settings.bus.retention))


async def _migrate(settings: Settings) -> str | None:
    engine = make_engine(settings.database)
    try:
        await migrate.upgrade(engine)
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database schema to this version's head (safe to run again)."""
    settings = load_settings(args.config)
    revision = asyncio.run(_migrate(settings))
    print(f"database migrated to revision {revision}")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise CommandFailed("the passwords do not match")
    return first


async def _add_user(settings: Settings, args: argparse.Namespace, password: str) -> int:
    engine = make_engine(settings.database)
    try:
        await migrate.ensure_current(engine)
        services = _services(settings, engine)
        practice_id = await ensure_practice(services, args.practice_name)
        return await add_staff(
            services, practice_id, args.email, args.name, password, args.role, args.location or ()
        )
    finally:
        await engine.dispose()


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create a staff account; the password never appears on the command line."""
    settings = load_settings(args.config)
    password = _read_password(args.password_stdin)
    user_id = asyncio.run(_add_user(settings, args, password))
    print(f"staff account {user_id} created for {args.email.strip().lower()} ({args.role})")
    if args.role == "staff" and not args.location:
        print("note: a staff account without --location sees no location's conversations", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve on a migrated database (this never migrates: run `frontdesk migrate` first)."""
    from web import app as webapp

    settings = with_listen(load_settings(args.config), args.host, args.port)
    webapp.run(settings, settings.server.host, settings.server.port)
    return 0


async def _prepare_demo(settings: Settings) -> tuple[DemoLogin, DemoPractice]:
    from web.demo import practice_on_file

    await _migrate(settings)
    engine = make_engine(settings.database)
    try:
        services = _services(settings, engine)
        login = await seed_demo(services)
        await seed_review_sites(services, PRACTICE_NAME, settings.server.public_base_url)
        return login, await practice_on_file(services)
    finally:
        await engine.dispose()


def demo_settings(config: str | None) -> Settings:
    """The config file when given; otherwise a SQLite file under ./var that survives restarts."""
    settings = load_settings(config)
    if config is not None or "url" in settings.database.model_fields_set:
        return settings
    DEMO_DB.parent.mkdir(parents=True, exist_ok=True)
    database = settings.database.model_copy(update={"url": f"sqlite+aiosqlite:///{DEMO_DB.resolve()}"})
    return settings.model_copy(update={"database": database})


def _sandbox_port(settings: Settings, port: int | None) -> int:
    """--sandbox-port, else the app's port + 1 (- 1 at the very top of the range)."""
    if port is not None:
        return port
    app_port = settings.server.port
    return app_port + 1 if app_port < 65535 else app_port - 1


def _announce(
    settings: Settings, login: DemoLogin, practice: DemoPractice, sandbox: SandboxSite | None
) -> None:
    """Where to sign in and, with the sandbox, where a patient's phone is; printed once both listen."""
    others = ", ".join(e for e, *_ in STAFF if e != login.email)
    print(f"Frontdesk demo: open {settings.server.public_base_url}/")
    print(f"  sign in as {login.email} with password {login.password}")
    print(f"  (other demo staff, same password: {others})")
    if sandbox is None:
        print("  texts go through the Twilio account in your configuration")
    else:
        print(f"Carrier sandbox (no Twilio account needed): patient phone at {sandbox.phone_url}")
        patient = practice.patient
        if patient is not None:
            print(
                f"  text the practice at {patient.practice_number} as {patient.name}, {patient.phone}: "
                f"{sandbox.phone_url}?phone={quote(patient.phone)}"
            )
        if sandbox.stripe is not None:
            print(
                "Stripe stand-in (no Stripe account needed): payment links check out at "
                f"{sandbox.stripe.public_url} with test card 4242 4242 4242 4242"
            )
    print(flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    """Migrate, seed the demo practice once, start the carrier sandbox unless Twilio is set, then serve."""
    from web import demo

    settings = with_listen(demo_settings(args.config), args.host, args.port)
    login, practice = asyncio.run(_prepare_demo(settings))
    host = settings.server.host
    port = _sandbox_port(settings, args.sandbox_port)
    if port == settings.server.port:
        raise CommandFailed(f"the sandbox cannot listen on the app's own port {port}")
    url = f"http://{_url_host(host)}:{port}"
    settings, sandbox = demo.with_sandbox(settings, practice, host, port, url)
    demo.run(settings, sandbox, lambda: _announce(settings, login, practice, sandbox))
    return 0


def _port(text: str) -> int:
    """argparse type for --port: a TCP port, so a typo fails before anything starts."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, got {port}")
    return port


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="TOML settings file (FRONTDESK_* environment variables override it)"
    )


def _listen_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help=f"address to listen on (default: server.host, else {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=_port, help=f"port to listen on (default: server.port, else {DEFAULT_PORT})"
    )
    _config_arg(parser)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, one sub-parser per command."""
    parser = argparse.ArgumentParser(prog="frontdesk", description="Self-hosted patient communications.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="serve the app on a migrated database")
    _listen_args(serve)
    serve.set_defaults(func=cmd_serve)

    demo = commands.add_parser(
        "demo",
        help="migrate, seed a demo practice and serve it with the carrier sandbox "
        "(SQLite in ./var unless --config)",
    )
    _listen_args(demo)
    demo.add_argument(
        "--sandbox-port",
        type=_port,
        help="port of the carrier sandbox and its patient-phone page (default: the app's port + 1; "
        "not started when [twilio] has an account)",
    )
    demo.set_defaults(func=cmd_demo)

    migrate_cmd = commands.add_parser("migrate", help="create or upgrade the database schema")
    _config_arg(migrate_cmd)
    migrate_cmd.set_defaults(func=cmd_migrate)

    user = commands.add_parser("user", help="manage staff accounts")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_commands.add_parser("add", help="create a staff account")
    add.add_argument("--email", required=True, help="login e-mail address")
    add.add_argument("--name", required=True, help="name shown to colleagues")
    add.add_argument("--role", choices=("admin", "staff"), default="staff", help="admins see every location")
    add.add_argument(
        "--location",
        type=int,
        action="append",
        metavar="ID",
        help="location id the account may see (repeat for several)",
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    add.add_argument(
        "--practice-name",
        default="My practice",
        help="name of the practice, used only when the database has none yet",
    )
    _config_arg(add)
    add.set_defaults(func=cmd_user_add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `frontdesk` console script and of `python -m web.cli`."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigError, DatabaseNotReady) as exc:
        return _fail(str(exc), EXIT_CANNOT_START)
    except (OperationalError, InterfaceError) as exc:  # bad credentials, missing SQLite folder, server away
        return _fail(f"cannot use the database: {exc.orig or exc}", EXIT_CANNOT_START)
    except OSError as exc:  # port in use, database server unreachable, unwritable demo folder
        return _fail(f"cannot start: {exc}", EXIT_CANNOT_START)
    except (FrontdeskError, CommandFailed) as exc:
        return _fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
