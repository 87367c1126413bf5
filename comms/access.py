"""Who is acting, and what they may see: every staff access passes through here."""

from __future__ import annotations

from dataclasses import dataclass

from comms.errors import Forbidden, NotFound
from routing.audience import Viewer


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated staff member making a request, with where it came from (for the audit log)."""

    user_id: int
    practice_id: int
    role: str
    locations: frozenset[int] | None  # None: an admin, every location
    session_id: str
    remote_addr: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, location_id: int) -> bool:
        return self.locations is None or location_id in self.locations

    def require_location(self, location_id: int) -> None:
        """Not found rather than forbidden, so ids of other locations' records reveal nothing."""
        if not self.may_see(location_id):
            raise NotFound("no such record")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this needs an administrator")

    def viewer(self) -> Viewer:
        return Viewer(self.user_id, self.session_id, self.locations)
