"""SWIFT FIN block and field tokenizer: the compiled module, or its pure twin.

``PAYSWITCH_PURE=1`` in the environment, or a missing/unbuildable extension, selects the pure
twin; ``IMPLEMENTATION`` says which one is running ("cython" or "pure").

>>> tokenize("{2:I103BANKDEFFXXXXN}{4:\\r\\n:20:X\\r\\n-}")[1]
[('20', 'X', 1)]
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from fastpath._mttok_py import MtSyntaxError

__all__ = [
    "DEFAULT_MAX_SIZE",
    "IMPLEMENTATION",
    "MtSyntaxError",
    "split_blocks",
    "split_fields",
    "split_subblocks",
    "tokenize",
]

IMPLEMENTATION: str

if TYPE_CHECKING:  # both implementations share one API; type against the pure twin
    from fastpath._mttok_py import (
        DEFAULT_MAX_SIZE,
        split_blocks,
        split_fields,
        split_subblocks,
        tokenize,
    )
elif os.environ.get("PAYSWITCH_PURE") == "1":
    from fastpath._mttok_py import (
        DEFAULT_MAX_SIZE,
        split_blocks,
        split_fields,
        split_subblocks,
        tokenize,
    )

    IMPLEMENTATION = "pure"
else:
    try:
        from fastpath._mttok import (
            DEFAULT_MAX_SIZE,
            split_blocks,
            split_fields,
            split_subblocks,
            tokenize,
        )

        IMPLEMENTATION = "cython"
    except ImportError:
        from fastpath._mttok_py import (
            DEFAULT_MAX_SIZE,
            split_blocks,
            split_fields,
            split_subblocks,
            tokenize,
        )

        IMPLEMENTATION = "pure"
