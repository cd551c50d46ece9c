"""The one store interface both backends implement (DESIGN.md "Stores").

Writes arrive in group-commit batches: many accepts and transitions in one transaction, each
transition together with its accounting events (the outbox), so a state change and the money
it moves are durable together or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import msgspec

from switch.order import Order, Payment


class Event(msgspec.Struct, frozen=True):
    """A business event for accounting, written to the outbox with the state change."""

    type: str  # payment.accepted, payment.settled, payment.rejected, ...
    body: dict[str, Any]


class NewPayment(msgspec.Struct, frozen=True):
    payment: Payment
    events: tuple[Event, ...] = ()


class CapDelta(msgspec.Struct, frozen=True):
    """A change to a channel's daily cap used, for one debtor account on one business day.

    Applied to the channel-wide row and to the debtor's row; ``amount`` < 0 gives back.
    """

    channel: str
    business_date: str  # ISO date of the channel business day
    debtor_account: str
    amount: int  # minor units
    # The caps it must stay within, checked by the store where several processes share them.
    channel_cap: int | None = None
    debtor_cap: int | None = None


class PositionClaim(msgspec.Struct, frozen=True):
    """A routed payment's reservation of a channel's prefunded position.

    ``available`` is the position as the books stood once every outbox event up to ``as_of``
    was posted. The store grants the claim only if it fits beside every reservation that
    snapshot does not yet reflect (of this and every other process), so two processes never
    route the same remaining position twice. A reservation lasts until the payment is rejected
    or cancelled, or until the books have posted its settlement.
    """

    channel: str
    currency: str
    amount: int  # minor units
    available: int
    as_of: int  # the outbox event id the books had posted up to when available was read


class CapRow(msgspec.Struct, frozen=True):
    """One row of ``route_caps``: ``debtor`` '' is the channel-wide total."""

    channel: str
    business_date: str
    debtor: str
    used: int


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """Move one payment from `from_state` to `to_state`; applied only if it is still there.

    Its cap deltas, and the routing decision it carries out, are written in the same
    transaction, and only if the move applies.
    """

    payment_id: str
    from_state: str
    to_state: str
    at: str
    cause: str
    reason: str | None = None
    channel: str | None = None
    fee: int | None = None
    business_date: str | None = None  # the business day whose caps the payment holds
    events: tuple[Event, ...] = ()
    caps: tuple[CapDelta, ...] = ()
    # A move to ROUTED on a channel whose position routing checks; a move to ROUTED without
    # one, to REJECTED or to CANCELLED gives the payment's reservation back.
    position: PositionClaim | None = None
    # routing.RouteDecision.encode() of the decision this move carries out (ROUTED, or REJECTED
    # by routing): kept with the history row, read back by Store.route_decision
    route_decision: bytes | None = None


class IntakeError(msgspec.Struct, frozen=True):
    """A submission that never became a payment (undecodable order): kept for audit."""

    client_id: str
    code: str
    detail: str
    raw: bytes
    at: str
    seq: int | None = None


class StandaloneEvent(msgspec.Struct, frozen=True):
    """An outbox event that is no single payment's state change: a batch settling, treasury
    funding a position. ``key`` stands where a payment id stands (the batch id, a transfer
    reference)."""

    key: str
    event: Event
    at: str


class BatchRow(msgspec.Struct, frozen=True, kw_only=True):
    """A micro-payment batch (routing.batching): one channel payment for many member orders.

    States: OPEN (taking members) -> CLOSED (members frozen, total fixed) -> SUBMITTED ->
    SETTLED | REJECTED, with UNKNOWN on the way when the channel did not answer in time, and
    RETURNED after SETTLED. Written whole (an upsert by batch_id).
    """

    batch_id: str
    profile: str
    channel: str
    currency: str
    payee: bytes  # the creditor Party, MessagePack
    payee_account: str
    window_key: str
    seq: int  # batches of one payee in one window: 1, 2 ... (a full batch makes the next)
    state: str
    opened_at: str
    closes_at: str
    end_to_end_id: str
    uetr: str
    members: int = 0
    total: int = 0  # minor units, the members' sum, fixed at CLOSED
    fee: int = 0  # the channel fee of the one payment
    fee_alone: int = 0  # what the members would have paid sent one by one
    business_date: str | None = None
    closed_at: str | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    reason: str | None = None
    retry: bool = False  # an operator asked for it to be pushed on (payswitch batches retry)


class BatchJoin(msgspec.Struct, frozen=True):
    """A member joins a batch; applied only if the payment is QUEUED_FOR_BATCH by then, and
    at most once per payment ever (the store's unique constraint)."""

    batch_id: str
    payment_id: str
    amount: int


class WriteBatch(msgspec.Struct):
    accepts: list[NewPayment] = msgspec.field(default_factory=list)
    transitions: list[Transition] = msgspec.field(default_factory=list)
    intake_errors: list[IntakeError] = msgspec.field(default_factory=list)
    batches: list[BatchRow] = msgspec.field(default_factory=list)  # after the transitions
    joins: list[BatchJoin] = msgspec.field(default_factory=list)  # after the batches
    events: list[StandaloneEvent] = msgspec.field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.accepts) + len(self.transitions) + len(self.intake_errors)
                + len(self.batches) + len(self.joins) + len(self.events))


