"""Who may receive an event: the staff of some locations, named staff, every staff member, or a session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

AudienceKind = Literal["locations", "staff", "practice", "sessions"]


@dataclass(frozen=True, slots=True)
class Audience:
    """A routing rule small enough to travel with each event across nodes."""

    kind: AudienceKind
    ids: frozenset[int | str] = frozenset()

    @classmethod
    def location(cls, location_id: int) -> Audience:
        return cls("locations", frozenset({location_id}))

    @classmethod
    def staff(cls, *user_ids: int) -> Audience:
        return cls("staff", frozenset(user_ids))

    @classmethod
    def practice(cls) -> Audience:
        return cls("practice")

    @classmethod
    def session(cls, session_id: str) -> Audience:
        return cls("sessions", frozenset({session_id}))

    def admits(self, viewer: Viewer) -> bool:
        """True when this viewer may receive the event (minimum necessary: nobody else does)."""
        if self.kind == "practice":
            return True
        if self.kind == "staff":
            return viewer.user_id in self.ids
        if self.kind == "sessions":
            return viewer.session_id in self.ids
        if viewer.locations is None:
            return True
        return not viewer.locations.isdisjoint(self.ids)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ids": sorted(self.ids, key=str)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(data["kind"], frozenset(data.get("ids", ())))


@dataclass(frozen=True, slots=True)
class Viewer:
    """What the hub knows of a connected staff member: enough to apply audiences, nothing more."""

    user_id: int
    session_id: str
    locations: frozenset[int] | None  # None: an admin, who sees every location
