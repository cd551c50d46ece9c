"""Frame scanner errors: each carries a stable ``code`` and the stream offset of the bad header.

>>> err = FrameTooLarge(offset=12, length=70000, max_frame=65536)
>>> err.code, err.offset, err.length
('FRAME_TOO_LARGE', 12, 70000)
>>> str(err)
'FRAME_TOO_LARGE at stream offset 12: LENGTH 70000 exceeds max_frame 65536'
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["FrameError", "FrameHeaderInvalid", "FrameTooLarge"]


class FrameError(Exception):
    """The byte stream cannot be framed any further; the session must be closed.

    ``offset`` is the stream offset of the bad frame's LENGTH field, ``length`` the value read
    there. ``frames`` holds the complete frames cut in the failing ``feed`` call before the bad
    header, so the protocol layer may still answer them before it closes the session.
    """

    code: ClassVar[str] = "FRAME_ERROR"

    def __init__(self, offset: int, length: int, reason: str) -> None:
        super().__init__(offset, length, reason)
        self.offset = offset
        self.length = length
        self.reason = reason
        self.frames: list[tuple[int, int, bytes]] = []

    def __str__(self) -> str:
        return f"{self.code} at stream offset {self.offset}: {self.reason}"


class FrameTooLarge(FrameError):
    """LENGTH is above the scanner's ``max_frame``."""

    code: ClassVar[str] = "FRAME_TOO_LARGE"

    def __init__(self, offset: int, length: int, max_frame: int) -> None:
        super().__init__(offset, length, f"LENGTH {length} exceeds max_frame {max_frame}")
        self.max_frame = max_frame
        self.args = (offset, length, max_frame)  # so that pickling rebuilds the same error


class FrameHeaderInvalid(FrameError):
    """LENGTH is below 2, too short to hold the VERSION and TYPE bytes."""

    code: ClassVar[str] = "FRAME_HEADER_INVALID"

    def __init__(self, offset: int, length: int) -> None:
        super().__init__(offset, length, f"LENGTH {length} is below 2 (VERSION and TYPE bytes)")
        self.args = (offset, length)
