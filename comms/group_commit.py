"""Group commit: work that arrives while a batch is being written waits, then goes in the next batch.

One caller alone is written at once (no added delay); under a burst, many are written in one
transaction instead of one each, which is most of what a webhook costs on SQLite.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Feeds `write` batches of at most `most` items, in arrival order; each caller gets its result.

    `write` returns one result per item, in order: a value, or an exception for that item alone.
    """

    def __init__(self, write: Callable[[list[T]], Awaitable[list[R | Exception]]], most: int) -> None:
        self._write = write
        self._most = most
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Wait for this item's batch to be written; its result, or its exception raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
                try:
                    results = await self._write([item for item, _ in batch])
                except Exception as exc:  # `write` failed as a whole: every caller hears it
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue  # its caller went away
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        except asyncio.CancelledError:  # shutting down: nobody waits forever
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            raise


class PerStore(Generic[T, R]):
    """One `GroupCommit` per event loop and store: batches never mix two databases (tests run many),
    and a batcher never outlives its loop."""

    def __init__(self, most: int) -> None:
        self._most = most
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, GroupCommit[T, R]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(
        self, store: object, write: Callable[[list[T]], Awaitable[list[R | Exception]]]
    ) -> GroupCommit[T, R]:
        """The batcher for this store (its sessionmaker) on the running loop; `write` makes a new one."""
        per_loop = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        batcher = per_loop.get(id(store))
        if batcher is None:
            batcher = per_loop[id(store)] = GroupCommit(write, self._most)
        return batcher
