from libc.stdint cimport int64_t


cdef class RouteTable:
    cdef int _n
    cdef int _ncur
    cdef int _nsched
    # per channel, CHANNEL_FIELDS int64 each (see _route_py.RouteTable)
    cdef int64_t* _channels
    cdef int64_t* _fee_index
    cdef int64_t* _sched_min
    cdef int64_t* _sched_max
    cdef int64_t* _tier_start
    # per tier: upto (-1 open), fixed, bps
    cdef int64_t* _tiers
    cdef int64_t _delay[2]

    cdef void _free(self) noexcept
    cdef int64_t _fee(self, int64_t schedule, int64_t amount) noexcept nogil
