"""The accounting worker: reads the switch's outbox in order and posts it to the ledger.

It runs beside the transaction path, never inside it (DESIGN.md): in-process as a task by default,
or as its own process (`payswitch accounting run`). Its cursor is committed with the entries, so a
crash between reading the outbox and committing re-reads the same page and posts it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from accounting.config import Books
from accounting.core import PostResult
from accounting.ledger import Ledger, OutboxEventLike, open_ledger
from switch import crashpoints
from switch.clock import Clock, iso

log = logging.getLogger("payswitch.accounting")

CONSUMER = "accounting"
_LAG_CAP = 100_000  # lag is counted by reading ids; beyond this it reports "at least"


class Outbox(Protocol):
    """The part of the switch's Store the worker uses: `outbox_after` is the whole contract."""

    url: str

    async def outbox_after(self, event_id: int, limit: int) -> Sequence[OutboxEventLike]: ...


class AccountingWorker:
    """Posts the outbox to the ledger; `ledger` defaults to one in the store's own database."""

    def __init__(self, store: Outbox, clock: Clock, ledger: Ledger | None = None, *,
                 books: Books | None = None, batch: int = 10_000, idle_s: float = 0.05,
                 consumer: str = CONSUMER) -> None:
        self.store = store
        self.clock = clock
        self.ledger = ledger if ledger is not None else open_ledger(store.url, books)
        self._own_ledger = ledger is None
        self.batch = batch
        self.idle_s = idle_s
        self.consumer = consumer
        self.conflicts: list[PostResult] = []  # replays with different content: never applied
        # (channel, currency) -> available position, refreshed after every posted page, so the
        # router can read it without I/O (routing must not do I/O: DESIGN.md layout)
        self.positions: dict[tuple[str, str], int] = {}
        self._opened = False
        self._opening = asyncio.Lock()  # lag() and the run task may both be first to open
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        async with self._opening:
            if self._opened:
                return
            if self._own_ledger:
                await self.ledger.open()
            self.positions = await self.ledger.positions()
            self._opened = True

    def available_position(self, channel: str, currency: str) -> int | None:
        """The channel's available position as of the last posted page (no I/O)."""
        return self.positions.get((channel, currency))

    async def post_available(self) -> int:
        """Post everything in the outbox now; returns how many events were read."""
        await self.open()
        total = 0
        cursor = await self.ledger.cursor(self.consumer)
        while True:
            events = await self.store.outbox_after(cursor, self.batch)
            if not events:
                return total
            results = await self.ledger.post_events(
                events, iso(self.clock.now()), consumer=self.consumer, upto=events[-1].event_id)
            crashpoints.reach("post")
            for r in results:
                if r.status == "conflict":
                    # An outbox id reused with other content: the books keep the original.
                    log.error("event %s conflicts with its earlier posting: %s", r.key, r.code)
                    self.conflicts.append(r)
                elif r.status == "rejected":
                    log.warning("event %s not posted: %s (entry %s)", r.key, r.code, r.entry_id)
            cursor = events[-1].event_id
            total += len(events)
            if any(r.status == "posted" for r in results):
                self.positions = await self.ledger.positions()

    async def lag(self) -> int:
        """Outbox events not yet posted (counted up to a cap)."""
        await self.open()
        cursor = await self.ledger.cursor(self.consumer)
        n = 0
        while n < _LAG_CAP:
            page = await self.store.outbox_after(cursor, 10_000)
            if not page:
                break
            n += len(page)
            cursor = page[-1].event_id
        return n

    async def run(self) -> None:
        while True:
            try:
                if not await self.post_available():
                    await asyncio.sleep(self.idle_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("posting failed; retrying")
                await asyncio.sleep(1.0)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="accounting-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._own_ledger and self._opened:
            await self.ledger.close()
            self._opened = False
