"""A regression scenario as data (tests/scenarios/NAME.toml): configuration, seed, fault plans,
a virtual-clock timeline, the orders (or a generator) and the expected outcome.

>>> duration("90s"), duration("2m"), duration("1h30m"), duration(15)
(90.0, 120.0, 5400.0, 15.0)
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from bench.loadgen import GENERATORS
from simulators.farm import CHANNELS
from switch.order import Order

__all__ = ["SCENARIO_DIR", "Expect", "Generator", "Scenario", "Step", "duration",
           "load_scenario", "scenario_names"]

# Where `payswitch regress record NAME` looks first; a path to a .toml file works anywhere.
SCENARIO_DIR = Path(__file__).resolve().parents[2] / "tests" / "scenarios"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(text: str | float) -> float:
    """Seconds of a duration written ``90s``, ``5m``, ``1h30m``, ``250ms`` or a number."""
    if isinstance(text, int | float):
        return float(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 5m, 1h30m)")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


class Step(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One thing the timeline does; exactly one field is set. Each step ends when the switch
    and the simulators have nothing left to do at the clock's current time."""

    submit: str | list[str] | None = None  # order ids, or "*" for every order not yet sent
    advance: str | None = None  # move the clock this much, timer by timer
    until: datetime | None = None  # move the clock to this time, timer by timer
    run_until_final: str | None = None  # advance until every sent order is final (at most)
    admin: dict[str, Any] | None = None  # a simulator admin request: {channel, op, order?, ...}

    def __post_init__(self) -> None:
        given = [f for f in self.__struct_fields__ if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(f"a timeline step does exactly one thing, not {given or 'nothing'}")


class Generator(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Orders from one of `bench.loadgen`'s seeded generators."""

    kind: str  # channel_mix | order_mix
    count: int
    seed: int = 1
    run: str = "S"

    def __post_init__(self) -> None:
        if self.kind not in GENERATORS:
            raise ValueError(f"generator kind must be one of {sorted(GENERATORS)}")


class Expect(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What must hold at the end, besides the golden transcript."""

    states: dict[str, int] = {}  # final state -> how many orders
    reasons: dict[str, int] = {}  # reason code -> how many orders end with it
    orders: dict[str, str] = {}  # order id -> "STATE" or "STATE REASON"
    ledger: dict[str, int] = {}  # "ACCOUNT CCY" -> net balance (debits - credits)
    balanced: bool = True  # the ledger balances per currency
    duplicates: int = 0  # items that reached a channel twice, over every channel

    def failures(self, transcript: dict[str, Any]) -> list[str]:
        """What of this does not hold in ``transcript``, one line each."""
        orders = transcript["orders"]
        out = []
        if self.states:
            states = dict(Counter(o["state"] for o in orders.values()))
            if states != self.states:
                out.append(f"expected final states {self.states}, got {states}")
        if self.reasons:
            reasons = dict(Counter(o["reason"] for o in orders.values() if o.get("reason")))
            if reasons != self.reasons:
                out.append(f"expected reasons {self.reasons}, got {reasons}")
        for order_id, want in self.orders.items():
            o = orders.get(order_id)
            got = "not submitted" if o is None else " ".join(
                x for x in (o["state"], o.get("reason")) if x)
            if got != want:
                out.append(f"expected order {order_id} {want}, got {got}")
        for account, want_net in self.ledger.items():
            net = transcript["ledger"].get(account, 0)
            if net != want_net:
                out.append(f"expected ledger {account} {want_net}, got {net}")
        if transcript["ledger_balanced"] is not self.balanced:
            out.append(f"expected the ledger {'' if self.balanced else 'not '}balanced")
        duplicates = sum(c["duplicates"] for c in transcript["channels"].values())
        if duplicates != self.duplicates:
            out.append(f"expected {self.duplicates} items to reach a channel twice, "
                       f"got {duplicates}")
        return out


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    description: str
    start: datetime  # the virtual clock's start, with its offset
    timeline: list[Step]
    seed: int = 0  # the simulator farm's seed
    channels: list[str] = msgspec.field(default_factory=lambda: list(CHANNELS))
    links: dict[str, dict[str, Any]] = {}  # [links.KEY]: the adapter's options (port is set)
    simulators: dict[str, dict[str, Any]] = {}  # [simulators.KEY]: the simulator's Config
    faults: dict[str, dict[str, Any]] = {}  # [faults.KEY]: the simulator's FaultPlan
    order_defaults: dict[str, Any] = {}  # merged under every [[orders]] table
    orders: list[dict[str, Any]] = []  # each with `id`, its client_order_id
    generator: Generator | None = None
    expect: Expect = msgspec.field(default_factory=Expect)
    name: str = ""  # the file's stem
    path: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start needs a UTC offset (e.g. 2026-03-02T10:00:00+08:00)")
        unknown = sorted(set(self.channels) - set(CHANNELS))
        if unknown:
            raise ValueError(f"channels: no channel {', '.join(unknown)}")

    def order_list(self) -> list[Order]:
        """Every order of the scenario, explicit ones first, in their order."""
        orders = [msgspec.convert(_merge(self.order_defaults, _without_id(o))
                                  | {"client_order_id": str(o["id"])}, Order)
                  for o in self.orders]
        if self.generator is not None:
            g = self.generator
            orders += GENERATORS[g.kind](g.count, g.seed, run=g.run)
        ids = [o.client_order_id for o in orders]
        if len(set(ids)) != len(ids):
            raise ValueError("order ids must be unique")
        return orders

    @property
    def golden_path(self) -> Path:
        return Path(self.path).with_suffix(".golden.json")


def _without_id(order: dict[str, Any]) -> dict[str, Any]:
    if "id" not in order:
        raise ValueError("every [[orders]] table needs an id (its client_order_id)")
    return {k: v for k, v in order.items() if k != "id"}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, tables merged key by key."""
    out = dict(base)
    for key, value in over.items():
        out[key] = (_merge(out[key], value) if isinstance(value, dict)
                    and isinstance(out.get(key), dict) else value)
    return out


def scenario_names(directory: Path = SCENARIO_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by name (in tests/scenarios/) or by the path of its TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = SCENARIO_DIR / f"{name_or_path}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"scenario {name_or_path}: cannot read {path}: {exc.strerror}") from exc
    try:
        return msgspec.convert(raw | {"name": path.stem, "path": str(path.resolve())}, Scenario,
                               strict=False)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ValueError(f"scenario {path.stem}: {exc}") from exc
