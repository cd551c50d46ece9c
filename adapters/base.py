"""The contract between the switch and a channel adapter.

The switch hands an adapter payments to submit and asks it to resolve the ones whose outcome
is unknown; the adapter answers through the `on_status` callback, never by touching the store
or the ledger (DESIGN.md layout). Everything a channel says later on its own (a queued item
settles, a netting session settles a package, a receiving bank returns a payment, a gpi
status update) arrives the same way.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import ClassVar

import msgspec

from switch.order import Payment

__all__ = [
    "ChannelAdapter",
    "ChannelError",
    "ChannelStatus",
    "MessageRecord",
    "Outcome",
    "StatementFile",
]


class Outcome(StrEnum):
    SETTLED = "SETTLED"
    REJECTED = "REJECTED"
    PENDING = "PENDING"  # the channel has it and has not finished (e.g. HVPS queue)
    UNKNOWN = "UNKNOWN"  # no answer in time: resolve only by inquiry, never by a guess
    NOT_FOUND = "NOT_FOUND"  # inquiry answer: the channel never received it
    RETURNED = "RETURNED"  # settled, then sent back by the receiving side


class ChannelStatus(msgspec.Struct, frozen=True):
    """What a channel said about one payment, identified by the ids the switch gave it."""

    payment_id: str
    end_to_end_id: str
    outcome: Outcome
    reason: str | None = None  # ISO 20022 external reason code (channel codes mapped)
    channel_ref: str | None = None  # the channel's own id for the item, when it gives one
    detail: str | None = None


class StatementFile(msgspec.Struct, frozen=True):
    """An end-of-day statement as the channel delivered it."""

    channel: str
    business_date: date
    format: str  # camt.053.001.08, MT950, unionpay-settlement
    data: bytes


class MessageRecord(msgspec.Struct, frozen=True):
    """One message that crossed the channel boundary, and the payments it was about."""

    channel: str
    direction: str  # "out" to the channel, "in" from it
    payment_ids: tuple[str, ...]
    data: bytes  # as on the wire, without the link's length prefix


class ChannelError(Exception):
    """The adapter could not hand the payment to the channel; nothing was sent."""

    code = "CHANNEL_UNAVAILABLE"


StatusCallback = Callable[[ChannelStatus], None]
MessageCallback = Callable[[MessageRecord], None]


class ChannelAdapter(ABC):
    channel: ClassVar[str]
    # The channel takes one session per participant: in a cluster only the worker holding its
    # lease connects, and the others hand it their payments (switch.cluster).
    single_session: ClassVar[bool] = False

    def __init__(self) -> None:
        self.on_status: StatusCallback = _unset
        # The switch's message journal, when it keeps one (orders show, golden transcripts).
        self.on_message: MessageCallback | None = None
        self.statement_host: str = "127.0.0.1"
        self.statement_port: int | None = None

    @property
    @abstractmethod
    def connected(self) -> bool:
        """Whether a submit now could reach the channel (the engine holds payments otherwise)."""

    @abstractmethod
    async def start(self) -> None:
        """Connect (and sign on where the channel needs it)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def submit(self, payment: Payment) -> None:
        """Send the payment. Raises ChannelError when it could not be sent at all."""

    @abstractmethod
    async def inquire(self, payment: Payment) -> None:
        """Find out what became of a payment whose outcome is unknown: a status inquiry, or
        where the channel has none (UnionPay) a reversal. The answer comes through on_status."""

    async def fetch_statement(self, business_date: date, *, timeout: float = 60.0
                              ) -> StatementFile:
        """The channel's end-of-day statement of our settlement account for ``business_date``,
        from the channel's file service (JSON lines on the front end's address: the
        ``statement`` request of `simulators.base`)."""
        if self.statement_port is None:
            raise ChannelError(f"{self.channel}: no statement service configured")
        request = {"op": "statement", "date": business_date.isoformat(),
                   "participant": self.participant}
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.statement_host, self.statement_port, limit=1 << 30), timeout)
            try:
                writer.write(json.dumps(request).encode() + b"\n")
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), timeout)
            finally:
                writer.close()
        except (OSError, TimeoutError) as exc:
            raise ChannelError(f"{self.channel}: statement service unreachable: {exc}") from exc
        try:
            answer = json.loads(line)
        except ValueError as exc:
            raise ChannelError(f"{self.channel}: unreadable statement answer") from exc
        if not answer.get("ok"):
            raise ChannelError(f"{self.channel}: statement refused: {answer.get('error')} "
                               f"{answer.get('detail', '')}".rstrip())
        return StatementFile(self.channel, business_date, str(answer["format"]),
                             str(answer["data"]).encode("utf-8"))

    def journal(self, direction: str, payment_ids: tuple[str, ...] | list[str],
                data: bytes) -> None:
        """Hand one message to the switch's journal (nothing happens when it keeps none)."""
        if self.on_message is not None:
            self.on_message(MessageRecord(self.channel, direction, tuple(payment_ids), data))

    @property
    def participant(self) -> str:
        """Our participant code at the channel (whose statement we ask for)."""
        return ""


def _unset(status: ChannelStatus) -> None:
    raise RuntimeError(f"adapter has no on_status callback for {status.payment_id}")
