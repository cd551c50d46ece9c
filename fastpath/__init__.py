"""Hot paths of the switch: Cython modules, each with a pure-Python twin (``PAYSWITCH_PURE=1``)."""

from fastpath.framescan import (
    HEADER_SIZE,
    IMPLEMENTATION,
    FrameError,
    FrameHeaderInvalid,
    FrameScanner,
    FrameTooLarge,
    encode_frame,
)

__all__ = [
    "HEADER_SIZE",
    "IMPLEMENTATION",
    "FrameError",
    "FrameHeaderInvalid",
    "FrameScanner",
    "FrameTooLarge",
    "encode_frame",
]
