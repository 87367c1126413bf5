"""Claiming the next reminder of an open request, once across nodes (payment links, intake forms)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession


async def claim_reminder(
    session: AsyncSession,
    model: Any,
    request_id: int,
    sent: int,
    due: int,
    open_statuses: Any,
    now: dt.datetime,
) -> bool:
    """Count reminder `due` as sent if the request is still open and no other node counted it first."""
    claimed = await session.scalar(
        update(model)
        .where(
            model.id == request_id,
            model.reminders_sent == sent,
            model.status.in_(open_statuses),
            model.expires_at > now,
        )
        .values(reminders_sent=due)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return claimed is not None
