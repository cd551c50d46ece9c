"""The UnionPay TCP link framing: each message behind a 2-byte big-endian length prefix.

>>> frame = encode(b"0800...")
>>> frame
b'\\x00\\x070800...'
>>> reader = LinkReader()
>>> reader.feed(frame[:1]), reader.feed(frame[1:] + encode(b"x"))
([], [b'0800...', b'x'])
>>> LinkReader(max_frame=100).feed(b"\\xff\\xff")
Traceback (most recent call last):
...
messages.errors.LinkFrameTooLarge: LINK_FRAME_TOO_LARGE: frame of 65535 bytes exceeds ...
"""

from __future__ import annotations

import asyncio

from messages.errors import LinkFrameTooLarge

__all__ = ["DEFAULT_MAX_FRAME", "FRAMING", "PREFIX_SIZE", "LinkFraming", "LinkReader", "encode",
           "read_frame"]

PREFIX_SIZE = 2
_LIMIT = (1 << 16) - 1
# Far above any UnionPay message (a few hundred bytes); bounds what a hostile peer can make us hold.
DEFAULT_MAX_FRAME = 8192


def encode(message: bytes) -> bytes:
    """`message` with its 2-byte length prefix; LINK_FRAME_TOO_LARGE above 65535 bytes."""
    if len(message) > _LIMIT:
        raise LinkFrameTooLarge(len(message), _LIMIT)
    return len(message).to_bytes(PREFIX_SIZE, "big") + message


class LinkReader:
    """Splits a byte stream into messages; LINK_FRAME_TOO_LARGE on a prefix above `max_frame`.

    At most one incomplete frame (<= max_frame + 2 bytes) stays buffered between calls.
    """

    __slots__ = ("_buffer", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = min(max_frame, _LIMIT)
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Every message completed by `data`, in order."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        start = 0
        end = len(buffer)
        while end - start >= PREFIX_SIZE:
            size = (buffer[start] << 8) | buffer[start + 1]
            if size > self.max_frame:
                # No resynchronising after a bad prefix: drop the buffer, the link must reset.
                buffer.clear()
                raise LinkFrameTooLarge(size, self.max_frame)
            if end - start - PREFIX_SIZE < size:
                break
            frames.append(bytes(buffer[start + PREFIX_SIZE : start + PREFIX_SIZE + size]))
            start += PREFIX_SIZE + size
        if start:
            del buffer[:start]
        return frames

    @property
    def pending(self) -> int:
        """Bytes buffered towards the next message."""
        return len(self._buffer)


async def read_frame(stream: asyncio.StreamReader, max_frame: int = DEFAULT_MAX_FRAME) -> bytes:
    """The next message on `stream` (asyncio.IncompleteReadError at end of stream)."""
    size = int.from_bytes(await stream.readexactly(PREFIX_SIZE), "big")
    if size > max_frame:
        raise LinkFrameTooLarge(size, max_frame)
    return await stream.readexactly(size)


class LinkFraming:
    """This framing as links take it: a reader per connection, and the encoder."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame

    def reader(self) -> LinkReader:
        return LinkReader(self.max_frame)

    def encode(self, message: bytes) -> bytes:
        return encode(message)


FRAMING = LinkFraming()
