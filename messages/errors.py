"""The one exception hierarchy of the `messages` layer.

Every error carries a stable upper-snake `code` (mapped by the protocol to error frames and by
the CLI to messages) and, where known, `where`: the XPath of the offending element.

>>> str(MessageError("MX_BAD_VALUE", "longer than 35 characters", where="/Document/X/MsgId"))
'MX_BAD_VALUE at /Document/X/MsgId: longer than 35 characters'
>>> str(UnknownCurrency("XYZ"))
'UNKNOWN_CURRENCY: unknown ISO 4217 currency code XYZ'
"""

from __future__ import annotations

__all__ = [
    "BadAmount",
    "LinkFrameTooLarge",
    "MessageError",
    "MxDtdForbidden",
    "MxMalformed",
    "MxTooLarge",
    "MxWrongMessage",
    "UnknownCurrency",
]


class MessageError(Exception):
    """A message could not be built, parsed or framed."""

    code: str
    where: str | None
    message: str

    def __init__(self, code: str, message: str, *, where: str | None = None) -> None:
        super().__init__(code, message, where)
        self.code = code
        self.message = message
        self.where = where

    def __str__(self) -> str:
        if self.where is None:
            return f"{self.code}: {self.message}"
        return f"{self.code} at {self.where}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, where={self.where!r})"


class UnknownCurrency(MessageError):
    """A currency code that is not an active ISO 4217 code with a minor unit."""

    def __init__(self, currency: str, *, where: str | None = None, reason: str = "") -> None:
        super().__init__(
            "UNKNOWN_CURRENCY",
            reason or f"unknown ISO 4217 currency code {currency}",
            where=where,
        )
        self.currency = currency


class BadAmount(MessageError):
    """An amount that is not a valid decimal for its currency."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__("BAD_AMOUNT", message, where=where)


class MxMalformed(MessageError):
    """The bytes are not well-formed UTF-8 XML."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__("MX_MALFORMED", message, where=where)


class MxDtdForbidden(MessageError):
    """The document carries a DOCTYPE (entities, external DTDs): refused before expansion."""

    def __init__(self, message: str = "DOCTYPE and entity declarations are forbidden") -> None:
        super().__init__("MX_DTD_FORBIDDEN", message)


class MxTooLarge(MessageError):
    """The document is larger than the parser accepts."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__("MX_TOO_LARGE", f"{size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class MxWrongMessage(MessageError):
    """The document is well-formed but is not the expected message (root namespace or element)."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__("MX_WRONG_MESSAGE", message, where=where)


class LinkFrameTooLarge(MessageError):
    """A length prefix on a channel link announces a frame above the reader's maximum."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            "LINK_FRAME_TOO_LARGE", f"frame of {size} bytes exceeds the limit of {limit} bytes"
        )
        self.size = size
        self.limit = limit
