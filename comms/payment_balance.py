"""The open balance in the call pop: what the caller still owes at the locations the ringing staff see."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.payment_models import LISTED_OPEN, PaymentRequest
from comms.payment_state import balance, clearing_by_request
from schemas.voice import Caller


def money(cents: int, currency: str) -> str:
    return f"${cents / 100:,.2f}" if currency == "usd" else f"{cents / 100:,.2f} {currency.upper()}"


def label(cents: int, currency: str, count: int) -> str:
    return f"{money(cents, currency)} open ({count} request{'s' if count != 1 else ''})"


async def caller_balance(session: AsyncSession, caller: Caller) -> None:
    """Fill `caller.balance` from the open requests at the conversations the pop already lists (those
    are exactly the ones the ringing staff may see), with bank debits still clearing said apart (neither
    owed nor paid yet); nothing when nothing is owed or clearing."""
    conversation_ids = [
        int(str(c["id"])) for c in caller.conversations if c.get("contact_id") == caller.contact_id
    ]
    if not conversation_ids:
        return
    rows = list(
        await session.scalars(
            select(PaymentRequest).where(
                PaymentRequest.conversation_id.in_(conversation_ids), PaymentRequest.status.in_(LISTED_OPEN)
            )
        )
    )
    owing = [r for r in rows if balance(r) > 0]
    cents = sum(balance(r) for r in owing)
    clearing = await clearing_by_request(session, [r.id for r in rows if r.status == "processing"])
    clearing_cents = sum(clearing.values())
    if cents <= 0 and clearing_cents <= 0:
        return
    currency = rows[0].currency
    caller.balance = {
        "open_cents": cents,
        "currency": currency,
        "open_requests": len(owing),
        "label": label(cents, currency, len(owing)) if cents > 0 else "nothing open",
        "clearing_cents": clearing_cents,
        "clearing_requests": len(clearing),
        "clearing_label": f"clearing: {money(clearing_cents, currency)}" if clearing_cents else "",
    }
