"""The accounting worker: reads the switch's outbox in order and posts it to the ledger.

It runs beside the transaction path, never inside it (DESIGN.md): in-process as a task by default,
or as its own process (`payswitch accounting run`). Its cursor is committed with the entries, so a
crash between reading the outbox and committing re-reads the same page and posts it once.

The books may split the outbox by currency (`Books.partitions`): each partition has its own
cursor, and the worker posts those it is given (all, unless a cluster gives it its share).

Position alerts: `subscribe_alerts(callback)` hears of every threshold crossing once, in order,
whoever posted the entry that crossed it (this worker, another one, an operator's adjustment):
crossings are recorded with their entry (`acct_alerts`) and read from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from accounting.config import Books, Partition
from accounting.core import Alert, Plan, PostResult, gc_paused
from accounting.ledger import Ahead, Ledger, OutboxEventLike, open_ledger
from switch import crashpoints
from switch.clock import Clock, iso

log = logging.getLogger("payswitch.accounting")

CONSUMER = "accounting"
_LAG_CAP = 100_000  # lag is counted by reading ids; beyond this it reports "at least"
_PLAN_SLICE = 100  # events planned between two turns of the event loop (~0.4 ms: the
# page being written waits for the loop between its statements; see ledger._AHEAD_SLICE)
_GC_PAGES = 8  # pages between two collections of the young generations
_FIRST_PAGE = 4  # the first page of a run is this fraction of a page

AlertCallback = Callable[[Alert], object]  # may return an awaitable, which is awaited


class Outbox(Protocol):
    """The part of the switch's Store the worker uses: `outbox_after` to post, and
    `outbox_count_after` to report lag."""

    url: str

    async def outbox_after(self, event_id: int, limit: int) -> Sequence[OutboxEventLike]: ...

    async def outbox_count_after(self, event_id: int, cap: int) -> int: ...


class AccountingWorker:
    """Posts the outbox to the ledger; `ledger` defaults to one in the store's own database."""

    def __init__(self, store: Outbox, clock: Clock, ledger: Ledger | None = None, *,
                 books: Books | None = None, batch: int = 10_000, idle_s: float = 0.05,
                 consumer: str = CONSUMER, refresh_s: float = 1.0) -> None:
        self.store = store
        self.clock = clock
        self.ledger = ledger if ledger is not None else open_ledger(store.url, books)
        self._own_ledger = ledger is None
        self.batch = batch
        self.idle_s = idle_s
        self.refresh_s = refresh_s  # when idle: how often to look for others' postings
        self.consumer = consumer
        self.partitions = self.ledger.books.partitions(consumer)
        self.posting = [p.consumer for p in self.partitions]  # the ones `run` posts
        self.conflicts: list[PostResult] = []  # replays with different content: never applied
        # (channel, currency) -> available position, refreshed after every posted page, so the
        # router can read it without I/O (routing must not do I/O: DESIGN.md layout)
        self.positions: dict[tuple[str, str], int] = {}
        # The outbox event id the books had posted up to, read just before the positions: they
        # reflect at least that much (what routing's reservations are counted against).
        self.positions_as_of = 0
        self._subscribers: list[AlertCallback] = []
        self._alert_cursor = 0
        self._refreshed = 0.0
        self._opened = False
        self._opening = asyncio.Lock()  # lag() and the run task may both be first to open
        self._refreshing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        async with self._opening:
            if self._opened:
                return
            if self._own_ledger:
                await self.ledger.open()
            await self.ledger.set_consumers(self.consumer, [p.consumer for p in self.partitions])
            await self._read_positions()
            # subscribers hear of crossings from now on, not of the ledger's history
            self._alert_cursor = await self.ledger.last_alert_id()
            self._opened = True

    def available_position(self, channel: str, currency: str) -> int | None:
        """The channel's available position as of the last posted page (no I/O)."""
        return self.positions.get((channel, currency))

    def subscribe_alerts(self, callback: AlertCallback) -> Callable[[], None]:
        """Call `callback(alert)` once for each position threshold crossing committed after the
        worker opened, oldest first, whoever posted it. Returns a function that unsubscribes.

        Crossings of this worker's pages are delivered right after the page commits; others'
        within `refresh_s` while the worker is idle. A failing callback is logged, not retried,
        and does not stop the books. `Alert.alert_id` tells a redelivery after a restart
        (which starts from the newest crossing) from a new one.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    async def post_available(self) -> int:
        """Post everything in the outbox of the partitions in `posting` now; returns how many
        outbox events that went through (the most any of them read: each reads them all)."""
        await self.open()
        read = 0
        for p in self.partitions:
            if p.consumer in self.posting:
                read = max(read, await self._post_partition(p))
        return read

    async def _post_partition(self, partition: Partition) -> int:
        """Post the partition's events up to the end of the outbox.

        Pipelined: while one page is written to the ledger, the next is read from the outbox,
        planned (the rules are pure) and, where the ledger can, applied ahead on the state the
        page being written leaves; so the engine's Python work overlaps the database's.
        """
        total = 0
        stale = False  # a page posted since positions and alerts were last read
        consumer = partition.consumer
        cursor = await self.ledger.cursor(consumer)
        # a short first page: nothing overlaps it, and the pipeline fills sooner
        events = await self.store.outbox_after(cursor, max(1, self.batch // _FIRST_PAGE))
        plans = await self._plan(events, partition)
        ahead: Ahead | None = None
        # The cyclic GC would walk the pages' many fresh objects (they make no cycles), so it
        # is paused for the call; the rest of the process may make cycles: a young-generation
        # collection every _GC_PAGES pages keeps them from piling up.
        with gc_paused():
            pages = 0
            # The page last written, kept until the next one is being written: freeing a page's
            # hundred thousand objects takes ~8 ms, which between two pages leaves the server idle.
            written: list[object] = []
            while events:
                upto = events[-1].event_id
                # the cursor passes the page's other partitions' events too
                posting = self.ledger.begin(plans, consumer=consumer, upto=upto, ahead=ahead)
                try:
                    following = await self.store.outbox_after(upto, self.batch)
                    following_plans = await self._plan(following, partition)
                    written.clear()  # while the server takes in this page's postings
                    ahead = await self.ledger.prepare(following_plans, after=posting)
                    if stale:
                        await self.refresh()
                except Exception:
                    # the page being written commits or fails before the reading error surfaces
                    with contextlib.suppress(Exception):
                        self._posted(await posting)
                    raise
                except BaseException:  # stopping: the page's transaction rolls back
                    posting.cancel()
                    with contextlib.suppress(BaseException):
                        await posting
                    raise
                results = await posting
                crashpoints.reach("post")
                stale = self._posted(results) or stale
                total += len(events)
                written[:] = (posting, events, plans, results)
                events, plans = following, following_plans
                pages += 1
                if pages % _GC_PAGES == 0:
                    gc.collect(1)
        if stale:
            await self.refresh()
        return total

    async def _plan(self, events: Sequence[OutboxEventLike], partition: Partition) -> list[Plan]:
        # In slices, so the page being written gets the event loop between them.
        at = iso(self.clock.now())
        if len(self.partitions) > 1:
            events = [e for e in events if partition.owns(e.body.get("currency"))]
        plans: list[Plan] = []
        for i in range(0, len(events), _PLAN_SLICE):
            if i:
                await asyncio.sleep(0)
            plans += self.ledger.plan(events[i:i + _PLAN_SLICE], at)
        return plans

    def _posted(self, results: list[PostResult]) -> bool:
        for r in results:
            if r.status == "conflict":
                # An outbox id reused with other content: the books keep the original.
                log.error("event %s conflicts with its earlier posting: %s", r.key, r.code)
                self.conflicts.append(r)
            elif r.status == "rejected":
                log.warning("event %s not posted: %s (entry %s)", r.key, r.code, r.entry_id)
        return any(r.status == "posted" for r in results)

    async def refresh(self) -> None:
        """Read the positions and deliver the crossings committed since the last time (the
        worker does this after its pages, and every `refresh_s` when idle)."""
        await self.open()
        async with self._refreshing:  # two refreshes at once would deliver a crossing twice
            self._refreshed = time.monotonic()
            await self._read_positions()
            while alerts := await self.ledger.alerts(self._alert_cursor):
                for a in alerts:
                    self._alert_cursor = a.alert_id or self._alert_cursor
                    for callback in list(self._subscribers):
                        try:
                            result = callback(a)
                            if inspect.isawaitable(result):
                                await result
                        except Exception:  # an alert consumer must not stop the books
                            log.exception("alert subscriber failed on %s", a)

    async def _read_positions(self) -> None:
        as_of = await self.posted_up_to()
        self.positions = await self.ledger.positions()
        self.positions_as_of = as_of

    async def posted_up_to(self) -> int:
        """The outbox event id up to which every partition has posted (the slowest cursor)."""
        return min([await self.ledger.cursor(p.consumer) for p in self.partitions])

    async def lag(self) -> int:
        """Committed outbox events not yet posted by every partition (counted up to a cap).
        Counted directly, not through `outbox_after`: a reader holds back below a gap another
        transaction may still fill, and lag that stopped at that gap would read 0 while events
        wait."""
        await self.open()
        return await self.store.outbox_count_after(await self.posted_up_to(), _LAG_CAP)

    async def run(self) -> None:
        while True:
            try:
                if not await self.post_available():
                    if time.monotonic() - self._refreshed >= self.refresh_s:
                        await self.refresh()  # others' postings: adjustments, other workers
                    await asyncio.sleep(self.idle_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("posting failed; retrying")
                await asyncio.sleep(1.0)

    async def follow(self) -> None:
        """Post nothing; read the positions and alerts others post every `refresh_s` (a
        worker of a cluster while others hold the leases of the partitions)."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the books failed; retrying")
            await asyncio.sleep(self.refresh_s)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, *, partitions: Sequence[str] | None = None) -> None:
        """Run in the background: posting (`run`) the named partitions (default: all), or with
        none named following others' postings (`follow`). One task at a time: `stop` the
        running one first."""
        if self.running:
            raise RuntimeError("the accounting worker is already running")
        names = [p.consumer for p in self.partitions]
        self.posting = [n for n in names if partitions is None or n in partitions]
        work = self.run() if self.posting else self.follow()
        self._task = asyncio.get_running_loop().create_task(work, name="accounting-worker")

    async def stop(self, *, close: bool = True) -> None:
        """Stop the background task; with ``close`` False the ledger stays open (a worker
        changing from following to posting, or back)."""
        task = self._task
        if task is not None:
            task.cancel()
            # Waited for without taking its CancelledError: a caller cancelled meanwhile (a
            # lease change at shutdown) must stop too, and the task stays ours until it has
            # ended, so the ledger is never closed under it.
            await asyncio.wait({task})
            if self._task is task:
                self._task = None
        if close and self._own_ledger:
            # Also when the task was stopped while it opened the ledger (a switch stopped soon
            # after its start): the pool, or the SQLite file's thread, it had by then would be
            # left open, holding a cancelled query's locks, and nothing else closes it.
            await self.ledger.close()
            self._opened = False
