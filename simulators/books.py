"""A simulated channel's own books: participants' settlement balances and every item it saw.

The books are the channel's truth. Reconciliation compares the switch against the statement
they produce, and the regression tests compare the switch's ledger against them, so they keep
every balance movement with its business day and never change one after the fact (a return is
a new, opposite movement).

A statement fault plan (`simulators.faults.StatementFaults`) makes the statement depart from
what was replied, deterministically per item from the seed: the item is missing, or listed for
another amount, and phantom items appear. The books record every difference they inject
(`injected`), so a test can demand that reconciliation finds exactly those.

>>> from datetime import UTC, date, datetime
>>> books = SimBooks({"A": 1000, "B": 0}, currency="CNY")
>>> item = books.receive(SimItem(end_to_end_id="E1", tx_id="T1", amount=300, currency="CNY",
...     debtor_agent="A", creditor_agent="B", received_at=datetime(2026, 3, 2, tzinfo=UTC)))
>>> books.settle(item, date(2026, 3, 2), datetime(2026, 3, 2, tzinfo=UTC))
>>> books.balance("A"), books.balance("B")
(700, 300)
>>> s = books.statement("A", date(2026, 3, 2))
>>> s.opening, s.closing, [(ln.end_to_end_id, ln.signed_amount) for ln in s.lines]
(1000, 700, [('E1', -300)])
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime
from enum import StrEnum

import msgspec

from simulators.faults import StatementFaults

__all__ = [
    "InjectedDifference",
    "ItemState",
    "Movement",
    "SimBooks",
    "SimItem",
    "StatementData",
    "StatementLine",
]


class ItemState(StrEnum):
    RECEIVED = "RECEIVED"  # taken in, not yet decided (a package waiting for its session)
    QUEUED = "QUEUED"  # waiting for the sender's funds (HVPS queue)
    SETTLED = "SETTLED"
    REJECTED = "REJECTED"
    RETURNED = "RETURNED"  # settled, then sent back
    REVERSED = "REVERSED"  # settled, then undone at the sender's request (UnionPay 0400)


class SimItem(msgspec.Struct, kw_only=True):
    """One payment as the channel booked (or refused) it, keyed by its end-to-end id."""

    end_to_end_id: str
    tx_id: str
    amount: int
    currency: str
    debtor_agent: str
    creditor_agent: str
    received_at: datetime
    uetr: str | None = None
    debtor_account: str | None = None
    creditor_account: str | None = None
    state: ItemState = ItemState.RECEIVED
    reason: str | None = None
    decided_at: datetime | None = None
    business_date: date | None = None  # the channel day it settled on
    channel_ref: str | None = None  # the channel's own reference (settlement id, RRN...)
    remittance_info: str | None = None
    detail: str | None = None  # the channel's own status text (e.g. a gpi G-code)
    msg_id: str | None = None  # the message it came in, and that message's name
    msg_name: str | None = None

    def content(self) -> tuple[object, ...]:
        """What must match for a resend to be the same payment (not a new one)."""
        return (self.tx_id, self.uetr, self.amount, self.currency, self.debtor_agent,
                self.debtor_account, self.creditor_agent, self.creditor_account)


class Movement(msgspec.Struct, frozen=True):
    """One change to a participant's settlement balance."""

    participant: str
    currency: str
    amount: int  # signed: negative debits the participant
    business_date: date
    at: datetime
    end_to_end_id: str  # the item's, or a funding reference
    kind: str  # settle / return / reverse / fund
    counterparty: str | None = None


class StatementLine(msgspec.Struct, frozen=True):
    end_to_end_id: str
    tx_id: str | None
    uetr: str | None
    signed_amount: int  # minor units; negative: a debit to the participant
    currency: str
    booked_at: datetime
    kind: str
    counterparty: str | None = None


class StatementData(msgspec.Struct, frozen=True):
    """A participant's account for one business day, as the channel states it."""

    participant: str
    currency: str
    business_date: date
    opening: int
    closing: int
    lines: tuple[StatementLine, ...]


class InjectedDifference(msgspec.Struct, frozen=True):
    """A way the statement departs from what the channel replied."""

    kind: str  # omitted / amount / extra
    end_to_end_id: str
    business_date: date
    replied_amount: int  # what the channel settled and said (0 for an extra item)
    stated_amount: int  # what the statement shows (0 for an omitted item)


