"""What every channel simulator has: a clock, a seed, a fault plan, its own books, a server.

A concrete simulator says how its channel reads a message (`on_frame`) and how it states an
account (`statement_document`); this class gives it the books, replies shaped by the fault
plan, notices for participants whose link is down (a real clearing system holds them until
the participant is back), and the admin operations tests and operators use (JSON lines,
`simulators.link`):

- ``statement`` {date, participant?}: ``format`` and ``data``, the end-of-day statement;
- ``books``: ``balances``, item counts by state, ``received`` arrivals, ``duplicates`` (arrivals
  of an item beyond its first), ``settled_amount``;
- ``items``: every item with its state, reason, amount and business day;
- ``fund`` {participant, amount, ref?, currency?}: money into (or out of) a settlement account;
- ``return`` {end_to_end_id, reason}: the receiving side sends a settled item back;
- ``injected`` {participant?}: the statement differences the fault plan put in so far;
- ``day_switch`` {date?}: what the channel does when its business day closes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import msgspec

from simulators.books import ItemState, SimBooks, SimItem
from simulators.faults import FaultAction, FaultDecision, FaultDice, FaultPlan
from simulators.link import Framing, SimLink, SimServer
from switch.clock import Clock

__all__ = ["ChannelSimulator", "SimConfig", "run_standalone"]

log = logging.getLogger("payswitch.simulators")

# An unreadable frame for the "garbage" fault: not XML, not MT, not ISO 8583.
_GARBAGE = b"\x00\xff\xfeGARBAGE\x07\x1b[2J"


class SimConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What every simulator is configured with; amounts in minor units of ``currency``."""

    participants: dict[str, int] = msgspec.field(
        default_factory=lambda: {"102100099996": 10**13})  # bank code -> opening balance
    currency: str = "CNY"
    closed_accounts: tuple[str, ...] = ()  # creditor accounts the receiving bank rejects AC04
    blocked_accounts: tuple[str, ...] = ()  # ... and AC06
    reply_delay_ms: int = 0  # added to every reply (the channel's own processing time)


