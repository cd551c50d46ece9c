"""The contract between the switch and a channel adapter.

The switch hands an adapter payments to submit and asks it for statuses; the adapter answers
through the `on_status` callback, never by touching the store or the ledger (DESIGN.md layout).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import StrEnum

import msgspec

from switch.order import Payment


class Outcome(StrEnum):
    SETTLED = "SETTLED"
    REJECTED = "REJECTED"
    PENDING = "PENDING"  # the channel has it and has not finished (e.g. HVPS queue)
    UNKNOWN = "UNKNOWN"  # no answer in time: resolve only by inquiry, never by a guess
    NOT_FOUND = "NOT_FOUND"  # inquiry answer: the channel never received it


class ChannelStatus(msgspec.Struct, frozen=True):
    """What a channel said about one payment, identified by the ids the switch gave it."""

    payment_id: str
    end_to_end_id: str
    outcome: Outcome
    reason: str | None = None  # ISO 20022 external reason code (channel codes mapped)
    channel_ref: str | None = None  # the channel's own id for the item, when it gives one
    detail: str | None = None


class ChannelError(Exception):
    """The adapter could not hand the payment to the channel; nothing was sent."""

    code = "CHANNEL_UNAVAILABLE"


StatusCallback = Callable[[ChannelStatus], None]


class ChannelAdapter(ABC):
    channel: str

    def __init__(self) -> None:
        self.on_status: StatusCallback = _unset

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
        """Ask the channel for the payment's status; the answer comes through on_status."""


def _unset(status: ChannelStatus) -> None:
    raise RuntimeError(f"adapter has no on_status callback for {status.payment_id}")
