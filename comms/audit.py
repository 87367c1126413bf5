"""The append-only audit log: who viewed, changed, sent or exported which record, when and from where."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from comms.access import Actor
from comms.models import AuditEntry


def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    record_type: str,
    record_id: int | str,
    detail: dict[str, Any] | None = None,
    *,
    remote_addr: str | None = None,
) -> None:
    """Add an audit row to the caller's transaction; detail holds ids and field names, never message
    bodies (a patient's form that changed their record keeps the values it replaced here: the record's
    history, readable by administrators only)."""
    session.add(
        AuditEntry(
            actor_id=actor.user_id if actor else None,
            action=action,
            record_type=record_type,
            record_id=str(record_id),
            remote_addr=actor.remote_addr if actor else remote_addr,
            detail=detail or {},
        )
    )


async def record_many(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    record_type: str,
    entries: Iterable[tuple[int | str, dict[str, Any]]],
) -> None:
    """`record` for a batch (inbound texts written together): one INSERT for all the rows, not one each."""
    rows = [
        {
            "actor_id": actor.user_id if actor else None,
            "action": action,
            "record_type": record_type,
            "record_id": str(record_id),
            "remote_addr": actor.remote_addr if actor else None,
            "detail": detail,
        }
        for record_id, detail in entries
    ]
    if rows:
        await session.execute(insert(AuditEntry), rows)
