from libc.stdint cimport uint32_t


cdef class FrameScanner:
    # start of a frame not yet complete (never a whole frame); malloc'd, _len used of _cap
    cdef unsigned char* _buf
    cdef Py_ssize_t _len
    cdef Py_ssize_t _cap
    cdef uint32_t _max_frame
    cdef long long _offset
    cdef bint _poisoned
    cdef long long _error_offset
    cdef uint32_t _error_length

    cdef int _reserve(self, Py_ssize_t size, Py_ssize_t frame_size) except -1
    cdef void _append(self, const unsigned char* data, Py_ssize_t n) noexcept
    cdef void _drop(self) noexcept
    cdef object _make_error(self)
    cdef object _fail(self, uint32_t length, list frames)
    cpdef list feed(self, object data)
