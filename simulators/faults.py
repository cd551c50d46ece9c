"""Fault plans: what a simulator does wrong, as data, replayable from a seed.

A plan maps a message kind ("pacs.008", "pacs.028", "0200", "MT103", or "*" for any kind
without its own rule) to a `FaultRule` of probabilities. For every inbound message the simulator
asks `FaultDice` for one decision; the dice draw from `random.Random(seed)` a fixed number of
times per message, so the same seed, plan and input give the same decisions.

Actions (at most one per message, chosen from a single draw over the cumulative probabilities):

- ``drop``: the message is processed (booked) but its reply is never sent;
- ``delay``: the message is processed and its reply goes out ``delay_ms`` later (a delay past
  the switch's reply deadline is a *late reply*);
- ``reject``: the message is not booked; every transaction is answered with ``reject_code``
  (an ISO 20022 code, or the channel's native code, which the channel maps);
- ``close``: the message is processed (booked), then the connection closes without its reply;
- ``duplicate``: processed once, answered twice;
- ``garbage``: processed, then an unreadable frame goes out before the real reply;
- ``partial``: processed, then half of the reply is written and the connection drops
  (a disconnect mid-message);
- ``refuse``: a sign-on (or any session request) is refused.

Besides the per-kind rules, a plan can name accounts whose items are always rejected
(``reject_accounts``: creditor or debtor account -> code), a latency distribution for every
reply (``latency``), and statement faults (``statement``): the end-of-day statement then
differs from what was replied, which is what reconciliation exists to find. The simulator
records every such difference it injects.

>>> plan = FaultPlan.from_json(b'{"rules": {"pacs.008": {"drop": 1.0}}}')
>>> FaultDice(plan, seed=7).decide("pacs.008").action
<FaultAction.DROP: 'drop'>
>>> FaultDice(plan, seed=7).decide("pacs.028").action
<FaultAction.NONE: 'none'>
"""

from __future__ import annotations

import math
import random
from enum import StrEnum
from pathlib import Path

import msgspec

__all__ = [
    "FaultAction",
    "FaultDecision",
    "FaultDice",
    "FaultPlan",
    "FaultRule",
    "Latency",
    "StatementFaults",
]

# Message kinds that book money, so a reject fault means "refused, nothing booked"; an inquiry
# cannot be rejected without lying about the payment.
_REJECTABLE = frozenset({"pacs.008", "pacs.009", "0200", "MT103", "MT202", "*"})


class FaultRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Probabilities (0..1, summing to at most 1) of each fault for one message kind."""

    drop: float = 0.0
    delay: float = 0.0
    delay_ms: int = 0
    reject: float = 0.0
    reject_code: str = "MS03"
    close: float = 0.0
    duplicate: float = 0.0
    garbage: float = 0.0
    partial: float = 0.0
    refuse: float = 0.0

    def __post_init__(self) -> None:
        probs = self._probabilities()
        if any(p < 0.0 or p > 1.0 for _, p in probs) or sum(p for _, p in probs) > 1.0 + 1e-9:
            raise ValueError("fault probabilities must be within 0..1 and sum to at most 1")
        if self.delay_ms < 0:
            raise ValueError("delay_ms must not be negative")

    def _probabilities(self) -> tuple[tuple[FaultAction, float], ...]:
        # The order is part of the replay contract: never reorder, only append.
        return (
            (FaultAction.DROP, self.drop),
            (FaultAction.DELAY, self.delay),
            (FaultAction.REJECT, self.reject),
            (FaultAction.CLOSE, self.close),
            (FaultAction.DUPLICATE, self.duplicate),
            (FaultAction.GARBAGE, self.garbage),
            (FaultAction.PARTIAL, self.partial),
            (FaultAction.REFUSE, self.refuse),
        )


class Latency(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Reply latency: log-normal with this median and 99th percentile, capped at ``max_ms``.

    >>> lat = Latency(median_ms=20, p99_ms=200)
    >>> rng = random.Random(1)
    >>> sorted(lat.draw(rng) for _ in range(5))
    [14, 20, 36, 55, 68]
    """

    median_ms: float
    p99_ms: float
    max_ms: int = 60_000

    def __post_init__(self) -> None:
        if not 0 < self.median_ms <= self.p99_ms:
            raise ValueError("latency needs 0 < median_ms <= p99_ms")

    def draw(self, rng: random.Random) -> int:
        # p99 of a log-normal is median * exp(2.326 sigma)
        sigma = math.log(self.p99_ms / self.median_ms) / 2.326
        return min(round(rng.lognormvariate(math.log(self.median_ms), sigma)), self.max_ms)


