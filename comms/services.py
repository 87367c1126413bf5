"""What every action needs from the running process: settings, the store and the bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from comms.db import WRITE, Sessionmaker
from config.settings import Settings
from routing.audience import Audience
from routing.bus import Bus


@dataclass
class Unit:
    """One action's transaction, plus the events it will publish once the transaction commits."""

    session: AsyncSession
    pending: list[tuple[dict[str, Any], Audience]] = field(default_factory=list)

    def publish(self, event: BaseModel | dict[str, Any], audience: Audience) -> None:
        """Publish after commit: a rolled-back action announces nothing."""
        body = event.model_dump(mode="json") if isinstance(event, BaseModel) else event
        self.pending.append((body, audience))


@dataclass(frozen=True)
class Services:
    settings: Settings
    sessionmaker: Sessionmaker
    bus: Bus

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """Open a transaction; commit on success, then publish what the action queued."""
        async with self.sessionmaker() as session, session.begin():
            await session.connection(execution_options={WRITE: True})
            unit = Unit(session)
            yield unit
        for body, audience in unit.pending:
            await self.bus.publish(body, audience)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session for queries that change nothing (audit entries go through `unit`)."""
        async with self.sessionmaker() as session:
            yield session
