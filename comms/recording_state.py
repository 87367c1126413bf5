"""A live call's recording state, for the softphone: is it recorded, and is the recording paused now.

Read from the call's route (no column of its own). Every recording the carrier makes starts unpaused:
the answered <Dial>'s, a cold transfer's new <Dial>'s, the conference's once a held call moves there;
a staff pause or resume applies to the one in progress. Recording callbacks are not state changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from comms.models import utcnow
from comms.voice_models import Call
from comms.voice_setup import config_of
from config.settings import RecordingSettings

STARTED = "started"  # the route detail that marks a recording beginning (answer, conference)


def _changes(call: Call) -> list[dict[str, Any]]:
    """Recording steps that change its state: started by the carrier, paused or resumed by staff."""
    return [
        s
        for s in call.route or []
        if isinstance(s, dict) and s.get("step") == "recording" and (STARTED in s or "by" in s)
    ]


def recording_state(call: Call) -> tuple[bool, bool]:
    """(recorded as it happens, paused right now); never paused once the call has ended."""
    changes = _changes(call)
    if not changes:
        return False, False
    return True, call.ended_at is None and changes[-1].get("status") == "paused"


def note_started(call: Call, where: str) -> None:
    """A new recording of this recorded call began (it starts unpaused)."""
    if _changes(call):
        _add(call, where)


async def note_answered(session: AsyncSession, call: Call, practice: RecordingSettings) -> None:
    """The call was answered on a recording <Dial> (its location's choice, or the practice's): the
    recording runs from now. Not in a conference, whose own recording goes on (paused or not)."""
    if call.conference is not None or call.ended_at is not None:
        return
    config = await config_of(session, call.location_id)
    if config.with_recording(practice.enabled, practice.announcement).record_calls:
        _add(call, "answer")


def _add(call: Call, where: str) -> None:
    step = {"step": "recording", "at": utcnow().isoformat(), "status": "in-progress", STARTED: where}
    call.route = [*(call.route or []), step]  # reassigned, so the JSON column sees the change
