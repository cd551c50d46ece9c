"""Pure-Python twin of ``fastpath._route``: hard constraints and cost scoring over channel tables.

The routing layer (``routing.router``) turns the catalogue into a ``RouteTable`` once and, per
order, fills a small int64 ``state`` buffer (``STATE_FIELDS`` slots per channel: seconds until
the channel can take the order or -1, amount used of the channel's daily cap, of the debtor's
daily cap, available position or -1, circuit allows traffic 0/1, success rate in ppm).
``decide`` writes ``OUT_FIELDS`` slots per channel (check code, fee, score) and returns
``(chosen channel index or -1, rule)``. Pass both buffers as ``array('q')``: the compiled
module reads them in place and accepts nothing else. Integers only, so both twins agree to the unit.

>>> from array import array
>>> table = RouteTable([(1, 1, 0, 1, 5_000_000, -1, -1, -1, 10)], [0], [(0, -1, ((-1, 200, 0),))],
...                    1, (0, 0))
>>> out = array("q", bytes(8 * OUT_FIELDS))
>>> table.decide(30_000, 0, 0, 1, 0, 0, 0, -1, -1, 1, array("q", [0, 0, 0, -1, 1, 10**6]), out)
(0, 3)
>>> list(out)
[0, 200, 200000000]
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence

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

# Check codes, in the order the checks run: a higher code means the channel got further.
OK = 0
CURRENCY = 1
SCOPE = 2
AGENT = 3
LEI = 4
AMOUNT_MIN = 5
AMOUNT_MAX = 6
CLOSED = 7
CHANNEL_CAP = 8
DEBTOR_CAP = 9
POSITION = 10
CIRCUIT = 11

RULE_NONE = 0  # nothing chosen by the allowed-mask search
RULE_DESIGNATED = 1
RULE_WHITELIST = 2
RULE_MASK = 3  # best of the allowed mask (product route or open optimisation)

STATE_FIELDS = 6
OUT_FIELDS = 3
CHANNEL_FIELDS = 9  # scope, agent schemes, requires LEI, min, max, holiday max, cap, debtor cap,
#                     latency seconds
MAX_CHANNELS = 64  # the allowed set is one 64-bit mask
MAX_AMOUNT = 10**15  # keeps every product below 2**63 without 128-bit arithmetic
# Scores saturate here; 2**61 leaves room for one saturated addition inside int64.
SCORE_CAP = 1 << 61
_MICRO = 1_000_000


def _sat_mul(a: int, b: int) -> int:
    if b != 0 and a > SCORE_CAP // b:
        return SCORE_CAP
    return min(a * b, SCORE_CAP)


class RouteTable:
    """Compact per-channel tables; ``decide`` is pure and allocation-free apart from its result."""

    def __init__(self, channels: Sequence[Sequence[int]], fee_index: Sequence[int],
                 schedules: Sequence[tuple[int, int, Sequence[tuple[int, int, int]]]],
                 n_currencies: int, delay_cost: tuple[int, int]) -> None:
        n = len(channels)
        if not 1 <= n <= MAX_CHANNELS:
            raise ValueError(f"a route table holds 1..{MAX_CHANNELS} channels, got {n}")
        if n_currencies < 1 or len(fee_index) != n * n_currencies:
            raise ValueError("fee_index must hold one entry per channel and currency")
        if any(len(row) != CHANNEL_FIELDS for row in channels):
            raise ValueError(f"each channel row holds {CHANNEL_FIELDS} integers")
        if any(not -1 <= s < len(schedules) for s in fee_index):
            raise ValueError("fee_index refers to a schedule that does not exist")
        if any(not tiers for _, _, tiers in schedules):
            raise ValueError("every fee schedule needs at least one tier")
        self._n = n
        self._ncur = n_currencies
        self._channels = [tuple(int(v) for v in row) for row in channels]
        self._fee_index = [int(s) for s in fee_index]
        self._sched_min = [int(lo) for lo, _, _ in schedules]
        self._sched_max = [int(hi) for _, hi, _ in schedules]
        self._tier_start = [0]
        self._tiers: list[tuple[int, int, int]] = []
        for _, _, tiers in schedules:
            self._tiers.extend((int(u), int(f), int(b)) for u, f, b in tiers)
            self._tier_start.append(len(self._tiers))
        self._delay = (int(delay_cost[0]), int(delay_cost[1]))

    @property
    def size(self) -> int:
        """Number of channels."""
        return self._n

    def fee(self, schedule: int, amount: int) -> int:
        """Fee of one schedule: tier fixed part + basis points rounded half up, then min/max."""
        if not 0 <= schedule < len(self._sched_min):
            raise IndexError(f"no fee schedule {schedule}")
        if not 0 <= amount <= MAX_AMOUNT:
            raise ValueError(f"amount {amount} outside 0..{MAX_AMOUNT}")
        return self._fee(schedule, amount)

    def _fee(self, schedule: int, amount: int) -> int:
        tiers = self._tiers
        start, end = self._tier_start[schedule], self._tier_start[schedule + 1]
        t = end - 1  # above every finite tier: the last tier applies
        for k in range(start, end):
            if tiers[k][0] < 0 or amount <= tiers[k][0]:
                t = k
                break
        _, fixed, bps = tiers[t]
        q, r = divmod(amount, 10_000)  # split so amount * bps never leaves int64
        fee = fixed + q * bps + (r * bps + 5_000) // 10_000
        if fee < self._sched_min[schedule]:
            fee = self._sched_min[schedule]
        if 0 <= self._sched_max[schedule] < fee:
            fee = self._sched_max[schedule]
        return fee

    def decide(self, amount: int, currency: int, cross_border: int, agent_schemes: int,
               has_lei: int, urgent: int, holiday: int, designated: int, whitelist: int,
               allowed: int, state: Sequence[int], out: MutableSequence[int]) -> tuple[int, int]:
        """Check every channel, score the eligible ones, apply the rule precedence."""
        n = self._n
        if len(state) < n * STATE_FIELDS or len(out) < n * OUT_FIELDS:
            raise ValueError("state or out buffer too short for this table")
        scope_bit = 2 if cross_border else 1
        delay = self._delay[1 if urgent else 0]
        best = -1
        best_wait = 0
        best_score = 0
        for i in range(n):
            scope, schemes, needs_lei, lo, hi, hol_hi, cap, dcap, latency = self._channels[i]
            s = i * STATE_FIELDS
            wait = state[s]
            limit = hol_hi if holiday else hi
            sched = self._fee_index[i * self._ncur + currency] if 0 <= currency < self._ncur else -1
            fee = 0
            score = 0
            if sched < 0:
                code = CURRENCY
            elif not scope & scope_bit:
                code = SCOPE
            elif not schemes & agent_schemes:
                code = AGENT
            elif needs_lei and not has_lei:
                code = LEI
            elif amount < lo:
                code = AMOUNT_MIN
            elif 0 <= limit < amount:
                code = AMOUNT_MAX
            elif wait < 0 or (i == designated and wait > 0):
                code = CLOSED  # a designated channel is used now or not at all
            elif cap >= 0 and amount > cap - state[s + 1]:
                code = CHANNEL_CAP
            elif dcap >= 0 and amount > dcap - state[s + 2]:
                code = DEBTOR_CAP
            elif 0 <= state[s + 3] < amount:
                code = POSITION
            elif not state[s + 4]:
                code = CIRCUIT
            else:
                code = OK
                fee = self._fee(sched, amount)
                base = min(_sat_mul(fee, _MICRO) + _sat_mul(delay, latency), SCORE_CAP)
                ppm = min(max(state[s + 5], 1), _MICRO)
                # expected attempts are 1/p: the score is the cost of all of them
                score = SCORE_CAP if base > SCORE_CAP // _MICRO else base * _MICRO // ppm
                if (allowed >> i) & 1 and (
                        best < 0 or wait < best_wait
                        or (wait == best_wait and score < best_score)):
                    best, best_wait, best_score = i, wait, score
            o = i * OUT_FIELDS
            out[o] = code
            out[o + 1] = fee
            out[o + 2] = score
        if 0 <= designated < n:
            return (designated if out[designated * OUT_FIELDS] == OK else -1), RULE_DESIGNATED
        if 0 <= whitelist < n and out[whitelist * OUT_FIELDS] == OK:
            return whitelist, RULE_WHITELIST
        return best, (RULE_MASK if best >= 0 else RULE_NONE)
