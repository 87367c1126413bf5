"""The open balance in the call pop: what the caller still owes at the locations the ringing staff see."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.payment_models import OPEN_STATUSES, PaymentRequest
from comms.payment_state import balance
from schemas.voice import Caller


def label(cents: int, currency: str, count: int) -> str:
    amount = f"${cents / 100:,.2f}" if currency == "usd" else f"{cents / 100:,.2f} {currency.upper()}"
    return f"{amount} open ({count} request{'s' if count != 1 else ''})"


async def caller_balance(session: AsyncSession, caller: Caller) -> None:
    """Fill `caller.balance` from the open requests at the conversations the pop already lists (those
    are exactly the ones the ringing staff may see); nothing when nothing is owed."""
    conversation_ids = [
        int(str(c["id"])) for c in caller.conversations if c.get("contact_id") == caller.contact_id
    ]
    if not conversation_ids:
        return
    rows = list(
        await session.scalars(
            select(PaymentRequest).where(
                PaymentRequest.conversation_id.in_(conversation_ids), PaymentRequest.status.in_(OPEN_STATUSES)
            )
        )
    )
    cents = sum(balance(r) for r in rows)
    if cents <= 0:
        return
    currency = rows[0].currency
    caller.balance = {
        "open_cents": cents,
        "currency": currency,
        "open_requests": len(rows),
        "label": label(cents, currency, len(rows)),
    }
