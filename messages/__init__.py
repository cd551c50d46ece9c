"""Message codecs of the switch: ISO 20022 MX documents, channel framing, currencies and errors."""

from messages.currency import exponent, format_amount, is_known, parse_amount
from messages.errors import MessageError, UnknownCurrency

__all__ = [
    "MessageError",
    "UnknownCurrency",
    "exponent",
    "format_amount",
    "is_known",
    "parse_amount",
]