class BatchResult(msgspec.Struct):
    # Per accept, in order: the stored payment and whether this batch created it.
    accepted: list[tuple[Payment, bool]]
    # Per transition, in order: whether it applied (False: the payment had moved on).
    applied: list[bool]


class HistoryRow(msgspec.Struct, frozen=True):
    payment_id: str
    from_state: str | None
    to_state: str
    at: str
    cause: str
    reason: str | None


class OutboxEvent(msgspec.Struct, frozen=True):
    event_id: int
    payment_id: str
    type: str
    body: dict[str, Any]
    created_at: str


class JournalEntry(msgspec.Struct, frozen=True):
    """One message that crossed a channel boundary (switch.journal), as the store keeps it."""

    channel: str
    direction: str  # out / in
    at: str  # ISO 8601 UTC, injected clock
    kind: str  # pacs.008.001.08, MT103, 0200, ... ("?" when unreadable)
    data: bytes
    payment_ids: tuple[str, ...]


class SummaryRow(msgspec.Struct, frozen=True):
    state: str
    channel: str | None
    currency: str
    count: int
    amount: int
    fee: int


def cap_totals(transitions: list[Transition]) -> list[tuple[str, str, str, int]]:
    """The net change per ``route_caps`` key of these transitions, in key order (the order
    rows are locked in, the same in every process); keys that net to zero are left out.

    >>> day = "2026-03-02"
    >>> t = Transition(payment_id="p", from_state="A", to_state="B", at="", cause="",
    ...                caps=(CapDelta("IBPS", day, "62", 5), CapDelta("IBPS", day, "9", -5)))
    >>> cap_totals([t, t])
    [('IBPS', '2026-03-02', '62', 10), ('IBPS', '2026-03-02', '9', -10)]
    """
    totals: dict[tuple[str, str, str], int] = {}
    for t in transitions:
        for d in t.caps:
            keys = [(d.channel, d.business_date, "")]
            if d.debtor_account:  # '' names the channel row: never count it twice
                keys.append((d.channel, d.business_date, d.debtor_account))
            for key in keys:
                totals[key] = totals.get(key, 0) + d.amount
    return [(*key, n) for key, n in sorted(totals.items()) if n]


# Moves that end a payment's position reservation at once (nothing reached the books); a move
# to SETTLED marks it to end once the books have posted the settlement.
POSITION_RELEASING = ("REJECTED", "CANCELLED")


class PositionWrites(msgspec.Struct, frozen=True):
    """What applied moves do to reservations, one net action per payment: its claim taken
    (or moved to another channel), given back, and/or marked settled."""

    claims: list[tuple[str, PositionClaim]]
    ended: list[str]
    settled: list[str]


