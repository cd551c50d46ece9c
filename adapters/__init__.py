"""Channel adapters: one per channel, speaking its wire format and reporting through `on_status`.

`ADAPTERS` names the adapter of each channel key of the switch's configuration
(`[channels.<key>]`); a concrete adapter is imported only when a configuration names it.
"""

from __future__ import annotations

import importlib
from typing import Any

from adapters.base import ChannelAdapter, ChannelError, ChannelStatus, Outcome, StatementFile

__all__ = [
    "ADAPTERS",
    "ChannelAdapter",
    "ChannelError",
    "ChannelStatus",
    "Outcome",
    "StatementFile",
    "adapter_class",
]

# configuration key -> "module:class"; the class has `Config` (its `[channels.<key>]` struct),
# `from_config(config, clock=..., bank=...)` and `channel` (its name in the routing catalogue).
ADAPTERS: dict[str, str] = {
    "beps": "adapters.beps:BepsAdapter",
    "ibps": "adapters.ibps:IbpsAdapter",
    "hvps": "adapters.hvps:HvpsAdapter",
    "cips": "adapters.cips:CipsAdapter",
    "unionpay": "adapters.unionpay:UnionPayAdapter",
    "swift": "adapters.swift:SwiftAdapter",
}


def adapter_class(key: str) -> Any:
    """The adapter class of a configuration key (KeyError when there is none).

    >>> adapter_class("ibps").channel
    'IBPS'
    """
    module, _, name = ADAPTERS[key].partition(":")
    return getattr(importlib.import_module(module), name)
