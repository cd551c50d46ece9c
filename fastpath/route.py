"""Route kernel (hard constraints and cost scoring): the compiled module, or its pure twin.

``PAYSWITCH_PURE=1`` in the environment, or a missing extension, selects the pure twin;
``IMPLEMENTATION`` says which one is running ("cython" or "pure").

>>> IMPLEMENTATION in ("cython", "pure")
True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

__all__ = [
    "AGENT",
    "AMOUNT_MAX",
    "AMOUNT_MIN",
    "CHANNEL_CAP",
    "CHANNEL_FIELDS",
    "CIRCUIT",
    "CLOSED",
    "CURRENCY",
    "DEBTOR_CAP",
    "IMPLEMENTATION",
    "LEI",
    "MAX_AMOUNT",
    "MAX_CHANNELS",
    "OK",
    "OUT_FIELDS",
    "POSITION",
    "RULE_DESIGNATED",
    "RULE_MASK",
    "RULE_NONE",
    "RULE_WHITELIST",
    "SCOPE",
    "SCORE_CAP",
    "STATE_FIELDS",
    "RouteTable",
]

IMPLEMENTATION: str

# The constants are the same numbers in both modules; only RouteTable differs.
from fastpath._route_py import (  # noqa: E402
    AGENT,
    AMOUNT_MAX,
    AMOUNT_MIN,
    CHANNEL_CAP,
    CHANNEL_FIELDS,
    CIRCUIT,
    CLOSED,
    CURRENCY,
    DEBTOR_CAP,
    LEI,
    MAX_AMOUNT,
    MAX_CHANNELS,
    OK,
    OUT_FIELDS,
    POSITION,
    RULE_DESIGNATED,
    RULE_MASK,
    RULE_NONE,
    RULE_WHITELIST,
    SCOPE,
    SCORE_CAP,
    STATE_FIELDS,
)

if TYPE_CHECKING:  # both implementations share one API; type against the pure twin
    from fastpath._route_py import RouteTable
elif os.environ.get("PAYSWITCH_PURE") == "1":
    from fastpath._route_py import RouteTable

    IMPLEMENTATION = "pure"
else:
    try:
        from fastpath._route import RouteTable

        IMPLEMENTATION = "cython"
    except ImportError:
        from fastpath._route_py import RouteTable

        IMPLEMENTATION = "pure"