def position_writes(applied: list[Transition]) -> PositionWrites:
    """The net effect of ``applied`` (in the order they were applied) on reservations: a
    payment that moves more than once in a batch ends with what its last move decided.

    >>> c = PositionClaim("IBPS", "CNY", 5, available=9, as_of=0)
    >>> t = lambda to, **kw: Transition(payment_id="p", from_state="", to_state=to, at="",
    ...                                 cause="", **kw)
    >>> position_writes([t("ROUTED", channel="IBPS", position=c), t("SETTLED")]).settled
    ['p']
    >>> position_writes([t("ROUTED", channel="IBPS", position=c), t("REJECTED")]).ended
    ['p']
    """
    claim: dict[str, PositionClaim | None] = {}  # None: given back
    settled: set[str] = set()
    for t in applied:
        if t.position is not None:
            claim[t.payment_id] = t.position
            settled.discard(t.payment_id)
        elif t.to_state in POSITION_RELEASING or (t.to_state == "ROUTED" and t.channel):
            claim[t.payment_id] = None
        elif t.to_state == "SETTLED":
            settled.add(t.payment_id)
    return PositionWrites(
        claims=[(pid, c) for pid, c in claim.items() if c is not None],
        ended=[pid for pid, c in claim.items() if c is None],
        settled=sorted(pid for pid in settled if claim.get(pid, True) is not None))


def position_refusals(claims: list[tuple[int, PositionClaim]],
                      reserved: dict[tuple[str, str], int],
                      gc_upto: dict[tuple[str, str], int]) -> set[int]:
    """Which claims (by index) do not fit: ``reserved`` is what other payments hold of each
    position as the oldest claiming snapshot sees it, ``gc_upto`` the newest snapshot whose
    settled reservations were forgotten (an older snapshot would count their money twice as
    available). Claims are granted in order, each counting those granted before it.

    >>> c = PositionClaim("HVPS", "CNY", 60, available=100, as_of=7)
    >>> sorted(position_refusals([(0, c), (1, c)], {}, {}))
    [1]
    >>> sorted(position_refusals([(0, c)], {}, {("HVPS", "CNY"): 8}))
    [0]
    """
    held = dict(reserved)
    refused: set[int] = set()
    for i, c in claims:
        key = (c.channel, c.currency)
        taken = held.get(key, 0)
        if c.as_of < gc_upto.get(key, 0) or taken + c.amount > c.available:
            refused.add(i)
            continue
        held[key] = taken + c.amount
    return refused


class StoreError(Exception):
    code = "STORE_ERROR"


class ThreadLoad(msgspec.Struct):
    """What one kind of job cost the embedded store's database thread since it started: how
    many ran, how long they waited for the thread, how long they held it (seconds)."""

    jobs: int = 0
    waited_s: float = 0.0
    busy_s: float = 0.0


_order_encoder = msgspec.msgpack.Encoder()
_order_decoder = msgspec.msgpack.Decoder(Order)
_body_encoder = msgspec.msgpack.Encoder()
_body_decoder = msgspec.msgpack.Decoder(dict[str, Any])


def encode_order(order: Order) -> bytes:
    return _order_encoder.encode(order)


def decode_order(blob: bytes) -> Order:
    return _order_decoder.decode(blob)


def encode_body(body: dict[str, Any]) -> bytes:
    return _body_encoder.encode(body)


def decode_body(blob: bytes) -> dict[str, Any]:
    return _body_decoder.decode(blob)


