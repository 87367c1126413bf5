"""Voicemail and call recordings: the carrier's recording becomes a timeline item with its audio
(fetched once, served only to staff) and, for voicemail, the transcription as the item's text.

The recording and the transcription callbacks can come in either order, or twice: both go through
`_ensure`, keyed by the RecordingSid.
"""

from __future__ import annotations

from sqlalchemy import select

from comms import audit
from comms.calls import add_step, announce, find
from comms.messaging import publish_update
from comms.models import Conversation, Media, TimelineItem
from comms.services import Services, Unit
from comms.timeline import add_item
from comms.voice_models import Call, Recording
from schemas.voice import VoiceWebhook

AUDIO_TYPE = "audio/wav"


async def _ensure(unit: Unit, call: Call, recording_sid: str, kind: str) -> tuple[Recording, TimelineItem]:
    """The recording's row and the item it belongs to (a new voicemail item, or the call's own)."""
    s = unit.session
    rec = await s.scalar(select(Recording).where(Recording.recording_sid == recording_sid))
    if rec is not None and rec.item_id is not None:
        item = await s.get(TimelineItem, rec.item_id, with_for_update=True, populate_existing=True)
        if item is not None:
            return rec, item
    if kind == "call" and call.item_id is not None:
        # Locked and read afresh: the media fetcher may be marking this item's other recording stored.
        item = await s.get(TimelineItem, call.item_id, with_for_update=True, populate_existing=True)
        if item is None:
            raise LookupError("the call's item is gone")
    else:
        conversation = await s.get(Conversation, call.conversation_id)
        if conversation is None:
            raise LookupError("the call's conversation is gone")
        out = await add_item(
            unit,
            conversation,
            TimelineItem(
                kind="voicemail",
                direction="in",
                status="received",
                body="",
                meta={"call_id": call.id, "transcription": "pending", "media": []},
            ),
        )
        found = await s.get(TimelineItem, out.id)
        assert found is not None
        item = found
    if rec is None:
        rec = Recording(recording_sid=recording_sid, call_id=call.id, kind=kind, item_id=item.id)
        s.add(rec)
    else:
        rec.item_id = item.id
    await s.flush()
    return rec, item


async def _recorded_call(unit: Unit, call_id: int, call_sid: str) -> Call | None:
    """The call a recording belongs to: by our id, the carrier's sid, or (a call taken from the queue,
    recorded on the staff softphone's <Dial>) the leg that answered it."""
    call = await find(unit.session, call_id, call_sid)
    if call is None and call_sid:
        call = await unit.session.scalar(
            select(Call).where(Call.answered_leg_sid == call_sid).with_for_update()
        )
    return call


async def recording(services: Services, call_id: int, hook: VoiceWebhook, kind: str) -> int | None:
    """A finished recording: keep its audio (the media fetcher downloads it); returns the new media's id.

    Repeats and late arrivals change nothing: the RecordingSid is unique, and a recording that already
    has its media is done (an "in-progress" after "completed" only notes the step).
    """
    if not hook.recording_sid:
        return None
    async with services.unit() as unit:
        s = unit.session
        call = await _recorded_call(unit, call_id, hook.call_sid)
        if call is None:
            return None
        if hook.recording_status not in (None, "", "completed"):
            add_step(call, "recording", status=hook.recording_status)
            await announce(unit, call)
            return None
        rec, item = await _ensure(unit, call, hook.recording_sid, "call" if kind == "call" else "voicemail")
        if rec.media_id is not None:
            return None  # Twilio's retry, or a second node's copy of the same callback
        rec.duration_seconds = hook.recording_duration
        media_id = None
        if hook.recording_url:
            row = Media(
                item_id=item.id,
                position=len(item.meta.get("media", [])),
                source_url=hook.recording_url + ".wav",
                content_type=AUDIO_TYPE,
            )
            s.add(row)
            await s.flush()
            rec.media_id = media_id = row.id
            entry = {"id": row.id, "content_type": AUDIO_TYPE, "state": "pending"}
            meta = {
                **item.meta,
                "media": [*item.meta.get("media", []), {**entry, "duration": rec.duration_seconds}],
            }
            if rec.kind == "voicemail":
                meta["duration"] = hook.recording_duration  # a call item's duration is the call's own
            item.meta = meta
        if rec.kind == "voicemail" and call.outcome in ("missed", "abandoned"):
            call.outcome = "voicemail"  # the call ended before its recording arrived
        elif rec.kind == "call":
            call.recorded = True
        audit.record(s, None, "receive", "recording", rec.id, {"kind": rec.kind})
        await publish_update(unit, item)
        await announce(unit, call)
        return media_id


async def transcription(services: Services, call_id: int, hook: VoiceWebhook) -> bool:
    """A voicemail's words: the item's text, so staff read it without listening and search finds it."""
    if not hook.recording_sid:
        return False
    async with services.unit() as unit:
        call = await find(unit.session, call_id, hook.call_sid)
        if call is None:
            return False
        rec, item = await _ensure(unit, call, hook.recording_sid, "voicemail")
        status = "completed" if hook.transcription_status == "completed" else "failed"
        if item.meta.get("transcription") == "completed":
            return False  # a repeat
        rec.transcription_status = status
        if status == "completed":
            item.body = (hook.transcription_text or "").strip()
        item.meta = {**item.meta, "transcription": status}
        await publish_update(unit, item)
        return True
