"""The event bus: one interface, an in-process implementation and a Redis Streams one for many nodes.

Event ids increase by one per event across the whole deployment, so a gap in what a client saw is
detectable: `since(last_id)` either returns exactly the missed events or None ("resync").
Ids start from the clock in microseconds, so ids issued after a restart (or a Redis flush) are always
above any id a client saw before it, and an old id is answered with a resync, never with wrong events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from routing.audience import Audience

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BusEvent:
    """An event as it travels: id, audience, and the client frame serialized once."""

    id: int
    audience: Audience
    type: str
    frame: str

    @classmethod
    def build(cls, event_id: int, audience: Audience, body: Mapping[str, Any]) -> BusEvent:
        frame = json.dumps({"type": "event", "id": event_id, "event": body}, separators=(",", ":"))
        return cls(event_id, audience, str(body["type"]), frame)


Listener = Callable[[BusEvent], None]


def _clock_start() -> int:
    return time.time_ns() // 1000


class Bus(Protocol):
    """What actions publish to and what the hub listens on."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, body: Mapping[str, Any], audience: Audience) -> int: ...
    def listen(self, listener: Listener) -> None: ...
    async def since(self, last_id: int) -> list[BusEvent] | None: ...
    async def latest_id(self) -> int: ...
    async def healthy(self) -> bool: ...


def _gapless(events: list[BusEvent], last_id: int, latest: int) -> list[BusEvent] | None:
    """The replay if it starts right after last_id and reaches latest; None when a gap must resync."""
    if last_id > latest:
        return None
    if last_id == latest:
        return []
    if not events or events[0].id != last_id + 1:
        return None
    return events


class _Listeners:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def deliver(self, event: BusEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("bus listener failed on event %s (%s)", event.id, event.type)


class InProcessBus(_Listeners):
    """The single-node default: delivery is a function call; a ring buffer serves resuming clients."""

    def __init__(self, retention: int = 10_000) -> None:
        super().__init__()
        self._buffer: deque[BusEvent] = deque(maxlen=retention)
        self._latest = _clock_start()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, body: Mapping[str, Any], audience: Audience) -> int:
        self._latest += 1
        event = BusEvent.build(self._latest, audience, body)
        self._buffer.append(event)
        self.deliver(event)
        return event.id

    async def since(self, last_id: int) -> list[BusEvent] | None:
        # Ids here are consecutive, so the missed events are the newest `latest - last_id`: read from
        # the newest end (a reconnect storm asks once per socket; scanning all retained events each
        # time cost seconds at 3,000 sockets).
        missed = self._latest - last_id
        if missed <= 0 or missed > len(self._buffer):
            return _gapless([e for e in self._buffer if e.id > last_id], last_id, self._latest)
        newest = list(itertools.islice(reversed(self._buffer), missed))
        newest.reverse()
        return _gapless(newest, last_id, self._latest)

    async def latest_id(self) -> int:
        return self._latest

    async def healthy(self) -> bool:
        return True


# INCR and XADD in one script: ids are consecutive in the stream, so any gap means trimmed history.
_PUBLISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[3]) end
local id = redis.call('INCR', KEYS[1])
local sid = string.format('%d-1', id)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], sid, 'a', ARGV[4], 'b', ARGV[1])
return sid
"""


class RedisBus(_Listeners):
    """Many nodes: events go into one Redis stream; every node reads it and feeds its own hub."""

    def __init__(self, url: str, stream_key: str, retention: int = 10_000) -> None:
        super().__init__()
        import redis.asyncio as aioredis

        # Typed as Any: redis-py's stubs cannot know decode_responses=True makes every reply a str.
        self._redis: Any = aioredis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
        self._reader: Any = aioredis.Redis.from_url(url, decode_responses=True)
        self._seq_key = f"{stream_key}:seq"
        self._stream = stream_key
        self._retention = retention
        self._task: asyncio.Task[None] | None = None
        self._script = self._redis.register_script(_PUBLISH)

    async def start(self) -> None:
        await self._redis.ping()
        newest = await self._redis.xrevrange(self._stream, count=1)
        cursor = newest[0][0] if newest else "0-0"
        self._task = asyncio.create_task(self._read_forever(cursor), name="redis-bus-reader")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._reader.aclose()
        await self._redis.aclose()

    async def publish(self, body: Mapping[str, Any], audience: Audience) -> int:
        payload = json.dumps(dict(body), separators=(",", ":"))
        sid = await self._script(
            keys=[self._seq_key, self._stream],
            args=[payload, self._retention, _clock_start(), json.dumps(audience.to_json())],
        )
        return int(str(sid).split("-", 1)[0])

    async def since(self, last_id: int) -> list[BusEvent] | None:
        entries = await self._redis.xrange(self._stream, min=f"{last_id + 1}-0")
        latest = await self.latest_id()
        return _gapless([self._decode(sid, fields) for sid, fields in entries], last_id, latest)

    async def latest_id(self) -> int:
        value = await self._redis.get(self._seq_key)
        return int(value) if value else 0

    async def healthy(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    @staticmethod
    def _decode(sid: str, fields: dict[str, str]) -> BusEvent:
        event_id = int(sid.split("-", 1)[0])
        return BusEvent.build(event_id, Audience.from_json(json.loads(fields["a"])), json.loads(fields["b"]))

    async def _read_forever(self, cursor: str) -> None:
        """Follow the stream from where this node started; on a Redis error, back off and go on."""
        backoff = 0.1
        while True:
            try:
                batches = await self._reader.xread({self._stream: cursor}, block=5000, count=500)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event bus: reading Redis failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            for _stream, entries in batches or ():
                for sid, fields in entries:
                    cursor = sid
                    try:
                        event = self._decode(sid, fields)
                    except (KeyError, ValueError):
                        log.error("event bus: dropping undecodable stream entry %s", sid)
                        continue
                    self.deliver(event)


def make_bus(redis_url: str | None, stream_key: str, retention: int) -> Bus:
    """Redis when configured, in-process otherwise: the same interface either way."""
    if redis_url:
        return RedisBus(redis_url, stream_key, retention)
    return InProcessBus(retention)
