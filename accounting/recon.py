"""Reconciliation: a channel's statement against the switch's payments and the ledger.

Matching is by the reference the channel quotes (the switch's end-to-end id; a batch's own id
for the members it carried). Every reference's lines are netted first, so a UnionPay item the
switch reversed (settled, then 0400) or a same-day return nets to nothing, like the switch's
books. What the switch expects of a reference follows from the payment's state: SETTLED, the
amount out; REJECTED, RETURNED or CANCELLED, nothing; still SUBMITTED or UNKNOWN, no verdict.

Breaks, by kind (`KINDS`): ``long`` in the statement only; ``short`` settled in the switch,
absent from the statement; ``amount`` / ``currency`` both know it, the figures differ;
``status`` the channel settled what the switch holds as not (yet) settled (at another amount
than the switch's, an ``amount`` break too, for the difference); ``duplicate`` the
statement books it more than once; ``balance`` the statement's movement differs from the
clearing account's by more than the item breaks explain.

The clearing account's figure for the day is taken from the ledger itself: the postings to
``clearing:<CHANNEL>`` of the day's payments and batches, and of the corrections booked for
the day's breaks; the closing balance compared is the statement's opening plus that.

>>> from accounting.statements import StatementItem
>>> switch = {"E1": SwitchItem("E1", "p1", "SETTLED", 500, "CNY"),
...           "E2": SwitchItem("E2", "p2", "SETTLED", 700, "CNY"),
...           "E3": SwitchItem("E3", "p3", "UNKNOWN", 900, "CNY")}
>>> lines = [StatementItem("E1", -500, "CNY", "settle"), StatementItem("E3", -900, "CNY", "settle"),
...          StatementItem("X9", -10, "CNY", "settle")]
>>> found = match(lines, switch)
>>> found.matched
1
>>> for b in sorted(found.breaks, key=lambda b: b.kind):
...     print(b.kind, b.reference, b.stated, b.expected, b.suggested)
long X9 -10 0 credit-adjustment
short E2 0 -700 credit-adjustment
status E3 -900 0 settle-from-statement
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from accounting.statements import StatementItem

__all__ = ["ACTIONS", "KINDS", "Break", "Match", "SwitchItem", "allowed_actions",
           "clearing_delta", "match"]

KINDS = ("long", "short", "amount", "currency", "status", "duplicate", "balance")
ACTIONS = ("settle-from-statement", "reverse", "make-up", "credit-adjustment",
           "return-to-originator")
# The states whose books say the money did not (or no longer) leave: expected movement 0.
_NOTHING_MOVED = frozenset({"REJECTED", "RETURNED", "CANCELLED"})
_PENDING = ("SUBMITTED", "UNKNOWN")  # no verdict yet: what the channel says may be right


class SwitchItem(msgspec.Struct, frozen=True, gc=False):
    """What the switch knows of one reference: a payment, or a batch's one channel payment."""

    reference: str
    payment_id: str
    state: str
    amount: int
    currency: str
    batch: bool = False

    def expected(self) -> int | None:
        """The movement it should show on our account: None while the switch has no verdict."""
        if self.state == "SETTLED":
            return -self.amount
        return 0 if self.state in _NOTHING_MOVED else None


class Break(msgspec.Struct, frozen=True):
    kind: str
    reference: str
    currency: str
    stated: int  # what the statement moves for it (0: absent)
    expected: int  # what the switch's books move for it (0: nothing, or no verdict yet)
    payment_id: str | None = None
    state: str | None = None  # the payment's state in the switch
    suggested: str = "credit-adjustment"
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a break the same one on a re-run (its kind, reference and currency)."""
        return (self.kind, self.reference, self.currency)


class Match(msgspec.Struct):
    matched: int = 0
    items: int = 0  # statement lines read
    breaks: list[Break] = msgspec.field(default_factory=list)


def clearing_delta(b: Break) -> int:
    """What booking the statement's side of a break moves the clearing account by."""
    return b.stated - b.expected


def allowed_actions(b: Break) -> tuple[str, ...]:
    """The actions that can clear a break of this kind (the first one is the suggestion)."""
    if b.kind == "status":
        # a payment the switch holds as final (rejected) cannot be settled after the fact:
        # the channel paid out what nobody was debited for, so it is claimed back
        return ("settle-from-statement", "credit-adjustment") if b.state in _PENDING \
            else ("credit-adjustment",)
    if b.kind == "short":
        return ("credit-adjustment", "reverse") if not b.state or b.state == "SETTLED" \
            else ("credit-adjustment",)
    if b.kind == "amount":
        return ("make-up", "credit-adjustment")
    if b.kind == "long":
        return ("return-to-originator", "credit-adjustment") if b.stated > 0 \
            else ("credit-adjustment",)
    return ("credit-adjustment",)  # duplicate, currency, balance: park it, claim it


