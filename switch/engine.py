"""The payment state machine: one writer that drives every payment to a final state.

All inputs (new orders, channel answers, retries) go through one inbox. Each turn takes what has
gathered, works out every state change in memory, writes them in ONE store transaction (group
commit) with their accounting events, and only then acts: acks, status pushes, channel sends.
One writer per process means no two changes to a payment ever race.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import ChainMap, deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from adapters.base import ChannelAdapter, ChannelError, ChannelStatus, Outcome
from messages.errors import MessageError
from routing.health import TECHNICAL_REASONS, CircuitBreaker, SuccessWindow
from routing.router import RouteDecision, Router
from routing.state import RoutingState
from switch import crashpoints
from switch.batching import BATCH_CLIENT, MEMBER_STATE, BatchDesk, OpenBatch, fee_shares
from switch.clock import Clock, Timer, iso
from switch.cluster import Cluster
from switch.logs import EVENTS, mask_account
from switch.metrics import NO_METRICS, NullMetrics
from switch.order import Order, Payment
from switch.states import TERMINAL, State, can_move
from switch.store import (
    BatchJoin,
    BatchResult,
    BatchRow,
    CapDelta,
    Event,
    IntakeError,
    NewPayment,
    PositionClaim,
    StandaloneEvent,
    Store,
    Transition,
    WriteBatch,
)
from switch.validation import Invalid, validate_order

log = logging.getLogger("payswitch.engine")

Publish = Callable[[Payment], None]

ChannelDay = tuple[str, date]
DebtorDay = tuple[str, str, date]
# States in which a routed payment holds its daily caps; leaving them for REJECTED or
# CANCELLED gives them back, SETTLED (and RETURNED after it) keeps them.
_HOLDING = frozenset({State.ROUTED, State.SCHEDULED, State.QUEUED_FOR_BATCH, State.BATCHED,
                      State.SUBMITTED, State.UNKNOWN})
_RELEASING = frozenset({State.REJECTED, State.CANCELLED})
_BATCH_ACTIVE = ("OPEN", "CLOSED", "ROUTED", "SUBMITTED", "UNKNOWN")  # batch rows not final


class _Accept(msgspec.Struct):
    client_id: str
    order: Order
    future: asyncio.Future[tuple[Payment, bool]]


class _Route(msgspec.Struct):
    payment: Payment


class _Resubmit(msgspec.Struct):
    payment_id: str


class _Inquire(msgspec.Struct):
    payment_id: str


class _IntakeFailure(msgspec.Struct):
    error: IntakeError
    future: asyncio.Future[None]


_INTAKE = (_Accept, _IntakeFailure)  # the inputs a client's SUBMIT put in the inbox


class EngineStats(msgspec.Struct):
    """Counters for operators and tests: how well group commit is grouping."""

    commits: int = 0  # store transactions
    accepts: int = 0  # orders written by them
    transitions: int = 0  # state changes written by them


class _SideEffects:
    """What to do once the batch is durable, in the order it must happen."""

    def __init__(self) -> None:
        self.publish: list[Payment] = []
        self.send: list[Payment] = []
        self.inquire: list[Payment] = []
        self.route: list[Payment] = []

    def drop(self, payment_ids: set[str]) -> None:
        for name in ("publish", "send", "inquire"):
            setattr(self, name, [p for p in getattr(self, name) if p.payment_id not in payment_ids])


class _Turn:
    """One turn of the writer: the store batch it builds, the states it stages, what to do
    once it is durable, and how to undo its in-memory planning if it is not."""

    def __init__(self, engine: PaymentEngine, now: str) -> None:
        self.engine = engine
        self.now = now
        self.batch = WriteBatch()
        self.staged: dict[str, Payment] = {}  # state as of this batch, per payment touched
        self.effects = _SideEffects()
        self.accept_items: list[_Accept | None] = []  # per batch.accepts: None for a batch's
        self.unborn: set[str] = set()  # new payments queued for a batch in this very turn
        self.outside: dict[str, Payment] = {}  # final payments a turn moves again (returns)
        self.after: list[Callable[[], None]] = []  # once durable
        self.undo: list[Callable[[], None]] = []  # if it is not
        # inputs to plan again if the store refuses the move they led to (a fallback route
        # whose caps or position another process took meanwhile)
        self.again: dict[str, object] = {}

    def current(self, pid: str) -> Payment | None:
        return self.staged.get(pid) or self.engine._live.get(pid) or self.outside.get(pid)

    def move(self, p: Payment, to: State, cause: str, *, reason: str | None = None,
             channel: str | None = None, fee: int | None = None,
             business_date: str | None = None, caps: tuple[CapDelta, ...] = (),
             events: tuple[Event, ...] = (), decision: RouteDecision | None = None,
             expected_at: str | None = None) -> Payment:
        if not can_move(State(p.state), to):
            raise RuntimeError(f"illegal move {p.state} -> {to} for {p.payment_id}")
        batch_payment = p.client_id == BATCH_CLIENT
        if to in _RELEASING:
            caps = (*caps, *_release(p))
        if batch_payment:
            events = ()  # a batch books through its members and batch.settled
        # A batch's payment claims no position: its members did, each for its own amount.
        position = (self.engine._claim(p, channel)
                    if to == State.ROUTED and channel is not None and not batch_payment else None)
        self.batch.transitions.append(Transition(
            payment_id=p.payment_id, from_state=p.state, to_state=to, at=self.now, cause=cause,
            reason=reason, channel=channel, fee=fee, business_date=business_date,
            events=events, caps=caps, position=position,
            route_decision=None if decision is None else decision.encode(),
        ))
        self.engine._plan_caps(caps)
        moved = msgspec.structs.replace(
            p, state=to.value, reason=reason, updated_at=self.now,
            channel=channel if channel is not None else p.channel,
            fee=fee if fee is not None else p.fee,
            business_date=business_date if business_date is not None else p.business_date,
            expected_at=expected_at,
        )
        self.staged[p.payment_id] = moved
        if p.payment_id not in self.unborn:  # a queued order's ACK says it all
            self.effects.publish.append(moved)
        if batch_payment:
            self.engine._follow_batch(self, moved, cause)
        return moved


class PaymentEngine:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        router: Router,
        adapters: dict[str, ChannelAdapter],
        batch_max: int = 2000,
        retry_delay_s: float = 1.0,
        inquiry_delay_s: float = 1.0,
        inquiry_backoff_cap_s: float = 300.0,
        batching: BatchDesk | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.router = router
        self.adapters = adapters
        self.batch_max = batch_max
        self.retry_delay_s = retry_delay_s
        self.inquiry_delay_s = inquiry_delay_s
        self.inquiry_backoff_cap_s = inquiry_backoff_cap_s
        self._inquiries: dict[str, int] = {}  # inquiries made per UNKNOWN payment
        self.batching = batching  # micro-payment batches, when the catalogue has profiles
        # (channel, currency) -> available position in the books, for the channels routing
        # checks, and the outbox event id the books had posted up to when it was read
        self.positions: Callable[[], Mapping[tuple[str, str], int]] = dict
        self.positions_as_of: Callable[[], int] = lambda: 0
        self.refresh_positions: Callable[[], Awaitable[None]] | None = None
        # What routed payments hold of those positions that the books do not show yet (every
        # process's, as the store last said), and what this turn has claimed on top.
        self._reserved: dict[tuple[str, str], int] = {}
        self._reserved_as_of: int | None = None  # None: read it again before routing
        self._turn_claims: dict[tuple[str, str], int] = {}
        self._watcher: asyncio.Task[None] | None = None
        # Set when this process is a worker of a cluster (switch.cluster): its id, and who to
        # ask before handing a payment to the worker that holds its channel's session.
        self.worker_id: str | None = None
        self.cluster: Cluster | None = None
        self.publish: Publish = lambda p: None
        self.metrics: NullMetrics = NO_METRICS
        self._inbox: deque[Any] = deque()
        self._intake_waiting = 0  # orders (and refusals to record) among the inbox's inputs
        self._wake = asyncio.Event()
        self._live: dict[str, Payment] = {}  # every non-final payment of this process
        self._runner: asyncio.Task[None] | None = None
        self._timers: set[Timer] = set()
        self.stats = EngineStats()
        # What this process has seen of each channel; the router skips one whose circuit is open.
        self.breakers = {name: CircuitBreaker() for name in adapters}
        self.success = {name: SuccessWindow() for name in adapters}
        self._tried: dict[str, set[str]] = {}  # channels that refused a payment technically
        # Daily caps used, as committed (loaded at start, then kept by the writer). During a
        # turn, decisions read them through an overlay holding what the turn has planned.
        self.channel_used: dict[ChannelDay, int] = {}
        self.debtor_used: dict[DebtorDay, int] = {}
        self._turn_caps: tuple[MutableMapping[ChannelDay, int],
                               MutableMapping[DebtorDay, int]] | None = None
        self._caps_today: date | None = None  # the local day the figures were last pruned on
        for adapter in adapters.values():
            adapter.on_status = self._channel_said

    # -- intake (called by the server) ----------------------------------------------------------
    def submit(self, client_id: str, order: Order) -> asyncio.Future[tuple[Payment, bool]]:
        """Accept an order durably; the future resolves after the store commit."""
        fut: asyncio.Future[tuple[Payment, bool]] = asyncio.get_running_loop().create_future()
        self._intake_waiting += 1
        self._put(_Accept(client_id, order, fut))
        return fut

    def record_intake_error(self, error: IntakeError) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._intake_waiting += 1
        self._put(_IntakeFailure(error, fut))
        return fut

    @property
    def running(self) -> bool:
        """Whether the writer task is alive (the liveness check)."""
        return self._runner is not None and not self._runner.done()

    def live_payments(self) -> list[Payment]:
        """Every payment of this process that is not final (a copy, for reports)."""
        return list(self._live.values())

    @property
    def live_count(self) -> int:
        """Payments of this process not final yet: what a slow channel makes grow."""
        return len(self._live)

    @property
    def backlog(self) -> int:
        """Every input waiting for the writer: orders and the engine's own work."""
        return len(self._inbox)

    @property
    def intake_waiting(self) -> int:
        """Orders waiting for the writer: the server's measure of overload.

        The engine's own follow-up work (routing what was just accepted, channel statuses) is
        left out: it is bounded by the payments in flight (`max_live_payments`), and counting it
        would refuse a client that keeps to its window merely because its last acks are being
        routed.
        """
        return self._intake_waiting

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        for adapter in self.adapters.values():
            if self.cluster is not None and adapter.single_session:
                continue  # its worker connects it while it holds the channel's lease
            try:
                await adapter.start()
            except (OSError, ChannelError) as exc:
                log.warning("channel %s not reachable at start: %s", adapter.channel, exc)
        await self._load_caps()
        await self._recover()
        loop = asyncio.get_running_loop()
        self._runner = loop.create_task(self._run(), name="payment-engine")
        if self.batching is not None:
            self._watcher = loop.create_task(self._watch_batches(), name="batch-watch")

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for adapter in self.adapters.values():
            await adapter.close()

    def _today(self) -> date:
        """The local date where the channels' business days are kept."""
        return self.clock.now().astimezone(ZoneInfo(self.router.catalogue.timezone)).date()

    async def _load_caps(self) -> None:
        """Caps used from yesterday on (business days are local to the catalogue)."""
        today = self._caps_today = self._today()
        self.channel_used.clear()
        self.debtor_used.clear()
        for row in await self.store.route_caps((today - timedelta(days=1)).isoformat()):
            day = date.fromisoformat(row.business_date)
            if row.debtor:
                self.debtor_used[(row.channel, row.debtor, day)] = row.used
            else:
                self.channel_used[(row.channel, day)] = row.used

    def _prune_caps(self) -> None:
        """Forget the figures of business days before yesterday, once per local day."""
        today = self._today()
        if today == self._caps_today:
            return
        self._caps_today = today
        since = today - timedelta(days=1)
        for key in [k for k in self.channel_used if k[1] < since]:
            del self.channel_used[key]
        for dkey in [k for k in self.debtor_used if k[2] < since]:
            del self.debtor_used[dkey]

    async def _recover(self) -> None:
        """Resume what a previous run left: route the accepted, inquire the sent, resend nothing.
        Batch members follow their batch: open batches are armed again, closed ones sent."""
        desk = self.batching
        if desk is not None:
            # the batch's own payment (ROUTED, SUBMITTED, UNKNOWN) is recovered with the rest
            for row in await self.store.batches(list(_BATCH_ACTIVE)):
                batch = desk.restore(row, await self.store.batch_members(row.batch_id))
                if batch is not None:
                    self._close_at(row)
        pending = await self.store.payments_in_states(
            [s.value for s in State if s not in TERMINAL and s is not State.RECEIVED],
            mine=True,  # in a cluster: this worker's own, not its peers'
        )
        for p in pending:
            self._live[p.payment_id] = p
            if desk is not None and p.payment_id in desk.member_of:
                continue  # its batch's payment is recovered instead
            if p.state in (State.ACCEPTED, State.SCHEDULED):
                self._put(_Route(p))
            elif p.state == State.ROUTED:
                self._put(_Resubmit(p.payment_id))
            elif p.state in (State.SUBMITTED, State.UNKNOWN):
                self._put(_Inquire(p.payment_id))
        if pending:
            log.info("recovered %d unfinished payments", len(pending))

    # -- the writer -------------------------------------------------------------------------
    def _put(self, item: object) -> None:
        self._inbox.append(item)
        self._wake.set()

    def _channel_said(self, status: ChannelStatus) -> None:
        if status.outcome is Outcome.RETURNED:
            # A return comes after settlement, when the payment has left the live set.
            asyncio.get_running_loop().create_task(self._returned(status))
            return
        self._put(status)

    async def _returned(self, status: ChannelStatus) -> None:
        payment = self._live.get(status.payment_id) or await self.store.payment(status.payment_id)
        if payment is None:
            log.warning("return of %s, which is not ours", status.payment_id)
            return
        members: list[Payment] = []
        if payment.client_id == BATCH_CLIENT and self.batching is not None:
            # the whole batch comes back: every member with it
            row = await self.store.batch(payment.payment_id)
            listed = await self.store.batch_members(payment.payment_id)
            if row is not None:
                self.batching.rows[row.batch_id] = row
                self.batching.members[row.batch_id] = listed
            for pid, _ in listed:
                member = self._live.get(pid) or await self.store.payment(pid)
                if member is not None:
                    members.append(member)
        self._put(_Returned(payment, status, members))

    def _later(self, delay: float, item: object) -> None:
        """Hand ``item`` to the writer after ``delay`` seconds of the injected clock."""

        def fire() -> None:
            self._timers.discard(handle)
            self._put(item)

        handle = self.clock.call_later(delay, fire)
        self._timers.add(handle)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox:
                n = min(len(self._inbox), self.batch_max)
                items = [self._inbox.popleft() for _ in range(n)]
                self._intake_waiting -= sum(type(i) in _INTAKE for i in items)
                await self._turn_isolating(items)
                del items  # else the last turn's inputs (payments, orders) live until the next

    async def _turn_isolating(self, items: list[Any]) -> None:
        """Run a turn; if its transaction fails, split it so one bad input cannot sink the rest.

        The failed transaction left nothing behind, so running its halves again is safe.
        """
        try:
            await self._turn(items)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if len(items) == 1:
                log.warning("engine input %s failed on its own: %r", type(items[0]).__name__, exc)
                self._retry_failed_turn(items)
                return
            half = len(items) // 2
            await self._turn_isolating(items[:half])
            await self._turn_isolating(items[half:])

    def _retry_failed_turn(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, _Accept | _IntakeFailure):
                if not item.future.done():
                    item.future.set_exception(RuntimeError("store unavailable"))
            else:
                self._later(self.retry_delay_s, item)

    async def _turn(self, items: list[Any]) -> None:
        now = iso(self.clock.now())
        turn = _Turn(self, now)
        batch, staged, effects = turn.batch, turn.staged, turn.effects
        accepts: list[_Accept] = []
        failures: list[_IntakeFailure] = []
        self._prune_caps()
        await self._load_reserved()
        self._turn_claims = {}
        # Each decision sees the caps planned before it in this turn; the committed figures
        # change only once the batch is durable (a failed turn is planned again).
        self._turn_caps = (ChainMap({}, self.channel_used), ChainMap({}, self.debtor_used))
        try:
            for item in items:
                if isinstance(item, _Accept):
                    accepts.append(item)
                    new = self._new_payment(item, now)
                    batch.accepts.append(new)
                    turn.accept_items.append(item)
                    if new.payment.state == State.ACCEPTED:
                        self._join_batch(turn, new.payment)
                elif isinstance(item, _IntakeFailure):
                    failures.append(item)
                    batch.intake_errors.append(item.error)
                else:
                    self._plan(item, turn)
        except BaseException:
            self._undo_joins(turn)
            raise
        finally:
            self._turn_caps = None
            if self._turn_claims:  # what the store granted is read back before the next route
                self._turn_claims = {}
                self._reserved_as_of = None
        # Inquiries and resends of unchanged payments write nothing but must still happen.
        if len(batch):
            started = time.perf_counter()
            try:
                result = await self.store.commit(batch)
            except BaseException:
                self._undo_joins(turn)  # the turn is planned again, or halved, from scratch
                raise
            crashpoints.reach("commit")
            self.metrics.committed(time.perf_counter() - started, len(batch))
            self.stats.commits += 1
            self.stats.accepts += len(batch.accepts)
            self.stats.transitions += len(batch.transitions)
        else:
            result = BatchResult([], [])
        for failure in failures:
            if not failure.future.done():
                failure.future.set_result(None)
        events = EVENTS.isEnabledFor(logging.INFO)
        for item, new, (payment, created) in zip(turn.accept_items, batch.accepts,
                                                 result.accepted, strict=True):
            if item is None:  # a closed batch's own payment
                self._live[payment.payment_id] = payment
                continue
            if created:
                self._observe_accept(payment, events)
                queued = staged.get(payment.payment_id)
                if queued is not None:
                    payment = queued  # acknowledged as QUEUED_FOR_BATCH, with its window
                elif payment.state == State.ACCEPTED:
                    self._live[payment.payment_id] = payment
                    effects.route.append(payment)
            elif self.batching is not None and new.payment.payment_id in turn.unborn:
                self.batching.forget_member(new.payment.payment_id)  # a resend: not a member
            if not item.future.done():
                item.future.set_result((payment, created))
        failed: set[str] = set()
        for t, ok in zip(batch.transitions, result.applied, strict=True):
            if not ok:
                failed.add(t.payment_id)
                continue
            for d in t.caps:  # count what the store applied, no more
                _add_caps(self.channel_used, self.debtor_used, d)
            self._observe_transition(t, staged[t.payment_id], events)
        reroute: list[Payment] = []
        retry: list[object] = []
        for pid, payment in staged.items():
            if pid in failed:
                if pid in turn.unborn:
                    continue  # a resent order's queueing: the original stands, nothing moved
                # Another writer (a second process) moved it, took it over, or the caps it
                # wanted are used up by then: take the store's word.
                fresh = await self._reload(pid)
                if fresh is not None and fresh.state in (State.ACCEPTED, State.SCHEDULED):
                    reroute.append(fresh)  # a route the store refused: decide again
                elif fresh is not None and pid in turn.again:
                    retry.append(turn.again[pid])
            else:
                self._remember(payment)
        if reroute or retry:
            # what every process has used of the caps and holds of the positions, as committed
            await self._load_caps()
            if self.refresh_positions is not None:
                await self.refresh_positions()
            self._reserved_as_of = None
            for p in reroute:
                self._put(_Route(p))
            for item in retry:
                self._put(item)
        for action in turn.after:
            action()
        for row in batch.batches:
            if row.state == "CLOSED":
                crashpoints.reach("batch")
                self._put(_Resubmit(row.batch_id))  # its own turn: closed, then sent
        if failed:
            effects.drop(failed)
        self._act(effects)

    def _observe_accept(self, p: Payment, events: bool) -> None:
        """Metrics and the event log of a new payment, once it is durable."""
        if p.state == State.ACCEPTED:
            self.metrics.accepted()
        else:
            self.metrics.rejected(p.reason or "NARR", "intake")
            self.metrics.final(p.state, None, 0.0)
        if events:
            EVENTS.info("state", extra={"fields": _event_fields(p, None, p.state, p.reason,
                                                                None, "intake")})

    def _observe_transition(self, t: Transition, p: Payment, events: bool) -> None:
        """Metrics and the event log of a state change, once it is durable."""
        to = t.to_state
        by_routing = to == State.REJECTED and t.from_state in (State.ACCEPTED, State.SCHEDULED)
        if to == State.ROUTED:
            self.metrics.routed(t.channel)
        elif by_routing:
            self.metrics.routed(None)  # refused by routing (or its channel not connected)
        if to in TERMINAL:
            if to == State.REJECTED:
                self.metrics.rejected(t.reason or "NARR", "route" if by_routing else "channel")
            elapsed = datetime.fromisoformat(t.at) - datetime.fromisoformat(p.created_at)
            self.metrics.final(to, p.channel, elapsed.total_seconds())
        if events:
            EVENTS.info("state", extra={"fields": _event_fields(
                p, t.from_state, to, t.reason, t.channel or p.channel, t.cause)})

    async def _reload(self, payment_id: str) -> Payment | None:
        """The store's word on a payment this worker could not move; None when it is no
        longer this worker's (another took it over) or gone."""
        if self.worker_id is not None and self.cluster is not None:
            owner = await self.cluster.store.owner_of(payment_id)
            if owner != self.worker_id:
                log.warning("payment %s is driven by %s now; letting go", payment_id, owner)
                self._live.pop(payment_id, None)
                return None
        log.info("payment %s moved elsewhere; reloading", payment_id)
        fresh = await self.store.payment(payment_id)
        if fresh is not None:
            self._remember(fresh)
        return fresh

    def adopt(self, payment_ids: list[str]) -> None:
        """Take over payments (of a dead worker, or handed over for a channel session this
        worker holds) and resume them as after a restart: inquire what was sent."""
        asyncio.get_running_loop().create_task(self._adopt(payment_ids))

    async def _adopt(self, payment_ids: list[str]) -> None:
        desk = self.batching
        wanted = set(payment_ids)
        if desk is not None:
            for row in await self.store.batches(list(_BATCH_ACTIVE)):
                if row.batch_id in desk.by_id or row.batch_id in desk.rows:
                    continue  # this worker's own
                members = await self.store.batch_members(row.batch_id)
                ours = row.batch_id in wanted or any(pid in wanted for pid, _ in members)
                if ours and desk.restore(row, members) is not None:
                    self._close_at(row)
        for pid in payment_ids:
            p = await self.store.payment(pid)
            if p is None or p.state in TERMINAL:
                continue
            self._live[pid] = p
            if desk is not None and pid in desk.member_of:
                continue  # its batch's payment drives it
            if p.state in (State.ACCEPTED, State.SCHEDULED):
                self._put(_Route(p))
            elif p.state == State.ROUTED:
                self._put(_Resubmit(pid))
            elif p.state in (State.SUBMITTED, State.UNKNOWN):
                self._put(_Inquire(pid))
        log.info("adopted %d payments", len(payment_ids))

    def _remember(self, payment: Payment) -> None:
        if payment.state != State.UNKNOWN:
            self._inquiries.pop(payment.payment_id, None)
        if payment.state in TERMINAL:
            self._live.pop(payment.payment_id, None)
            self._tried.pop(payment.payment_id, None)  # however it ended (a cancel, a return)
        else:
            self._live[payment.payment_id] = payment

    def _new_payment(self, item: _Accept, now: str) -> NewPayment:
        payment_id = uuid.uuid4().hex
        order = item.order
        events: tuple[Event, ...] = ()
        try:
            validate_order(order)
            state, reason, events = State.ACCEPTED, None, (_event("payment.accepted", order),)
        except Invalid as exc:
            state, reason = State.REJECTED, exc.code
            log.info("order %s rejected at intake: %s", order.client_order_id, exc)
        return NewPayment(
            Payment(
                payment_id=payment_id, client_id=item.client_id, order=order, state=state,
                reason=reason, end_to_end_id=payment_id, uetr=str(uuid.uuid4()),
                created_at=now, updated_at=now,
            ),
            events,
        )

    def _plan(self, item: object, turn: _Turn) -> None:
        """Turn one input into state changes (in the turn's batch) and actions for after the
        commit."""
        current, move, effects = turn.current, turn.move, turn.effects
        if isinstance(item, _Route):
            p = current(item.payment.payment_id)
            if p is None or p.state not in (State.ACCEPTED, State.SCHEDULED):
                return
            clock_now = self.clock.now()
            # A SCHEDULED payment already holds caps and its position: decide as if it did
            # not, so it does not compete with itself; the move below gives them back and
            # takes the new ones.
            held = _release(p)
            self._plan_caps(held)
            position = self._held_position(p)
            claims = self._turn_claims
            if position is not None:
                claims[position] = claims.get(position, 0) - p.order.amount
            try:
                decision = self.router.decide(p.order, clock_now, self.routing_state(clock_now))
            finally:
                self._plan_caps(tuple(_negate(d) for d in held))
                if position is not None:
                    claims[position] += p.order.amount
            why = "route: " + decision.head  # the whole explanation is stored with the move
            if decision.channel is None:
                reopens = self._circuits_reopen(clock_now) if decision.reason == "AB07" else None
                if reopens is not None:
                    # Only open circuits stand in the way, and they probe again later: wait
                    # for that, as for a window that opens later, rather than refuse.
                    if p.state == State.ACCEPTED:
                        move(p, State.SCHEDULED, f"{why}; waiting until {reopens.isoformat()} "
                             "for a circuit to close", reason="AB07", decision=decision)
                    self._later((reopens - clock_now).total_seconds(), _Route(p))
                    return
                move(p, State.REJECTED, why, reason=decision.reason,
                     events=(_event("payment.rejected", p.order),), decision=decision)
                return
            if decision.channel not in self.adapters:
                move(p, State.REJECTED, f"route: channel {decision.channel} not connected",
                     reason="AG01", events=(_event("payment.rejected", p.order),))
                return
            if decision.scheduled_for is not None:
                # Nothing can take it now but a channel can before its deadline: wait for the
                # window, then decide again (limits and health may have changed meanwhile).
                if p.state == State.ACCEPTED:
                    day, taken = self._consume(p, decision.channel, decision.business_date)
                    p = move(p, State.ROUTED, why, channel=decision.channel, fee=decision.fee,
                             business_date=day, caps=taken, decision=decision)
                    move(p, State.SCHEDULED,
                         f"scheduled for {decision.scheduled_for.isoformat()}")
                wait = (decision.scheduled_for - clock_now).total_seconds()
                self._later(max(wait, 0.0), _Route(p))
                return
            day, taken = self._consume(p, decision.channel, decision.business_date)
            p = move(p, State.ROUTED, why, channel=decision.channel, fee=decision.fee,
                     business_date=day, caps=(*held, *taken), decision=decision)
            self._submit_when_open(p, turn)
        elif isinstance(item, _Resubmit):
            p = current(item.payment_id)
            if p is not None and p.state == State.ROUTED:
                self._submit_when_open(p, turn)
        elif isinstance(item, _Inquire):
            p = current(item.payment_id)
            if p is not None and p.state in (State.SUBMITTED, State.UNKNOWN):
                effects.inquire.append(p)
        elif isinstance(item, _NotSent):
            p = current(item.payment_id)
            if p is not None and p.state == State.SUBMITTED and item.reject:
                move(p, State.REJECTED, f"not sendable: {item.detail}", reason=item.reject,
                     events=(_event("payment.rejected", p.order, channel=p.channel),))
            elif p is not None and p.state == State.SUBMITTED:
                # Nothing left the switch (the link dropped under it): no verdict on the
                # channel for its breaker, which counts the channel's own refusals.
                move(p, State.ROUTED, f"not sent: {item.detail}")
                self._later(self.retry_delay_s, _Resubmit(p.payment_id))
        elif isinstance(item, ChannelStatus):
            self._plan_status(item, turn)
        elif isinstance(item, _Returned):
            p = current(item.payment.payment_id) or item.payment
            if p.state == State.SETTLED:
                st = item.status
                turn.outside.update((m.payment_id, m) for m in item.members)
                move(p, State.RETURNED, f"{p.channel} returned it: {st.detail or st.reason}",
                     reason=st.reason, events=(_event("payment.returned", p.order,
                                                      channel=p.channel),))
            else:
                log.warning("return of %s in state %s ignored", p.payment_id, p.state)
        elif isinstance(item, _CloseBatch):
            batch = self.batching.by_id.get(item.batch_id) if self.batching else None
            if batch is not None:
                self._close_batch(turn, batch)
        elif isinstance(item, _RetryBatch) and self.batching is not None:
            row = item.row
            log.info("batch %s (%s) pushed on by an operator", row.batch_id, row.state)
            open_batch = self.batching.by_id.get(row.batch_id)
            if open_batch is not None:
                self._close_batch(turn, open_batch)
                return
            kept = self.batching.rows.get(row.batch_id, row)
            turn.batch.batches.append(msgspec.structs.replace(kept, retry=False))
            self.batching.rows[row.batch_id] = msgspec.structs.replace(kept, retry=False)
            p = current(row.batch_id)
            if p is not None and p.state == State.ROUTED:
                self._submit_when_open(p, turn)
            elif p is not None and p.state in (State.SUBMITTED, State.UNKNOWN):
                effects.inquire.append(p)  # its answer decides: settled, or resent same ids

    # -- micro-payment batches ----------------------------------------------------------------

    def _join_batch(self, turn: _Turn, p: Payment) -> None:
        """Queue a new order for its payee's batch, in its intake turn, when a batching
        profile takes it and its channel would take it alone (screening, limits, caps)."""
        desk = self.batching
        profile = desk.profile_for(p.order) if desk is not None else None
        if desk is None or profile is None or profile.channel not in self.adapters:
            return
        now = self.clock.now()
        alone = msgspec.structs.replace(p.order, designated_channel=profile.channel)
        decision = self.router.decide(alone, now, self.routing_state(now))
        if decision.channel != profile.channel or decision.scheduled_for is not None:
            return  # not for a batch now: it is routed on its own, with its reasons
        members_before = {b.row.batch_id: len(b.members) for b in desk.by_id.values()}
        batch, full = desk.place(p, profile, now)
        bid = batch.row.batch_id

        def undo() -> None:
            desk.forget_member(p.payment_id)
            if bid not in members_before:  # opened by this join: gone again
                desk.discard(bid)
        turn.undo.append(undo)
        if full is not None:
            self._close_batch(turn, full)
        if bid not in members_before:
            turn.batch.batches.append(batch.row)
            turn.after.append(lambda: self._close_at(batch.row))
        day, taken = self._consume(p, profile.channel, decision.business_date)
        routed = turn.move(p, State.ROUTED, f"route: batching profile {profile.name}; "
                           f"{decision.head}", channel=profile.channel, fee=0,
                           business_date=day, caps=taken, decision=decision)
        turn.unborn.add(p.payment_id)
        turn.move(routed, State.QUEUED_FOR_BATCH,
                  f"joined batch {bid} of {profile.name}, closing {batch.row.closes_at}",
                  expected_at=batch.row.closes_at,
                  events=(_event("payment.batched", p.order, batch_id=bid),))
        turn.batch.joins.append(BatchJoin(bid, p.payment_id, p.order.amount))
        if batch.full():
            self._close_batch(turn, batch)

    async def _watch_batches(self, every_s: float = 2.0) -> None:
        """Pick up the batches operators asked to push on (`payswitch batches retry`, from any
        process: the flag is in the store): close, send again or inquire, same identifiers."""
        while True:
            await asyncio.sleep(every_s)
            try:
                rows = await self.store.batches(list(_BATCH_ACTIVE))
            except Exception:
                log.exception("batch watch: store unavailable")
                continue
            for row in rows:
                if row.retry:
                    self._put(_RetryBatch(row))

    def _close_at(self, row: BatchRow) -> None:
        delay = (datetime.fromisoformat(row.closes_at) - self.clock.now()).total_seconds()
        self._later(max(delay, 0.0), _CloseBatch(row.batch_id))

    def _close_batch(self, turn: _Turn, batch: OpenBatch) -> None:
        """Freeze the members, fix the total and the fee, and make the batch's one payment
        (ROUTED; it is sent in a turn of its own, so a crash between lands between the two)."""
        desk = self.batching
        assert desk is not None
        desk.close(batch)
        turn.undo.append(lambda: desk.reopen(batch))
        row = batch.row
        members = list(batch.members)
        if not members:
            empty = msgspec.structs.replace(row, state="EMPTY", closed_at=turn.now,
                                            finished_at=turn.now)
            turn.batch.batches.append(empty)
            turn.after.append(lambda: desk.finished(row.batch_id))
            return
        total = sum(amount for _, amount in members)
        spec = self.router.catalogue.channels[row.channel]
        schedule = spec.fees[row.currency]
        now = self.clock.now()
        payment = desk.payment(msgspec.structs.replace(row, total=total, members=len(members)),
                               turn.now)
        decision = self.router.decide(payment.order, now, self.routing_state(now))
        day = (decision.business_date or now.astimezone(desk.tz).date()).isoformat()
        closed = msgspec.structs.replace(
            row, state="CLOSED", members=len(members), total=total,
            fee=schedule.fee(total), fee_alone=sum(schedule.fee(a) for _, a in members),
            business_date=day, closed_at=turn.now)
        desk.rows[row.batch_id] = closed
        turn.batch.batches.append(closed)
        why = f"batch {row.batch_id} closed: {len(members)} members, total {total}"
        for pid, _ in members:
            member = turn.current(pid)
            if member is not None and member.state == State.QUEUED_FOR_BATCH:
                turn.move(member, State.BATCHED, why)
        turn.batch.accepts.append(NewPayment(desk.payment(closed, turn.now)))
        turn.accept_items.append(None)

    def _follow_batch(self, turn: _Turn, batch: Payment, cause: str) -> None:
        """The members follow their batch's payment: same state, their own books."""
        desk = self.batching
        if desk is None:
            return
        bid = batch.payment_id
        members = desk.members.get(bid, [])
        row = desk.rows.get(bid)
        to = State(batch.state)
        if row is not None:
            row = msgspec.structs.replace(
                row, state=to.value, reason=batch.reason, channel=batch.channel or row.channel,
                submitted_at=turn.now if to == State.SUBMITTED else row.submitted_at,
                finished_at=turn.now if to in TERMINAL else row.finished_at, retry=False)
            desk.rows[bid] = row
            turn.batch.batches.append(row)
        member_to = MEMBER_STATE.get(to)
        shares = fee_shares(batch.fee, members) if to == State.SETTLED else {}
        for pid, _ in members:
            m = turn.current(pid)
            if m is None or member_to is None or not can_move(State(m.state), member_to):
                continue
            events: tuple[Event, ...] = ()
            if member_to == State.REJECTED:
                events = (_event("payment.rejected", m.order, channel=batch.channel),)
            elif member_to == State.RETURNED:
                events = (_event("payment.returned", m.order, channel=batch.channel),)
            # (a fallback moves the members' channel, not the caps they took on the first)
            turn.move(m, member_to, f"batch {bid}: {cause}", reason=batch.reason,
                      channel=batch.channel, fee=shares.get(pid), events=events)
        if to == State.SETTLED and row is not None:
            self.metrics.batch(batch.channel or "", len(members))
            turn.batch.events.append(StandaloneEvent(bid, Event("batch.settled", {
                "amount": row.total, "currency": row.currency, "channel": batch.channel,
                "product": "BATCH", "fee": batch.fee, "batch_id": bid,
                "members": [{"payment_id": pid, "amount": amount,
                             "debtor_account": self._debtor_of(turn, pid)}
                            for pid, amount in members]}), turn.now))
        if to in TERMINAL:
            turn.after.append(lambda: desk.finished(bid))

    def _debtor_of(self, turn: _Turn, payment_id: str) -> str:
        member = turn.current(payment_id)
        return member.order.debtor.account if member is not None else ""

    def _undo_joins(self, turn: _Turn) -> None:
        for action in reversed(turn.undo):
            action()
        turn.undo.clear()

    def routing_state(self, now: datetime) -> RoutingState:
        channel_used, debtor_used = self._turn_caps or (self.channel_used, self.debtor_used)
        return RoutingState(
            channel_used=channel_used,
            debtor_used=debtor_used,
            positions=self._positions_left(),
            unavailable=frozenset(c for c, b in self.breakers.items() if not b.allows(now)),
            success_ppm={c: w.ppm() for c, w in self.success.items()},
        )

    def _positions_left(self) -> dict[tuple[str, str], int]:
        """The books' positions less what routed payments hold of them."""
        reserved, claims = self._reserved, self._turn_claims
        return {k: v - reserved.get(k, 0) - claims.get(k, 0) for k, v in self.positions().items()}

    def _claim(self, p: Payment, channel: str) -> PositionClaim | None:
        """The reservation a move of ``p`` to ``channel`` takes, when routing checks that
        channel's position (the store grants it only if it still fits)."""
        key = (channel, p.order.currency)
        available = self.positions().get(key)
        if available is None:
            return None
        self._turn_claims[key] = self._turn_claims.get(key, 0) + p.order.amount
        return PositionClaim(channel, p.order.currency, p.order.amount, available,
                             self.positions_as_of())

    def _held_position(self, p: Payment) -> tuple[str, str] | None:
        """The position a SCHEDULED payment reserved when it was routed, if routing checks it."""
        if p.state != State.SCHEDULED or p.channel is None:
            return None
        key = (p.channel, p.order.currency)
        return key if key in self.positions() else None

    async def _load_reserved(self) -> None:
        """Read the reservations again when the books' snapshot moved or a turn changed them."""
        as_of = self.positions_as_of()
        if self._reserved_as_of != as_of and self.positions():
            self._reserved = await self.store.position_reserved(as_of)
            self._reserved_as_of = as_of

    def _consume(self, p: Payment, channel: str, business_date: date | None
                 ) -> tuple[str | None, tuple[CapDelta, ...]]:
        """The business day and the deltas that take ``p``'s amount from that channel's caps
        (with the caps' limits, which a store shared by several processes checks again)."""
        if business_date is None:  # the router names a day for every route it makes
            return None, ()
        day = business_date.isoformat()
        spec = self.router.catalogue.channels.get(channel)
        return day, (CapDelta(channel, day, p.order.debtor.account, p.order.amount,
                              spec.daily_cap if spec else None,
                              spec.debtor_daily_cap if spec else None),)

    def _circuits_reopen(self, now: datetime) -> datetime | None:
        """When the first open circuit lets a probe through (None: no circuit is open)."""
        times = [b.opened_at + b.cool_down for b in self.breakers.values()
                 if b.opened_at is not None and b.state(now) == "open"]
        return min(times) if times else None

    def _plan_caps(self, deltas: tuple[CapDelta, ...]) -> None:
        """Count deltas in this turn's overlay only (what later decisions of the turn see)."""
        if self._turn_caps is not None:
            for d in deltas:
                _add_caps(*self._turn_caps, d)

    def _observe(self, channel: str | None, ok: bool) -> None:
        """Feed a definitive outcome to the channel's breaker and success rate."""
        if channel not in self.breakers:
            return
        now = self.clock.now()
        if ok:
            self.breakers[channel].record_success(now)
        else:
            self.breakers[channel].record_failure(now)
        self.success[channel].record(ok)

    def _submit_when_open(self, p: Payment, turn: _Turn) -> None:
        adapter = self.adapters[p.channel or ""]
        if not adapter.connected:
            if self.cluster is not None and adapter.single_session:
                # another worker holds the channel's session: it sends the payment
                turn.after.append(lambda: self._hand_over_later(p))
                return
            # Hold it ROUTED without writing anything more until the channel is back.
            self._later(self.retry_delay_s, _Resubmit(p.payment_id))
            return
        p = turn.move(p, State.SUBMITTED, f"submit to {p.channel}",
                      events=(_event("payment.submitted", p.order, channel=p.channel),))
        turn.effects.send.append(p)

    def _plan_status(self, st: ChannelStatus, turn: _Turn) -> None:
        current, move, effects = turn.current, turn.move, turn.effects
        p: Payment | None = current(st.payment_id)
        if p is None:
            log.info("status %s for %s, which is final or not ours", st.outcome, st.payment_id)
            return
        waiting = p.state in (State.SUBMITTED, State.UNKNOWN)
        if st.outcome == Outcome.SETTLED and waiting:
            self._observe(p.channel, ok=True)
            self._tried.pop(p.payment_id, None)
            move(p, State.SETTLED, f"{p.channel} settled {st.channel_ref or ''}".rstrip(),
                 events=(_event("payment.settled", p.order, channel=p.channel, fee=p.fee),))
        elif st.outcome == Outcome.REJECTED and waiting:
            technical = st.reason in TECHNICAL_REASONS
            self._observe(p.channel, ok=not technical)  # a refused payment is a working channel
            # From UNKNOWN the state machine allows no reroute: such a payment ends here.
            if technical and p.state == State.SUBMITTED and self._fall_back(p, st, turn):
                turn.again[p.payment_id] = st
                return
            self._tried.pop(p.payment_id, None)
            move(p, State.REJECTED, f"{p.channel} rejected: {st.detail or st.reason}",
                 reason=st.reason, events=(_event("payment.rejected", p.order, channel=p.channel),))
        elif st.outcome == Outcome.UNKNOWN and p.state == State.SUBMITTED:
            move(p, State.UNKNOWN, f"no answer from {p.channel} in time ({st.detail})",
                 reason="AB05")
            self._inquire_later(p.payment_id)
        elif st.outcome == Outcome.UNKNOWN and p.state == State.UNKNOWN:
            self._inquire_later(p.payment_id)  # the inquiry itself went unanswered: ask again
        elif st.outcome == Outcome.NOT_FOUND and waiting:
            # The channel says it never got it: sending again with the same ids is safe.
            if p.state == State.UNKNOWN:
                p = move(p, State.SUBMITTED, f"{p.channel} never received it; resend same ids")
            effects.send.append(p)
        elif st.outcome == Outcome.PENDING and p.state == State.UNKNOWN:
            # The channel has it and has not finished (a queue, a session, gpi, a reversal in
            # progress): ask again, less and less often, until it gives its final word.
            self._inquire_later(p.payment_id)

    def _hand_over_later(self, p: Payment) -> None:
        asyncio.get_running_loop().create_task(self._hand_over(p))

    async def _hand_over(self, p: Payment) -> None:
        assert self.cluster is not None
        holder = await self.cluster.holder(f"channel:{p.channel}")
        if holder is not None and holder != self.worker_id \
                and await self.cluster.hand_over(p.payment_id, holder):
            log.info("payment %s handed to %s, which holds the %s session", p.payment_id,
                     holder, p.channel)
            self._live.pop(p.payment_id, None)
            return
        self._later(self.retry_delay_s, _Resubmit(p.payment_id))  # nobody holds it yet

    def _inquire_later(self, payment_id: str) -> None:
        """The next status inquiry of an UNKNOWN payment: 1, 2, 4 ... times the inquiry delay,
        capped, so a long wait at the channel costs a few inquiries, not one a second."""
        n = self._inquiries.get(payment_id, 0)
        self._inquiries[payment_id] = n + 1
        delay = min(self.inquiry_delay_s * (2 ** min(n, 30)), self.inquiry_backoff_cap_s)
        self._later(delay, _Inquire(payment_id))

    def _fall_back(self, p: Payment, st: ChannelStatus, turn: _Turn) -> bool:
        """After a technical refusal (never after UNKNOWN) try the next-best channel, keeping
        the payment's ids: the first channel has said it did not settle. True if rerouted."""
        tried = self._tried.setdefault(p.payment_id, set())
        tried.add(p.channel or "")
        now = self.clock.now()
        decision = self.router.fallback(p.order, now, self.routing_state(now), tried,
                                        last_status="REJECTED")
        if decision.channel is None or decision.scheduled_for is not None \
                or decision.channel not in self.adapters:
            return False
        # The caps move with the payment: given back on the old channel, taken on the new.
        day, taken = self._consume(p, decision.channel, decision.business_date)
        if p.client_id == BATCH_CLIENT:
            taken = ()  # a batch's payment holds no caps: its members do
        p = turn.move(p, State.ROUTED, f"{p.channel} refused it technically ({st.reason}); "
                      f"fallback: {decision.head}", channel=decision.channel, fee=decision.fee,
                      business_date=day, caps=(*_release(p), *taken), decision=decision)
        self._submit_when_open(p, turn)
        return True

    def _act(self, effects: _SideEffects) -> None:
        for p in effects.publish:
            self.publish(p)
        for p in effects.route:
            self._put(_Route(p))
        for p in effects.send:
            asyncio.get_running_loop().create_task(self._send(p))
        for p in effects.inquire:
            asyncio.get_running_loop().create_task(self._inquire(p))

    async def _send(self, p: Payment) -> None:
        adapter = self.adapters[p.channel or ""]
        self.breakers[p.channel or ""].record_dispatch(self.clock.now())
        try:
            await adapter.submit(p)
            crashpoints.reach("send")
        except ChannelError as exc:
            self._put(_NotSent(p.payment_id, str(exc)))
        except MessageError as exc:
            # The payment cannot be written in the channel's format: nothing left the switch.
            self._put(_NotSent(p.payment_id, str(exc), reject="FF01"))

    async def _inquire(self, p: Payment) -> None:
        adapter = self.adapters[p.channel or ""]
        try:
            await adapter.inquire(p)
        except ChannelError:
            self._inquire_later(p.payment_id)