class Store(ABC):
    """Payments, their history, the outbox, and the ledger tables the poster writes."""

    url: str

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema to the current version (migrations are automatic)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def durability(self) -> dict[str, str]:
        """The settings that decide whether an acknowledged order survives a crash or a power
        loss, as the database reports them (docs/durability in the README)."""

    def thread_load(self) -> dict[str, ThreadLoad]:
        """Per kind of job (commit, journal, books_post, ...), what the one thread that runs
        every statement on the database file did; empty for a store without one (PostgreSQL
        serves from a pool of connections)."""
        return {}

    # -- the transaction path ---------------------------------------------------------------
    @abstractmethod
    async def commit(self, batch: WriteBatch) -> BatchResult:
        """Apply a whole batch in one transaction; on error nothing of it is applied."""

    @abstractmethod
    async def payment(self, payment_id: str) -> Payment | None: ...

    @abstractmethod
    async def payment_by_client_key(self, client_id: str, client_order_id: str) -> Payment | None:
        ...

    @abstractmethod
    async def payments_in_states(self, states: list[str], *, mine: bool = False
                                 ) -> list[Payment]:
        """Payments in these states; with ``mine``, only those this worker of a cluster drives
        (switch.cluster; a store outside a cluster has no other worker)."""

    @abstractmethod
    async def history(self, payment_id: str) -> list[HistoryRow]: ...

    @abstractmethod
    async def intake_errors(self, client_id: str) -> list[IntakeError]: ...

    @abstractmethod
    async def summary(self) -> list[SummaryRow]: ...

    @abstractmethod
    async def route_caps(self, since: str) -> list[CapRow]:
        """Daily caps used on business days >= ``since`` (ISO date), channel rows included."""

    @abstractmethod
    async def position_reserved(self, as_of: int) -> dict[tuple[str, str], int]:
        """(channel, currency) -> the reservations of routed payments that the books, posted
        up to outbox event ``as_of``, do not reflect yet (every process's)."""

    @abstractmethod
    async def route_decision(self, payment_id: str) -> dict[str, Any] | None:
        """The payment's latest routing decision as ``payswitch route --explain`` prints it
        (channel, scheduled_for, reason_code, candidates, cost...); None if never routed."""

    # -- micro-payment batches ----------------------------------------------------------------
    @abstractmethod
    async def batches(self, states: list[str] | None = None) -> list[BatchRow]:
        """Batches, oldest first; only those in ``states`` when given."""

    @abstractmethod
    async def batch(self, batch_id: str) -> BatchRow | None: ...

    @abstractmethod
    async def batch_members(self, batch_id: str) -> list[tuple[str, int]]:
        """(payment id, amount) of each member, in the order they joined."""

    @abstractmethod
    async def request_batch_retry(self, batch_id: str) -> bool:
        """Flag a batch for the engine to push on; False when there is no such batch."""

    # -- the message journal ----------------------------------------------------------------
    @abstractmethod
    async def record_messages(self, entries: list[JournalEntry]) -> None:
        """Keep messages (compressed) with the payments they were about, in one transaction."""

    @abstractmethod
    async def messages(self, payment_id: str) -> list[JournalEntry]:
        """Every kept message about a payment, in the order they were recorded."""

    @abstractmethod
    async def outbox_has(self, key: str, event_type: str) -> bool:
        """Whether an event of this type was written under this key (payment or reference)."""

    # -- the accounting side reads the outbox (never the transaction path) -----------------
    @abstractmethod
    async def outbox_after(self, event_id: int, limit: int) -> list[OutboxEvent]: ...

    @abstractmethod
    async def outbox_count_after(self, event_id: int, cap: int) -> int:
        """How many committed events follow ``event_id``, counting no further than ``cap``."""


# A batch row in the column order of the `batches` table, both ways; both stores share them.
def batch_row(b: BatchRow) -> tuple[object, ...]:
    return (b.batch_id, b.profile, b.channel, b.currency, b.payee, b.payee_account,
            b.window_key, b.seq, b.state, b.opened_at, b.closes_at, b.end_to_end_id, b.uetr,
            b.members, b.total, b.fee, b.fee_alone, b.business_date, b.closed_at,
            b.submitted_at, b.finished_at, b.reason, b.retry)


def batch_of(r: Any) -> BatchRow:
    return BatchRow(
        batch_id=r[0], profile=r[1], channel=r[2], currency=r[3], payee=bytes(r[4]),
        payee_account=r[5], window_key=r[6], seq=r[7], state=r[8], opened_at=r[9],
        closes_at=r[10], end_to_end_id=r[11], uetr=r[12], members=r[13], total=r[14],
        fee=r[15], fee_alone=r[16], business_date=r[17], closed_at=r[18], submitted_at=r[19],
        finished_at=r[20], reason=r[21], retry=bool(r[22]))