class SimBooks:
    def __init__(self, participants: dict[str, int], *, currency: str,
                 seed: int = 0, statement_faults: StatementFaults | None = None) -> None:
        self.currency = currency
        self._opening = {(p, currency): amount for p, amount in participants.items()}
        self._balances = dict(self._opening)
        self.participants = set(participants)
        self.items: dict[str, SimItem] = {}
        self.received: Counter[str] = Counter()  # end-to-end id -> times it arrived
        self.movements: list[Movement] = []
        self._seed = seed
        self._faults = statement_faults
        self._injected: dict[tuple[str, date, str], InjectedDifference] = {}

    # -- balances ----------------------------------------------------------------------------

    def balance(self, participant: str, currency: str | None = None) -> int:
        return self._balances.get((participant, currency or self.currency), 0)

    def balances(self, currency: str | None = None) -> dict[str, int]:
        ccy = currency or self.currency
        return {p: v for (p, c), v in self._balances.items() if c == ccy}

    def _move(self, participant: str, currency: str, amount: int, day: date, at: datetime,
              e2e: str, kind: str, counterparty: str | None) -> None:
        key = (participant, currency)
        self._balances[key] = self._balances.get(key, 0) + amount
        self.movements.append(Movement(participant, currency, amount, day, at, e2e, kind,
                                       counterparty))

    def open_account(self, participant: str, currency: str, opening: int) -> None:
        """An account in another currency, holding ``opening`` before the books' first day
        (a SWIFT participant keeps a nostro per currency).

        >>> books = SimBooks({"A": 1000}, currency="CNY")
        >>> books.open_account("A", "USD", 50)
        >>> books.balance("A", "USD"), books.balance("A")
        (50, 1000)
        """
        if (participant, currency) in self._balances:
            raise ValueError(f"{participant} already has a {currency} account")
        self.participants.add(participant)
        self._opening[(participant, currency)] = opening
        self._balances[(participant, currency)] = opening

    def fund(self, participant: str, amount: int, day: date, at: datetime, ref: str,
             currency: str | None = None) -> None:
        """Money raised into (or out of, amount < 0) a participant's settlement account."""
        self.participants.add(participant)
        self._move(participant, currency or self.currency, amount, day, at, ref, "fund", None)

    # -- items -------------------------------------------------------------------------------

    def receive(self, item: SimItem) -> SimItem:
        """Count an arrival and keep the item (first arrival only; see `content` for resends)."""
        self.received[item.end_to_end_id] += 1
        return self.items.setdefault(item.end_to_end_id, item)

    def settle(self, item: SimItem, day: date, at: datetime) -> None:
        if item.state in (ItemState.SETTLED, ItemState.RETURNED, ItemState.REVERSED):
            raise ValueError(f"item {item.end_to_end_id} is already {item.state}")
        self._move(item.debtor_agent, item.currency, -item.amount, day, at, item.end_to_end_id,
                   "settle", item.creditor_agent)
        self._move(item.creditor_agent, item.currency, item.amount, day, at, item.end_to_end_id,
                   "settle", item.debtor_agent)
        item.state, item.reason, item.decided_at, item.business_date = (
            ItemState.SETTLED, None, at, day)

    def reject(self, item: SimItem, reason: str, at: datetime) -> None:
        if item.state not in (ItemState.RECEIVED, ItemState.QUEUED):
            raise ValueError(f"item {item.end_to_end_id} is already {item.state}")
        item.state, item.reason, item.decided_at = ItemState.REJECTED, reason, at

    def unwind(self, item: SimItem, reason: str, day: date, at: datetime, *,
               state: ItemState = ItemState.RETURNED) -> None:
        """Send a settled item's money back (a return, or a reversal): new opposite movements."""
        if item.state is not ItemState.SETTLED:
            raise ValueError(f"only a settled item can be {state.lower()}, "
                             f"{item.end_to_end_id} is {item.state}")
        kind = "return" if state is ItemState.RETURNED else "reverse"
        self._move(item.creditor_agent, item.currency, -item.amount, day, at,
                   item.end_to_end_id, kind, item.debtor_agent)
        self._move(item.debtor_agent, item.currency, item.amount, day, at, item.end_to_end_id,
                   kind, item.creditor_agent)
        item.state, item.reason, item.decided_at = state, reason, at

    def settled_total(self, state: ItemState = ItemState.SETTLED) -> int:
        return sum(i.amount for i in self.items.values() if i.state is state)

    # -- statements --------------------------------------------------------------------------

    def statement(self, participant: str, day: date, currency: str | None = None
                  ) -> StatementData:
        """The participant's account for business day ``day`` as the channel states it."""
        ccy = currency or self.currency
        opening = self._opening.get((participant, ccy), 0)
        lines: list[StatementLine] = []
        for m in self.movements:
            if m.participant != participant or m.currency != ccy or m.business_date > day:
                continue
            fault = self._fault_of(m)
            stated = self._stated(m, fault)
            if m.business_date < day:
                opening += stated
            elif fault != "omitted":
                item = self.items.get(m.end_to_end_id)
                lines.append(StatementLine(
                    m.end_to_end_id, item.tx_id if item else None, item.uetr if item else None,
                    stated, ccy, m.at, m.kind, m.counterparty))
        for k in range(self._faults.extra if self._faults else 0):
            ref = f"XTRA{day:%Y%m%d}{participant[-4:]}{k:03d}"
            amount = -self._faults.extra_amount if self._faults else 0
            self._record(InjectedDifference("extra", ref, day, 0, amount), participant)
            lines.append(StatementLine(ref, ref, None, amount, ccy,
                                       datetime.combine(day, datetime.min.time()), "settle"))
        closing = opening + sum(ln.signed_amount for ln in lines)
        return StatementData(participant, ccy, day, opening, closing, tuple(lines))

    def injected(self, participant: str | None = None) -> list[InjectedDifference]:
        """Every difference the statements produced so far carry (for tests and recon)."""
        return [d for (p, _, _), d in sorted(self._injected.items())
                if participant is None or p == participant]

    def _fault_of(self, m: Movement) -> str | None:
        if self._faults is None or m.kind != "settle":
            return None
        u = random.Random(f"{self._seed}:{m.end_to_end_id}").random()
        if u < self._faults.omit:
            return "omitted"
        if u < self._faults.omit + self._faults.amount:
            return "amount"
        return None

    def _stated(self, m: Movement, fault: str | None) -> int:
        if fault is None:
            return m.amount
        sign = -1 if m.amount < 0 else 1
        stated = 0 if fault == "omitted" else m.amount + sign * (
            self._faults.amount_delta if self._faults else 0)
        self._record(InjectedDifference(fault, m.end_to_end_id, m.business_date,
                                        m.amount, stated), m.participant)
        return stated

    def _record(self, diff: InjectedDifference, participant: str) -> None:
        self._injected[(participant, diff.business_date, diff.end_to_end_id)] = diff
