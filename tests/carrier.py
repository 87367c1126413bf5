"""A Frontdesk server and the carrier sandbox wired to each other on real ports, for texting tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from comms import migrate
from comms.db import make_engine
from tests.conftest import make_settings
from tests.helpers import ORIGIN, Practice, seed_practice
from tests.ports import free_port

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "sandbox-token-0123456789"


@dataclass
class Carrier:
    base: str  # the Frontdesk server
    sandbox: str  # the Twilio stand-in
    practice: Practice
    app: Any
    sandbox_app: Any


async def start_pair(
    db_settings: dict[str, Any],
    aiohttp_server: Any,
    tmp_path: Any,
    twilio: dict[str, Any] | None = None,
    sections: dict[str, dict[str, Any]] | None = None,
    app_port: int | None = None,
    **sandbox_opts: Any,
) -> Carrier:
    """Both servers up, the practice seeded, the sandbox signing with the same token Frontdesk checks."""
    from telephony.sandbox import SandboxConfig, create_sandbox_app
    from web.app import create_app
    from web.keys import SERVICES

    app_port, sandbox_port = app_port or free_port(), free_port()
    base, sandbox = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{sandbox_port}"
    settings = make_settings(
        db_settings,
        server={"public_base_url": base, "allowed_origins": [ORIGIN]},
        twilio={
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "api_base_url": sandbox,
            "send_lease_seconds": 2.0,
            "segments_per_second": 50.0,
            **(twilio or {}),
        },
        storage={"media_dir": str(tmp_path / "media")},
        **(sections or {}),
    )
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    await aiohttp_server(app, port=app_port)
    practice = await seed_practice(app[SERVICES])
    config = SandboxConfig(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, webhook_base=base, status_delay=0.0, **sandbox_opts
    )
    sandbox_app = create_sandbox_app(config)
    await aiohttp_server(sandbox_app, port=sandbox_port)
    return Carrier(base, sandbox, practice, app, sandbox_app)
