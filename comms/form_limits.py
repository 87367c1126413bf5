"""Rate limits on the patient's form endpoints, per client (comms/client_key.py: an IPv6 client by its
/64) and shared by every node: how many requests, uploads and requests with a link that is not valid
one client may make in a window.

Counted from small rows that live only for the window (the sweeper removes older ones). A refused
request writes nothing, so hammering the limit costs the store a read, not a write. Nodes counting at
the same moment may let a request or two past a limit: it is a brake on abuse, not an exact quota.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import delete, func, select

from comms.client_key import client_key
from comms.errors import RateLimited
from comms.form_models import FormHit
from comms.messaging import write_unit
from comms.models import utcnow
from comms.services import Services

MESSAGES = {
    "request": "Too many requests from your network. Please wait a few minutes, then try again.",
    "upload": "Too many uploads from your network. Please wait a few minutes, then try again.",
    "bad_link": "Too many tries with form links that are not valid. Please wait, or call the office.",
}


async def admit(services: Services, addr: str | None, *, upload: bool = False) -> None:
    """Count this request from `addr`, or refuse it (RateLimited, with when to retry) past a limit."""
    forms = services.settings.forms
    limits = {"request": forms.requests_per_address, "bad_link": forms.bad_links_per_address}
    if upload:
        limits["upload"] = forms.uploads_per_address
    now = utcnow()
    window = dt.timedelta(seconds=forms.rate_window_seconds)
    key = client_key(addr)
    async with write_unit(services) as unit:
        s = unit.session
        rows = await s.execute(
            select(FormHit.kind, func.count(), func.min(FormHit.at))
            .where(FormHit.addr == key, FormHit.kind.in_(list(limits)), FormHit.at > now - window)
            .group_by(FormHit.kind)
        )
        for kind, count, oldest in rows.all():
            if count >= limits[kind]:
                refused, first = kind, oldest
                break
        else:
            s.add(FormHit(addr=key, kind="request", at=now))
            if upload:
                s.add(FormHit(addr=key, kind="upload", at=now))
            return
    retry = max(1, math.ceil((first + window - now).total_seconds()))
    raise RateLimited(MESSAGES[refused], retry_after=retry)


async def bad_link(services: Services, addr: str | None) -> None:
    """A request came with a link that is not valid: it counts towards the tighter limit."""
    async with write_unit(services) as unit:
        unit.session.add(FormHit(addr=client_key(addr), kind="bad_link", at=utcnow()))


async def prune(services: Services) -> None:
    """Drop the rows no window counts any more."""
    cutoff = utcnow() - dt.timedelta(seconds=services.settings.forms.rate_window_seconds)
    async with write_unit(services) as unit:
        await unit.session.execute(delete(FormHit).where(FormHit.at <= cutoff))
