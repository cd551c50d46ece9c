"""Fault plans: what a simulator does wrong, as data, replayable from a seed.

A plan maps a message kind ("pacs.008", "pacs.028", or "*" for any kind without its own rule)
to a `FaultRule` of probabilities. For every inbound message the simulator asks `FaultDice` for
one decision; the dice draw exactly one number per message from `random.Random(seed)`, so the
same seed, plan and input give the same decisions.

Actions (at most one per message, chosen from a single draw over the cumulative probabilities):

- ``drop``: the message is processed (booked) but its reply is never sent;
- ``delay``: the message is processed and its reply goes out ``delay_ms`` later;
- ``reject``: the message is not booked; every transaction is answered RJCT ``reject_code``
  (pacs.008 only: an inquiry cannot be "rejected" without lying about the payment);
- ``close``: the message is processed (booked), then the connection closes without its reply.

>>> plan = FaultPlan.from_json(b'{"rules": {"pacs.008": {"drop": 1.0}}}')
>>> FaultDice(plan, seed=7).decide("pacs.008").action
<FaultAction.DROP: 'drop'>
>>> FaultDice(plan, seed=7).decide("pacs.028").action
<FaultAction.NONE: 'none'>
"""

from __future__ import annotations

import random
from enum import StrEnum
from pathlib import Path

import msgspec

__all__ = ["FaultAction", "FaultDecision", "FaultDice", "FaultPlan", "FaultRule"]

_REJECTABLE = frozenset({"pacs.008", "*"})


class FaultRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Probabilities (0..1, summing to at most 1) of each fault for one message kind."""

    drop: float = 0.0
    delay: float = 0.0
    delay_ms: int = 0
    reject: float = 0.0
    reject_code: str = "MS03"
    close: float = 0.0

    def __post_init__(self) -> None:
        probs = (self.drop, self.delay, self.reject, self.close)
        if any(p < 0.0 or p > 1.0 for p in probs) or sum(probs) > 1.0 + 1e-9:
            raise ValueError("fault probabilities must be within 0..1 and sum to at most 1")
        if self.delay_ms < 0:
            raise ValueError("delay_ms must not be negative")


class FaultPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Per-message-kind fault rules; "*" applies to kinds without their own rule."""

    rules: dict[str, FaultRule] = {}

    def __post_init__(self) -> None:
        for kind, rule in self.rules.items():
            if rule.reject and kind not in _REJECTABLE:
                raise ValueError(f"reject faults apply to pacs.008 only, not {kind}")

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


class FaultDecision(msgspec.Struct, frozen=True):
    action: FaultAction
    delay_ms: int = 0
    code: str | None = None


_NO_FAULT = FaultDecision(FaultAction.NONE)


class FaultDice:
    """Draws one decision per message from a seeded generator."""

    def __init__(self, plan: FaultPlan | None, seed: int) -> None:
        self._plan = plan or FaultPlan()
        self._rng = random.Random(seed)

    def decide(self, kind: str) -> FaultDecision:
        # Always draw, so a kind without faults still advances the sequence the same way.
        u = self._rng.random()
        rule = self._plan.rule_for(kind)
        if rule is None:
            return _NO_FAULT
        edge = rule.drop
        if u < edge:
            return FaultDecision(FaultAction.DROP)
        edge += rule.delay
        if u < edge:
            return FaultDecision(FaultAction.DELAY, delay_ms=rule.delay_ms)
        edge += rule.reject
        if u < edge:
            return FaultDecision(FaultAction.REJECT, code=rule.reject_code)
        edge += rule.close
        if u < edge:
            return FaultDecision(FaultAction.CLOSE)
        return _NO_FAULT