class _Returned(msgspec.Struct):
    payment: Payment
    status: ChannelStatus
    members: list[Payment] = msgspec.field(default_factory=list)  # a batch's, when it is one


class _CloseBatch(msgspec.Struct):
    batch_id: str


class _RetryBatch(msgspec.Struct):
    row: BatchRow


class _NotSent(msgspec.Struct):
    payment_id: str
    detail: str
    reject: str | None = None  # a reason code when sending again cannot help





def _release(p: Payment) -> tuple[CapDelta, ...]:
    """The deltas that give back what ``p`` holds of its channel's caps (none if nothing)."""
    if (p.state not in _HOLDING or p.channel is None or p.business_date is None
            or p.client_id == BATCH_CLIENT):  # a batch's caps are held by its members
        return ()
    return (CapDelta(p.channel, p.business_date, p.order.debtor.account, -p.order.amount),)


def _negate(d: CapDelta) -> CapDelta:
    return msgspec.structs.replace(d, amount=-d.amount)


def _add_caps(channel_used: MutableMapping[ChannelDay, int],
              debtor_used: MutableMapping[DebtorDay, int], d: CapDelta) -> None:
    """Apply one delta as the store does: to the channel-wide figure and the debtor's."""
    day = date.fromisoformat(d.business_date)
    ckey = (d.channel, day)
    channel_used[ckey] = channel_used.get(ckey, 0) + d.amount
    if d.debtor_account:
        dkey = (d.channel, d.debtor_account, day)
        debtor_used[dkey] = debtor_used.get(dkey, 0) + d.amount


def _event_fields(p: Payment, from_state: str | None, to_state: str, reason: str | None,
                  channel: str | None, cause: str) -> dict[str, Any]:
    """One state change as the event log shows it: accounts masked, amounts in minor units."""
    order = p.order
    return {
        "event": "payment.state", "payment_id": p.payment_id, "client_id": p.client_id,
        "client_order_id": order.client_order_id, "from": from_state, "to": to_state,
        "reason": reason, "channel": channel, "amount": order.amount,
        "currency": order.currency, "debtor_account": mask_account(order.debtor.account),
        "creditor_account": mask_account(order.creditor.account), "cause": cause,
    }


def _event(kind: str, order: Order, **extra: Any) -> Event:
    body: dict[str, Any] = {
        "amount": order.amount,
        "currency": order.currency,
        "debtor_account": order.debtor.account,
        "creditor_account": order.creditor.account,
        "product": order.product,
    }
    body.update(extra)
    return Event(kind, body)
