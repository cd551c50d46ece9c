"""Pure-Python twin of ``fastpath._framescan``: the same frame scanner, byte for byte.

A frame is ``u32 LENGTH | u8 VERSION | u8 TYPE | payload`` (big-endian, LENGTH = 2 + payload).

>>> scanner = FrameScanner()
>>> wire = encode_frame(7, b"hello") + encode_frame(8, b"")
>>> scanner.feed(wire[:9])
[]
>>> scanner.feed(wire[9:])
[(1, 7, b'hello'), (1, 8, b'')]
>>> scanner.offset, scanner.buffered
(17, 0)
"""

from __future__ import annotations

import operator
import struct

from fastpath.errors import FrameError, FrameHeaderInvalid, FrameTooLarge

__all__ = ["HEADER_SIZE", "FrameScanner", "encode_frame"]

HEADER_SIZE = 6
_LENGTH_SIZE = 4
_MAX_LENGTH = 0xFFFFFFFF

_unpack_length = struct.Struct(">I").unpack_from
_pack_header = struct.Struct(">IBB").pack

Frame = tuple[int, int, bytes]


def encode_frame(ftype: int, payload: bytes, version: int = 1) -> bytes:
    """Return header + payload.

    >>> encode_frame(2, b"ab")
    b'\\x00\\x00\\x00\\x04\\x01\\x02ab'
    """
    ftype = operator.index(ftype)
    version = operator.index(version)
    if not 0 <= ftype <= 0xFF:
        raise ValueError(f"frame type {ftype} is outside 0..255")
    if not 0 <= version <= 0xFF:
        raise ValueError(f"frame version {version} is outside 0..255")
    size = len(memoryview(payload).cast("B"))
    if size > _MAX_LENGTH - 2:
        raise ValueError(f"payload of {size} bytes does not fit a u32 LENGTH")
    return _pack_header(size + 2, version, ftype) + payload


class FrameScanner:
    """Cut ``(version, type, payload)`` frames out of a byte stream arriving in any chunks."""

    __slots__ = ("_buf", "_error", "_max_frame", "_offset")

    def __init__(self, max_frame: int = 65536) -> None:
        max_frame = operator.index(max_frame)
        if max_frame < 2:
            raise ValueError(f"max_frame must be at least 2, got {max_frame}")
        self._max_frame = min(max_frame, _MAX_LENGTH)  # LENGTH is a u32 anyway
        self._buf = bytearray()  # start of a frame not yet complete; never holds a whole frame
        self._offset = 0
        self._error: tuple[int, int] | None = None  # (offset, length) once poisoned

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    @property
    def offset(self) -> int:
        """Stream bytes consumed into complete frames so far."""
        return self._offset

    @property
    def max_frame(self) -> int:
        """Largest LENGTH accepted."""
        return self._max_frame

    def _fail(self, length: int, frames: list[Frame]) -> FrameError:
        self._error = (self._offset, length)
        self._buf = bytearray()
        err = self._make_error()
        err.frames = frames
        return err

    def _make_error(self) -> FrameError:
        assert self._error is not None
        offset, length = self._error
        if length < 2:
            return FrameHeaderInvalid(offset, length)
        return FrameTooLarge(offset, length, self._max_frame)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Append data; return every complete frame as (version, type, payload) in order."""
        if self._error is not None:
            raise self._make_error()
        # bytes slice straight into payloads; anything else goes through a flat byte view
        view = data if type(data) is bytes else memoryview(data).cast("B")
        n = len(view)
        frames: list[Frame] = []
        pos = 0
        buf = self._buf
        if buf:
            # finish the frame started in an earlier chunk, copying only the bytes it needs
            have = len(buf)
            if have < _LENGTH_SIZE:
                take = min(_LENGTH_SIZE - have, n)
                buf += view[:take]
                pos = take
                if have + take < _LENGTH_SIZE:
                    return frames
            (length,) = _unpack_length(buf)
            if length < 2 or length > self._max_frame:
                raise self._fail(length, frames)
            need = _LENGTH_SIZE + length - len(buf)
            if n - pos < need:
                buf += view[pos:]
                return frames
            buf += view[pos : pos + need]
            pos += need
            frames.append((buf[4], buf[5], bytes(buf[HEADER_SIZE:])))
            self._offset += _LENGTH_SIZE + length
            self._buf = buf = bytearray()
        max_frame = self._max_frame
        append = frames.append
        start = pos
        while n - pos >= _LENGTH_SIZE:
            (length,) = _unpack_length(view, pos)
            if length < 2 or length > max_frame:
                self._offset += pos - start
                raise self._fail(length, frames)
            end = pos + _LENGTH_SIZE + length
            if end > n:
                break
            # bytes(bytes) is the same object, bytes(memoryview) the one copy we need
            append((view[pos + 4], view[pos + 5], bytes(view[pos + HEADER_SIZE : end])))
            pos = end
        self._offset += pos - start
        if pos < n:
            buf += view[pos:]
        return frames
