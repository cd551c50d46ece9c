"""Frame scanner of the switch's binary protocol: the compiled module, or its pure twin.

``PAYSWITCH_PURE=1`` in the environment, or a missing/unbuildable extension, selects the pure
twin; ``IMPLEMENTATION`` says which one is running ("cython" or "pure").

>>> scanner = FrameScanner(max_frame=16)
>>> scanner.feed(encode_frame(3, b"ping"))
[(1, 3, b'ping')]
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from fastpath.errors import FrameError, FrameHeaderInvalid, FrameTooLarge

__all__ = [
    "HEADER_SIZE",
    "IMPLEMENTATION",
    "FrameError",
    "FrameHeaderInvalid",
    "FrameScanner",
    "FrameTooLarge",
    "encode_frame",
]

IMPLEMENTATION: str

if TYPE_CHECKING:  # both implementations share one API; type against the pure twin
    from fastpath._framescan_py import HEADER_SIZE, FrameScanner, encode_frame
elif os.environ.get("PAYSWITCH_PURE") == "1":
    from fastpath._framescan_py import HEADER_SIZE, FrameScanner, encode_frame

    IMPLEMENTATION = "pure"
else:
    try:
        from fastpath._framescan import HEADER_SIZE, FrameScanner, encode_frame

        IMPLEMENTATION = "cython"
    except ImportError:
        from fastpath._framescan_py import HEADER_SIZE, FrameScanner, encode_frame

        IMPLEMENTATION = "pure"
