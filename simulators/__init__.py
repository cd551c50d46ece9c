"""Channel simulators: standalone asyncio servers with an injected clock, a seed and a fault plan.

They share nothing with `adapters/` beyond `messages/` (DESIGN.md layout). `SIMULATORS` names
the simulator of each channel for `payswitch simulate CHANNEL`; each class has `Config` (its
configuration struct, read from TOML) and the constructor
``(config, clock, seed=0, faults=None)``.
"""

from __future__ import annotations

import importlib
from typing import Any

from simulators.faults import FaultPlan, FaultRule

__all__ = ["SIMULATORS", "FaultPlan", "FaultRule", "simulator_class"]

# channel (case-insensitive) -> "module:class"
SIMULATORS: dict[str, str] = {
    "beps": "simulators.beps:BepsSimulator",
    "ibps": "simulators.ibps:IbpsSimulator",
    "hvps": "simulators.hvps:HvpsSimulator",
    "cips": "simulators.cips:CipsSimulator",
    "unionpay": "simulators.unionpay:UnionPaySimulator",
    "swift": "simulators.swift:SwiftSimulator",
}


def simulator_class(channel: str) -> Any:
    """The simulator class of a channel name (KeyError when there is none).

    >>> simulator_class("IBPS").name
    'IBPS'
    """
    module, _, name = SIMULATORS[channel.lower()].partition(":")
    return getattr(importlib.import_module(module), name)
