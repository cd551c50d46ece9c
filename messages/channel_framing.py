"""The 4-byte big-endian length prefix that frames documents on simulated channel links.

>>> frame = encode(b"<Document/>")
>>> frame[:4]
b'\\x00\\x00\\x00\\x0b'
>>> reader = LinkReader()
>>> reader.feed(frame[:6]), reader.feed(frame[6:] + encode(b"x"))
([], [b'<Document/>', b'x'])
"""

from __future__ import annotations

from messages.errors import LinkFrameTooLarge

__all__ = ["DEFAULT_MAX_FRAME", "FRAMING", "LinkFraming", "LinkReader", "encode"]

DEFAULT_MAX_FRAME = 4 << 20
_PREFIX = 4


def encode(doc: bytes) -> bytes:
    """`doc` with its length prefix."""
    if len(doc) >= 1 << 32:
        raise LinkFrameTooLarge(len(doc), (1 << 32) - 1)
    return len(doc).to_bytes(_PREFIX, "big") + doc


class LinkReader:
    """Splits a byte stream into documents; raises LINK_FRAME_TOO_LARGE on an oversize prefix."""

    __slots__ = ("_buffer", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Every document completed by `data`, in order."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        start = 0
        end = len(buffer)
        while end - start >= _PREFIX:
            size = int.from_bytes(buffer[start : start + _PREFIX], "big")
            if size > self.max_frame:
                # The stream cannot be resynchronised after a bad prefix: drop what is buffered.
                buffer.clear()
                raise LinkFrameTooLarge(size, self.max_frame)
            if end - start - _PREFIX < size:
                break
            frames.append(bytes(buffer[start + _PREFIX : start + _PREFIX + size]))
            start += _PREFIX + size
        if start:
            del buffer[:start]
        return frames


class LinkFraming:
    """This framing as links take it: a reader per connection, and the encoder."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame

    def reader(self) -> LinkReader:
        return LinkReader(self.max_frame)

    def encode(self, message: bytes) -> bytes:
        return encode(message)


FRAMING = LinkFraming()
