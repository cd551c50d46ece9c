# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Hard constraints and cost scoring over channel tables (Cython); twin of ``fastpath._route_py``.

Every branch mirrors the pure twin line for line; only the storage differs (malloc'd int64
arrays instead of lists), so decisions agree to the unit.
"""

from cpython cimport array
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free
from cpython.object cimport Py_SIZE

__all__ = [
    "AGENT", "AMOUNT_MAX", "AMOUNT_MIN", "CHANNEL_CAP", "CHANNEL_FIELDS", "CIRCUIT", "CLOSED",
    "CURRENCY", "DEBTOR_CAP", "LEI", "MAX_AMOUNT", "MAX_CHANNELS", "OK", "OUT_FIELDS", "POSITION",
    "RULE_DESIGNATED", "RULE_MASK", "RULE_NONE", "RULE_WHITELIST", "SCOPE", "SCORE_CAP",
    "STATE_FIELDS", "RouteTable",
]

cdef enum:
    _OK = 0
    _CURRENCY = 1
    _SCOPE = 2
    _AGENT = 3
    _LEI = 4
    _AMOUNT_MIN = 5
    _AMOUNT_MAX = 6
    _CLOSED = 7
    _CHANNEL_CAP = 8
    _DEBTOR_CAP = 9
    _POSITION = 10
    _CIRCUIT = 11
    _STATE_FIELDS = 6
    _OUT_FIELDS = 3
    _CHANNEL_FIELDS = 9
    _MAX_CHANNELS = 64

OK = _OK
CURRENCY = _CURRENCY
SCOPE = _SCOPE
AGENT = _AGENT
LEI = _LEI
AMOUNT_MIN = _AMOUNT_MIN
AMOUNT_MAX = _AMOUNT_MAX
CLOSED = _CLOSED
CHANNEL_CAP = _CHANNEL_CAP
DEBTOR_CAP = _DEBTOR_CAP
POSITION = _POSITION
CIRCUIT = _CIRCUIT
RULE_NONE = 0
RULE_DESIGNATED = 1
RULE_WHITELIST = 2
RULE_MASK = 3
STATE_FIELDS = _STATE_FIELDS
OUT_FIELDS = _OUT_FIELDS
CHANNEL_FIELDS = _CHANNEL_FIELDS
MAX_CHANNELS = _MAX_CHANNELS
MAX_AMOUNT = 10**15

cdef int64_t _SCORE_CAP = (<int64_t>1) << 61
cdef int64_t _MICRO = 1000000
SCORE_CAP = _SCORE_CAP


cdef inline int64_t _sat_mul(int64_t a, int64_t b) noexcept nogil:
    if b != 0 and a > _SCORE_CAP // b:
        return _SCORE_CAP
    a = a * b
    return _SCORE_CAP if a > _SCORE_CAP else a


cdef int64_t* _alloc(Py_ssize_t n) except NULL:
    cdef int64_t* p = <int64_t*>calloc(n if n > 0 else 1, sizeof(int64_t))
    if p is NULL:
        raise MemoryError()
    return p


cdef class RouteTable:
    """Compact per-channel tables; ``decide`` is pure and allocation-free apart from its result."""

    def __init__(self, channels, fee_index, schedules, n_currencies, delay_cost):
        cdef Py_ssize_t i, j, k, n = len(channels)
        cdef Py_ssize_t total_tiers
        if not 1 <= n <= _MAX_CHANNELS:
            raise ValueError(f"a route table holds 1..{_MAX_CHANNELS} channels, got {n}")
        if n_currencies < 1 or len(fee_index) != n * n_currencies:
            raise ValueError("fee_index must hold one entry per channel and currency")
        if any(len(row) != _CHANNEL_FIELDS for row in channels):
            raise ValueError(f"each channel row holds {_CHANNEL_FIELDS} integers")
        if any(not -1 <= s < len(schedules) for s in fee_index):
            raise ValueError("fee_index refers to a schedule that does not exist")
        if any(not tiers for _, _, tiers in schedules):
            raise ValueError("every fee schedule needs at least one tier")
        self._free()
        self._n = <int>n
        self._ncur = <int>n_currencies
        self._channels = _alloc(n * _CHANNEL_FIELDS)
        for i in range(n):
            for j in range(_CHANNEL_FIELDS):
                self._channels[i * _CHANNEL_FIELDS + j] = channels[i][j]
        self._fee_index = _alloc(len(fee_index))
        for i in range(len(fee_index)):
            self._fee_index[i] = fee_index[i]
        total_tiers = sum(len(tiers) for _, _, tiers in schedules)
        self._sched_min = _alloc(len(schedules))
        self._sched_max = _alloc(len(schedules))
        self._tier_start = _alloc(len(schedules) + 1)
        self._tiers = _alloc(3 * total_tiers)
        k = 0
        for i, (lo, hi, tiers) in enumerate(schedules):
            self._sched_min[i] = lo
            self._sched_max[i] = hi
            self._tier_start[i] = k
            for upto, fixed, bps in tiers:
                self._tiers[3 * k] = upto
                self._tiers[3 * k + 1] = fixed
                self._tiers[3 * k + 2] = bps
                k += 1
        self._tier_start[len(schedules)] = k
        self._nsched = <int>len(schedules)
        self._delay[0] = delay_cost[0]
        self._delay[1] = delay_cost[1]

    cdef void _free(self) noexcept:
        free(self._channels)
        free(self._fee_index)
        free(self._sched_min)
        free(self._sched_max)
        free(self._tier_start)
        free(self._tiers)
        self._channels = self._fee_index = self._sched_min = self._sched_max = NULL
        self._tier_start = self._tiers = NULL

    def __dealloc__(self):
        self._free()

    @property
    def size(self):
        """Number of channels."""
        return self._n

    cdef int64_t _fee(self, int64_t schedule, int64_t amount) noexcept nogil:
        cdef int64_t start = self._tier_start[schedule]
        cdef int64_t end = self._tier_start[schedule + 1]
        cdef int64_t k, t = end - 1
        cdef int64_t fee, q, r, bps, upto
        for k in range(start, end):
            upto = self._tiers[3 * k]
            if upto < 0 or amount <= upto:
                t = k
                break
        bps = self._tiers[3 * t + 2]
        q = amount // 10000
        r = amount % 10000
        fee = self._tiers[3 * t + 1] + q * bps + (r * bps + 5000) // 10000
        if fee < self._sched_min[schedule]:
            fee = self._sched_min[schedule]
        if self._sched_max[schedule] >= 0 and fee > self._sched_max[schedule]:
            fee = self._sched_max[schedule]
        return fee

    def fee(self, int64_t schedule, int64_t amount):
        """Fee of one schedule: tier fixed part + basis points rounded half up, then min/max."""
        if not 0 <= schedule < self._nsched:
            raise IndexError(f"no fee schedule {schedule}")
        if not 0 <= amount <= MAX_AMOUNT:
            raise ValueError(f"amount {amount} outside 0..{MAX_AMOUNT}")
        return self._fee(schedule, amount)

    def decide(self, int64_t amount, int currency, int cross_border, int agent_schemes,
               int has_lei, int urgent, int holiday, int designated, int whitelist,
               uint64_t allowed, array.array state not None, array.array out not None):
        """Check every channel, score the eligible ones, apply the rule precedence."""
        cdef int n = self._n
        cdef int i, code, scope_bit
        cdef int64_t sched, fee, score, base, ppm, wait, limit, delay, best_wait = 0, best_score = 0
        cdef int best = -1
        cdef const int64_t* row
        cdef const int64_t* st
        cdef int64_t* o
        cdef const int64_t* states
        # array('q') is 64-bit on every platform CPython supports; read it without a buffer view
        if state.ob_descr.typecode != b'q' or out.ob_descr.typecode != b'q':
            raise TypeError("state and out must be array('q')")
        if Py_SIZE(state) < n * _STATE_FIELDS or Py_SIZE(out) < n * _OUT_FIELDS:
            raise ValueError("state or out buffer too short for this table")
        states = <const int64_t*>state.data.as_longlongs
        o = <int64_t*>out.data.as_longlongs
        scope_bit = 2 if cross_border else 1
        delay = self._delay[1 if urgent else 0]
        with nogil:
            for i in range(n):
                row = self._channels + i * _CHANNEL_FIELDS
                st = states + i * _STATE_FIELDS
                wait = st[0]
                limit = row[5] if holiday else row[4]
                if 0 <= currency < self._ncur:
                    sched = self._fee_index[i * self._ncur + currency]
                else:
                    sched = -1
                fee = 0
                score = 0
                if sched < 0:
                    code = _CURRENCY
                elif not (row[0] & scope_bit):
                    code = _SCOPE
                elif not (row[1] & agent_schemes):
                    code = _AGENT
                elif row[2] and not has_lei:
                    code = _LEI
                elif amount < row[3]:
                    code = _AMOUNT_MIN
                elif limit >= 0 and amount > limit:
                    code = _AMOUNT_MAX
                elif wait < 0 or (i == designated and wait > 0):
                    code = _CLOSED
                elif row[6] >= 0 and amount > row[6] - st[1]:
                    code = _CHANNEL_CAP
                elif row[7] >= 0 and amount > row[7] - st[2]:
                    code = _DEBTOR_CAP
                elif st[3] >= 0 and amount > st[3]:
                    code = _POSITION
                elif not st[4]:
                    code = _CIRCUIT
                else:
                    code = _OK
                    fee = self._fee(sched, amount)
                    base = _sat_mul(fee, _MICRO) + _sat_mul(delay, row[8])
                    if base > _SCORE_CAP:
                        base = _SCORE_CAP
                    ppm = st[5]
                    if ppm < 1:
                        ppm = 1
                    elif ppm > _MICRO:
                        ppm = _MICRO
                    if base > _SCORE_CAP // _MICRO:
                        score = _SCORE_CAP
                    else:
                        score = base * _MICRO // ppm
                    if (allowed >> i) & 1 and (
                            best < 0 or wait < best_wait
                            or (wait == best_wait and score < best_score)):
                        best = i
                        best_wait = wait
                        best_score = score
                o[i * _OUT_FIELDS] = code
                o[i * _OUT_FIELDS + 1] = fee
                o[i * _OUT_FIELDS + 2] = score
        if 0 <= designated < n:
            return (designated if o[designated * _OUT_FIELDS] == _OK else -1), RULE_DESIGNATED
        if 0 <= whitelist < n and o[whitelist * _OUT_FIELDS] == _OK:
            return whitelist, RULE_WHITELIST
        return best, (RULE_MASK if best >= 0 else RULE_NONE)
