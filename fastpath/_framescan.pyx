# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Frame scanner of the switch's binary protocol (Cython); twin of ``fastpath._framescan_py``.

A frame is ``u32 LENGTH | u8 VERSION | u8 TYPE | payload`` (big-endian, LENGTH = 2 + payload).
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

from operator import index as _index

from fastpath.errors import FrameHeaderInvalid, FrameTooLarge

__all__ = ["HEADER_SIZE", "FrameScanner", "encode_frame"]

HEADER_SIZE = 6
cdef enum:
    _LENGTH_SIZE = 4
    _HEADER_SIZE = 6
    # a buffer this large is freed once its frame completes, so idle sessions hold little memory
    _KEEP_CAPACITY = 65536 + _LENGTH_SIZE
    _MIN_CAPACITY = 256


cdef inline uint32_t _read_u32(const unsigned char* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


def encode_frame(ftype, payload, version=1):
    """Return header + payload."""
    cdef Py_buffer view
    cdef bytes out
    cdef unsigned char* q
    cdef Py_ssize_t size
    ftype = _index(ftype)
    version = _index(version)
    if not 0 <= ftype <= 0xFF:
        raise ValueError(f"frame type {ftype} is outside 0..255")
    if not 0 <= version <= 0xFF:
        raise ValueError(f"frame version {version} is outside 0..255")
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        size = view.len
        if size > 0xFFFFFFFF - 2:
            raise ValueError(f"payload of {size} bytes does not fit a u32 LENGTH")
        out = PyBytes_FromStringAndSize(NULL, _HEADER_SIZE + size)
        q = <unsigned char*>PyBytes_AS_STRING(out)
        q[0] = <unsigned char>((size + 2) >> 24)
        q[1] = <unsigned char>((size + 2) >> 16)
        q[2] = <unsigned char>((size + 2) >> 8)
        q[3] = <unsigned char>(size + 2)
        q[4] = <unsigned char>version
        q[5] = <unsigned char>ftype
        memcpy(q + _HEADER_SIZE, view.buf, size)
        return out
    finally:
        PyBuffer_Release(&view)


cdef class FrameScanner:
    """Cut ``(version, type, payload)`` frames out of a byte stream arriving in any chunks."""

    def __init__(self, max_frame=65536):
        max_frame = _index(max_frame)
        if max_frame < 2:
            raise ValueError(f"max_frame must be at least 2, got {max_frame}")
        self._max_frame = min(max_frame, 0xFFFFFFFF)  # LENGTH is a u32 anyway

    def __dealloc__(self):
        free(self._buf)

    @property
    def buffered(self):
        """Bytes held waiting for the rest of a frame."""
        return self._len

    @property
    def offset(self):
        """Stream bytes consumed into complete frames so far."""
        return self._offset

    @property
    def max_frame(self):
        """Largest LENGTH accepted."""
        return self._max_frame

    cdef int _reserve(self, Py_ssize_t size, Py_ssize_t frame_size) except -1:
        # grow geometrically up to the frame's size, so a peer announcing a huge LENGTH costs
        # memory only as fast as it actually sends bytes
        cdef unsigned char* grown
        if size <= self._cap:
            return 0
        size = max(size, min(2 * self._cap, frame_size), _MIN_CAPACITY)
        grown = <unsigned char*>realloc(self._buf, size)
        if grown is NULL:
            raise MemoryError()
        self._buf = grown
        self._cap = size
        return 0

    cdef void _append(self, const unsigned char* data, Py_ssize_t n) noexcept:
        # caller has reserved room
        memcpy(self._buf + self._len, data, n)
        self._len += n

    cdef void _drop(self) noexcept:
        self._len = 0
        if self._cap > _KEEP_CAPACITY:
            free(self._buf)
            self._buf = NULL
            self._cap = 0

    cdef object _make_error(self):
        if self._error_length < 2:
            return FrameHeaderInvalid(self._error_offset, self._error_length)
        return FrameTooLarge(self._error_offset, self._error_length, self._max_frame)

    cdef object _fail(self, uint32_t length, list frames):
        self._poisoned = True
        self._error_offset = self._offset
        self._error_length = length
        self._drop()
        err = self._make_error()
        err.frames = frames
        return err

    cpdef list feed(self, object data):
        """Append data; return every complete frame as (version, type, payload) in order."""
        cdef Py_buffer view
        cdef const unsigned char* p
        cdef Py_ssize_t n, pos = 0, start, end, need
        cdef uint32_t length
        cdef uint32_t max_frame = self._max_frame
        cdef list frames
        if self._poisoned:
            raise self._make_error()
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            p = <const unsigned char*>view.buf
            n = view.len
            frames = []
            if self._len:
                # finish the frame started in an earlier chunk, copying only the bytes it needs
                if self._len < _LENGTH_SIZE:
                    need = min(_LENGTH_SIZE - self._len, n)
                    self._append(p, need)
                    pos = need
                    if self._len < _LENGTH_SIZE:
                        return frames
                length = _read_u32(self._buf)
                if length < 2 or length > max_frame:
                    raise self._fail(length, frames)
                need = _LENGTH_SIZE + <Py_ssize_t>length - self._len
                if n - pos < need:
                    self._reserve(self._len + n - pos, _LENGTH_SIZE + <Py_ssize_t>length)
                    self._append(p + pos, n - pos)
                    return frames
                self._reserve(self._len + need, _LENGTH_SIZE + <Py_ssize_t>length)
                self._append(p + pos, need)
                pos += need
                frames.append((self._buf[4], self._buf[5], PyBytes_FromStringAndSize(
                    <char*>self._buf + _HEADER_SIZE, <Py_ssize_t>length - 2)))
                self._offset += _LENGTH_SIZE + <Py_ssize_t>length
                self._drop()
            start = pos
            while n - pos >= _LENGTH_SIZE:
                length = _read_u32(p + pos)
                if length < 2 or length > max_frame:
                    self._offset += pos - start
                    raise self._fail(length, frames)
                end = pos + _LENGTH_SIZE + <Py_ssize_t>length
                if end > n:
                    break
                frames.append((p[pos + 4], p[pos + 5], PyBytes_FromStringAndSize(
                    <const char*>p + pos + _HEADER_SIZE, <Py_ssize_t>length - 2)))
                pos = end
            self._offset += pos - start
            if pos < n:
                if n - pos >= _LENGTH_SIZE:  # length already judged above
                    self._reserve(n - pos, _LENGTH_SIZE + <Py_ssize_t>_read_u32(p + pos))
                else:
                    self._reserve(n - pos, _LENGTH_SIZE)
                self._append(p + pos, n - pos)
            return frames
        finally:
            PyBuffer_Release(&view)