class StatementFaults(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the end-of-day statement departs from what the channel replied, per item settled.

    ``omit``: an item settled and replied is missing from the statement; ``amount``: it is
    listed with ``amount_delta`` minor units more; ``extra``: per statement, how many items appear
    that were never sent (each ``extra_amount`` minor units).
    """

    omit: float = 0.0
    amount: float = 0.0
    amount_delta: int = 1
    extra: int = 0
    extra_amount: int = 10_000

    def __post_init__(self) -> None:
        if not (0 <= self.omit <= 1 and 0 <= self.amount <= 1 and self.omit + self.amount <= 1):
            raise ValueError("statement fault rates must be within 0..1 and sum to at most 1")
        if self.extra < 0 or self.extra_amount <= 0 or self.amount_delta == 0:
            raise ValueError("extra must be >= 0, extra_amount > 0, amount_delta non-zero")


class FaultPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Per-message-kind fault rules; "*" applies to kinds without their own rule."""

    rules: dict[str, FaultRule] = {}
    reject_accounts: dict[str, str] = {}  # account -> reason code, always rejected
    latency: Latency | None = None
    statement: StatementFaults | None = None

    def __post_init__(self) -> None:
        for kind, rule in self.rules.items():
            if rule.reject and kind not in _REJECTABLE:
                raise ValueError(f"reject faults apply to {sorted(_REJECTABLE)}, not {kind}")

    def rule_for(self, kind: str) -> FaultRule | None:
        return self.rules.get(kind) or self.rules.get("*")

    @classmethod
    def from_json(cls, data: bytes | str) -> FaultPlan:
        return msgspec.json.decode(data, type=cls)

    @classmethod
    def from_toml(cls, data: bytes | str) -> FaultPlan:
        return msgspec.toml.decode(data, type=cls)

    @classmethod
    def load(cls, path: str | Path) -> FaultPlan:
        """Read a plan from a ``.toml`` file, or JSON for any other suffix."""
        p = Path(path)
        data = p.read_bytes()
        return cls.from_toml(data) if p.suffix == ".toml" else cls.from_json(data)


class FaultAction(StrEnum):
    NONE = "none"
    DROP = "drop"
    DELAY = "delay"
    REJECT = "reject"
    CLOSE = "close"
    DUPLICATE = "duplicate"
    GARBAGE = "garbage"
    PARTIAL = "partial"
    REFUSE = "refuse"


class FaultDecision(msgspec.Struct, frozen=True):
    action: FaultAction
    delay_ms: int = 0  # for DELAY: the extra delay; for every action: the drawn latency added
    code: str | None = None


_NO_FAULT = FaultDecision(FaultAction.NONE)


class FaultDice:
    """Draws one decision per message from a seeded generator."""

    def __init__(self, plan: FaultPlan | None, seed: int) -> None:
        self.plan = plan or FaultPlan()
        self.rng = random.Random(seed)

    def decide(self, kind: str) -> FaultDecision:
        # Always draw, so a kind without faults still advances the sequence the same way.
        u = self.rng.random()
        latency = self.plan.latency.draw(self.rng) if self.plan.latency is not None else 0
        rule = self.plan.rule_for(kind)
        if rule is None:
            return FaultDecision(FaultAction.NONE, delay_ms=latency) if latency else _NO_FAULT
        edge = 0.0
        for action, p in rule._probabilities():
            edge += p
            if p and u < edge:
                if action is FaultAction.DELAY:
                    return FaultDecision(action, delay_ms=latency + rule.delay_ms)
                code = rule.reject_code if action is FaultAction.REJECT else None
                return FaultDecision(action, delay_ms=latency, code=code)
        return FaultDecision(FaultAction.NONE, delay_ms=latency) if latency else _NO_FAULT
