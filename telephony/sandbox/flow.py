"""The few shapes the call engine's verbs hand each other: what to fetch next, and why a leg stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Literal

from telephony.sandbox.twiml import Node

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Fetch:
    """The next TwiML: a URL to request (with extra params), or an inline document (REST `Twiml`)."""

    url: str | None
    method: str = "POST"
    params: Params = ()
    twiml: str | None = None


HANGUP: Literal["hangup"] = "hangup"
# A verb's outcome: None carries on with the next verb, a Fetch replaces the document, HANGUP ends it.
Result = Fetch | Literal["hangup"] | None


class Interrupted(Exception):
    """The leg was hung up (by its caller, its callee or REST) or redirected by REST, mid-verb."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ApplicationError(Exception):
    """The document cannot be run (bad HTTP answer, invalid TwiML, unusable URL): Twilio ends the call."""


def attribute_url(node: Node, name: str) -> str:
    """An attribute holding a URL, as written (resolved later against the document's URL)."""
    return node.get(name).strip()


async def any_event(*events: asyncio.Event) -> None:
    """Return as soon as one of the events is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def as_future(aw: Awaitable[Any]) -> asyncio.Future[Any]:
    """An awaitable as a future, so it can be raced and cancelled."""
    return asyncio.ensure_future(aw)
