"""Stub of the compiled route kernel; the pure twin ``fastpath._route_py`` has the same API."""

from array import array
from collections.abc import Sequence

OK: int
CURRENCY: int
SCOPE: int
AGENT: int
LEI: int
AMOUNT_MIN: int
AMOUNT_MAX: int
CLOSED: int
CHANNEL_CAP: int
DEBTOR_CAP: int
POSITION: int
CIRCUIT: int
RULE_NONE: int
RULE_DESIGNATED: int
RULE_WHITELIST: int
RULE_MASK: int
STATE_FIELDS: int
OUT_FIELDS: int
CHANNEL_FIELDS: int
MAX_CHANNELS: int
MAX_AMOUNT: int
SCORE_CAP: int

class RouteTable:
    def __init__(self, channels: Sequence[Sequence[int]], fee_index: Sequence[int],
                 schedules: Sequence[tuple[int, int, Sequence[tuple[int, int, int]]]],
                 n_currencies: int, delay_cost: tuple[int, int]) -> None: ...
    @property
    def size(self) -> int: ...
    def fee(self, schedule: int, amount: int) -> int: ...
    def decide(self, amount: int, currency: int, cross_border: int, agent_schemes: int,
               has_lei: int, urgent: int, holiday: int, designated: int, whitelist: int,
               allowed: int, state: array[int], out: array[int]) -> tuple[int, int]: ...