class ChannelSimulator(ABC):
    name: ClassVar[str]
    Config: ClassVar[type[SimConfig]] = SimConfig
    framing: ClassVar[Framing]
    timezone: ClassVar[str] = "Asia/Shanghai"

    def __init__(self, config: SimConfig, clock: Clock, seed: int = 0,
                 faults: FaultPlan | None = None) -> None:
        self.config = config
        self.clock = clock
        self.seed = seed
        self.faults = faults or FaultPlan()
        self.dice = FaultDice(self.faults, seed)
        self.books = SimBooks(dict(config.participants), currency=config.currency, seed=seed,
                              statement_faults=self.faults.statement)
        self.server = SimServer(self.name, self.framing, clock, self.on_frame, self.admin,
                                on_connect=self.on_connect)
        self.tz = ZoneInfo(self.timezone)
        self.port: int | None = None  # where it listens, once started
        self._seq = 0
        self._held: dict[str, list[bytes]] = defaultdict(list)  # notices for absent participants
        self._link_of: dict[str, SimLink] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.port = await self.server.start(host, port)
        self.on_started()
        return self.port

    async def stop(self) -> None:
        await self.server.stop()

    def on_started(self) -> None:  # noqa: B027 - most channels keep no timers
        """Set up the channel's own timers (sessions, windows, day switch)."""

    def on_connect(self, link: SimLink) -> None:  # noqa: B027 - most channels need no greeting
        """A new connection (before any message)."""

    # -- the channel's behaviour -------------------------------------------------------------

    @abstractmethod
    def on_frame(self, link: SimLink, frame: bytes) -> None:
        """One message from a participant."""

    @abstractmethod
    def statement_document(self, participant: str, day: date) -> tuple[str, bytes]:
        """The participant's end-of-day statement for ``day``: (format name, document)."""

    def return_item(self, item: SimItem, reason: str) -> None:
        """The receiving side sends a settled item back (channels with returns override)."""
        raise ValueError(f"{self.name} does not return items")

    def day_switch(self, day: date) -> dict[str, Any]:
        """What the channel does when business day ``day`` closes (override per channel)."""
        return {}

    # -- inspection --------------------------------------------------------------------------

    def balances(self, currency: str | None = None) -> dict[str, int]:
        return self.books.balances(currency)

    def items(self) -> dict[str, SimItem]:
        return dict(self.books.items)

    def received_count(self, end_to_end_id: str) -> int:
        return self.books.received[end_to_end_id]

    def settled_by_currency(self) -> dict[str, int]:
        """What stands settled per currency (returned and reversed items excluded): the money
        the senders' books must show moved out through this channel."""
        out: dict[str, int] = {}
        for item in self.books.items.values():
            if item.state is ItemState.SETTLED:
                out[item.currency] = out.get(item.currency, 0) + item.amount
        return out

    def duplicates(self) -> int:
        """Arrivals of an item beyond its first: what a switch must never cause by a resend
        under a new identifier (the books count identical resends here too)."""
        return sum(n - 1 for n in self.books.received.values() if n > 1)

    # -- helpers for concrete simulators -----------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def local_now(self) -> datetime:
        return self.clock.now().astimezone(self.tz)

    def business_date(self, at: datetime | None = None) -> date:
        """The channel business day of ``at`` (default: now): its local calendar date."""
        return (at or self.clock.now()).astimezone(self.tz).date()

    def next_id(self, prefix: str | None = None) -> str:
        self._seq += 1
        return f"{prefix or self.name.upper()}{self._seq:012d}"

    def answer(self, link: SimLink, message: bytes, decision: FaultDecision) -> None:
        """Send a reply the way the fault plan says (sent, lost, late, doubled, broken...)."""
        action = decision.action
        if action is FaultAction.DROP:
            return
        if action is FaultAction.CLOSE:
            link.close()
            return
        if action is FaultAction.PARTIAL:
            link.send_partial_then_drop(message)
            return
        delay = self.config.reply_delay_ms + decision.delay_ms
        if action is FaultAction.GARBAGE:
            link.send(_GARBAGE, delay)
        link.send(message, delay)
        if action is FaultAction.DUPLICATE:
            link.send(message, delay)

    def bind(self, link: SimLink, participant: str) -> None:
        """``link`` speaks for ``participant``: later notices go there; held ones go now."""
        self._link_of[participant] = link
        for message in self._held.pop(participant, ()):
            link.send(message)

    def notify(self, participant: str, message: bytes, delay_ms: int = 0,
               decision: FaultDecision | None = None) -> None:
        """An unsolicited message to a participant; held until it is connected again. With a
        fault ``decision`` it goes out the way that says (`answer`) when it goes out now."""
        link = self._link_of.get(participant)
        if link is None or not link.open:
            self._held[participant].append(message)
            return
        if decision is None:
            link.send(message, delay_ms)
        else:
            self.answer(link, message, decision)

    # -- admin -------------------------------------------------------------------------------

    def admin(self, request: Mapping[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "statement":
            day = date.fromisoformat(str(request["date"]))
            participant = str(request.get("participant") or next(iter(self.config.participants)))
            fmt, data = self.statement_document(participant, day)
            return {"format": fmt, "participant": participant, "date": day.isoformat(),
                    "data": data.decode("utf-8")}
        if op == "books":
            by_state: dict[str, int] = defaultdict(int)
            for item in self.books.items.values():
                by_state[item.state.value] += 1
            return {"balances": self.books.balances(), "items": dict(by_state),
                    "received": sum(self.books.received.values()),
                    "duplicates": self.duplicates(),
                    "settled_amount": self.books.settled_total(),
                    "settled_by_currency": self.settled_by_currency()}
        if op == "items":
            return {"items": [
                {"end_to_end_id": i.end_to_end_id, "state": i.state.value, "reason": i.reason,
                 "amount": i.amount, "currency": i.currency,
                 "business_date": i.business_date.isoformat() if i.business_date else None}
                for i in self.books.items.values()]}
        if op == "fund":
            participant, amount = str(request["participant"]), int(request["amount"])
            currency = str(request.get("currency") or self.books.currency)
            self.books.fund(participant, amount, self.business_date(), self.now(),
                            str(request.get("ref") or self.next_id("FUND")), currency)
            return {"balance": self.books.balance(participant, currency)}
        if op == "return":
            item = self.books.items[str(request["end_to_end_id"])]
            self.return_item(item, str(request.get("reason") or "NARR"))
            return {"state": item.state.value}
        if op == "injected":
            who = request.get("participant")
            return {"injected": [msgspec.to_builtins(d) for d in
                                 self.books.injected(str(who) if who else None)]}
        if op == "day_switch":
            day = date.fromisoformat(str(request["date"])) if request.get("date") \
                else self.business_date()
            return self.day_switch(day)
        raise ValueError(f"unknown op {op!r}")


async def run_standalone(sim: ChannelSimulator, port: int) -> int:
    """Serve until SIGINT/SIGTERM; prints ``LISTENING host:port`` once ready."""
    bound = await sim.start(port=port)
    print(f"LISTENING 127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()
    return 0
