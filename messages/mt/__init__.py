"""SWIFT MT (FIN) codec: typed messages in, FIN text out, and back.

Blocks and fields are cut by ``fastpath.mttok`` (Cython, with a pure twin); field formats and
message layouts are data in ``messages.mt.specs``; errors are ``MtError`` subclasses carrying the
field tag and the block 4 line.
"""

from messages.mt.codec import MESSAGE_CLASSES, build_mt, parse_mt
from messages.mt.errors import (
    MtBadBlock,
    MtBadCharset,
    MtBadField,
    MtError,
    MtMissingField,
    MtTooLarge,
    MtUnsupportedType,
)
from messages.mt.types import (
    MT103,
    MT192,
    MT196,
    MT199,
    MT202,
    MT202COV,
    MT900,
    MT910,
    MT940,
    MT950,
    Balance,
    Envelope,
    Money,
    MTMessage,
    Party,
    StatementLine,
    UserHeader,
)

__all__ = [
    "MESSAGE_CLASSES",
    "MT103",
    "MT192",
    "MT196",
    "MT199",
    "MT202",
    "MT202COV",
    "MT900",
    "MT910",
    "MT940",
    "MT950",
    "Balance",
    "Envelope",
    "MTMessage",
    "Money",
    "MtBadBlock",
    "MtBadCharset",
    "MtBadField",
    "MtError",
    "MtMissingField",
    "MtTooLarge",
    "MtUnsupportedType",
    "Party",
    "StatementLine",
    "UserHeader",
    "build_mt",
    "parse_mt",
]
