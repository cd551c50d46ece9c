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


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """Move one payment from `from_state` to `to_state`; applied only if it is still there."""

    payment_id: str
    from_state: str
    to_state: str
    at: str
    cause: str
    reason: str | None = None
    channel: str | None = None
    fee: int | None = None
    events: tuple[Event, ...] = ()


class IntakeError(msgspec.Struct, frozen=True):
    """A submission that never became a payment (undecodable order): kept for audit."""

    client_id: str
    code: str
    detail: str
    raw: bytes
    at: str
    seq: int | None = None


class WriteBatch(msgspec.Struct):
    accepts: list[NewPayment] = msgspec.field(default_factory=list)
    transitions: list[Transition] = msgspec.field(default_factory=list)
    intake_errors: list[IntakeError] = msgspec.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.accepts) + len(self.transitions) + len(self.intake_errors)


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


class SummaryRow(msgspec.Struct, frozen=True):
    state: str
    channel: str | None
    currency: str
    count: int
    amount: int
    fee: int


class StoreError(Exception):
    code = "STORE_ERROR"


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
    async def payments_in_states(self, states: list[str]) -> list[Payment]: ...

    @abstractmethod
    async def history(self, payment_id: str) -> list[HistoryRow]: ...

    @abstractmethod
    async def intake_errors(self, client_id: str) -> list[IntakeError]: ...

    @abstractmethod
    async def summary(self) -> list[SummaryRow]: ...

    # -- the accounting side reads the outbox (never the transaction path) -----------------
    @abstractmethod
    async def outbox_after(self, event_id: int, limit: int) -> list[OutboxEvent]: ...