def _break(kind: str, ref: str, ccy: str, stated: int, expected: int, item: SwitchItem | None,
           detail: str) -> Break:
    b = Break(kind, ref, ccy, stated, expected,
              payment_id=item.payment_id if item else None, state=item.state if item else None,
              detail=detail)
    return msgspec.structs.replace(b, suggested=allowed_actions(b)[0])


def _net(lines: Iterable[StatementItem], result: Match, tick: Callable[[int], None] | None
         ) -> tuple[dict[str, StatementItem], dict[str, list[Any]]]:
    """Each reference's first line, and for a reference with several lines their sum:
    [net amount, currency, debit lines, credit lines, another currency met]."""
    first: dict[str, StatementItem] = {}
    several: dict[str, list[Any]] = {}
    setdefault = first.setdefault
    n = 0
    for n, ln in enumerate(lines, start=1):
        if tick is not None and not n % _TICK:
            tick(_TICK)
        seen = setdefault(ln.reference, ln)
        if seen is ln:
            continue
        row = several.get(ln.reference)
        if row is None:
            row = several[ln.reference] = [seen.amount, seen.currency, seen.amount < 0,
                                           seen.amount > 0, None]
        row[0] += ln.amount
        row[2] += ln.amount < 0
        row[3] += ln.amount > 0
        if ln.currency != row[1]:
            row[4] = ln.currency
    if tick is not None:
        tick(n % _TICK)
    result.items = n
    return first, several


def match(lines: Iterable[StatementItem], switch: dict[str, SwitchItem],
          tick: Callable[[int], None] | None = None) -> Match:
    """Classify every statement reference and every switch item of the day (`switch`:
    reference -> item, the day's payments and batches plus those without a verdict)."""
    result = Match()
    first, several = _net(lines, result, tick)
    breaks = result.breaks
    matched = 0
    get = switch.get
    for ref, ln in first.items():
        item = get(ref)
        # the day's bulk: one line, the amount the switch settled
        if (item is not None and item.state == "SETTLED" and ln.amount == -item.amount
                and ln.currency == item.currency and ref not in several):
            matched += 1
            continue
        row = several.get(ref)
        net, ccy, debits, credits, other = row if row is not None else (
            ln.amount, ln.currency, ln.amount < 0, ln.amount > 0, None)
        if item is None:
            breaks.append(_break("long", ref, ccy, net, 0, None, "in the statement only"))
            continue
        expected = item.expected()
        if debits > 1 and expected is not None and net < expected:
            breaks.append(_break("duplicate", ref, ccy, net, expected, item,
                                 f"booked {debits} times"))
        elif other is not None or ccy != item.currency:
            breaks.append(_break("currency", ref, other or ccy, net, 0, item,
                                 f"the switch sent {item.currency}"))
        elif expected is None:
            if not net:
                matched += 1
                continue
            # settling it from the statement books the switch's amount: what the channel
            # stated beyond that is a difference of its own
            settled = -item.amount if net < 0 else net
            breaks.append(_break("status", ref, ccy, settled, 0, item,
                                 f"{item.state} in the switch, settled by the channel"))
            if net != settled:
                breaks.append(_break("amount", ref, ccy, net, settled, item,
                                     f"stated {net}, the switch's amount {settled}"))
        elif net == expected:
            matched += 1
        elif expected == 0 and credits == 0:
            breaks.append(_break("status", ref, ccy, net, 0, item,
                                 f"{item.state} in the switch, settled by the channel"))
        else:
            breaks.append(_break("amount", ref, ccy, net, expected, item,
                                 f"stated {net}, booked {expected}"))
    for ref in sorted(switch.keys() - first.keys()):
        item = switch[ref]
        expected = item.expected()
        if expected:
            breaks.append(_break("short", ref, item.currency, 0, expected, item,
                                 "settled in the switch, absent from the statement"))
    result.matched = matched
    return result


_TICK = 1 << 16  # lines between progress updates


def balance_break(currency: str, stated_movement: int, ledger_movement: int,
                  open_breaks: Iterable[Break]) -> Break | None:
    """A ``balance`` break for what the open item breaks do not explain, if anything.

    >>> balance_break("CNY", -1500, -1000, [Break("long", "X", "CNY", -500, 0)]) is None
    True
    >>> balance_break("CNY", -1500, -1000, []).stated
    -500
    """
    explained = sum(clearing_delta(b) for b in open_breaks
                    if b.currency == currency and b.kind != "balance")
    rest = stated_movement - ledger_movement - explained
    if not rest:
        return None
    return Break("balance", f"BALANCE-{currency}", currency, rest, 0,
                 detail=f"statement moved {stated_movement}, ledger {ledger_movement}, "
                        f"item breaks explain {explained}")
