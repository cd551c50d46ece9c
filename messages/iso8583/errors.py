"""Errors of the ISO 8583 codec: each names its stable code, the field and the byte offset.

>>> err = Iso8583Error("ISO8583_BAD_FIELD", "non-numeric byte 0x41", field="4", offset=23)
>>> str(err)
'ISO8583_BAD_FIELD at field 4, byte 23: non-numeric byte 0x41'
>>> err.field, err.offset, err.where
('4', 23, 'field 4, byte 23')
>>> MacMismatch(offset=60).response_code
'A0'
"""

from __future__ import annotations

from messages.errors import MessageError

__all__ = [
    "BAD_BITMAP",
    "BAD_FIELD",
    "BAD_MTI",
    "EXTRA_DATA",
    "FIELD_TOO_LONG",
    "MAC_MISMATCH",
    "MISSING_FIELD",
    "TRUNCATED",
    "UNKNOWN_FIELD",
    "Iso8583Error",
    "MacMismatch",
]

BAD_BITMAP = "ISO8583_BAD_BITMAP"
BAD_FIELD = "ISO8583_BAD_FIELD"
BAD_MTI = "ISO8583_BAD_MTI"
EXTRA_DATA = "ISO8583_EXTRA_DATA"
FIELD_TOO_LONG = "ISO8583_FIELD_TOO_LONG"
MAC_MISMATCH = "ISO8583_MAC_MISMATCH"
MISSING_FIELD = "ISO8583_MISSING_FIELD"
TRUNCATED = "ISO8583_TRUNCATED"
UNKNOWN_FIELD = "ISO8583_UNKNOWN_FIELD"


def _where(field: str | None, offset: int | None) -> str | None:
    if field is None and offset is None:
        return None
    if offset is None:
        return f"field {field}"
    if field is None:
        return f"byte {offset}"
    return f"field {field}, byte {offset}"


class Iso8583Error(MessageError):
    """An ISO 8583 message could not be encoded or decoded.

    `field` is the data element ("2".."128", "t" for the MTI, "p"/"1" for the bitmaps) and
    `offset` the byte offset in the message (after any link length prefix) where it failed.
    Error texts never quote the value of field 2 or 35 (card data).
    """

    field: str | None
    offset: int | None

    def __init__(self, code: str, message: str, *, field: str | int | None = None,
                 offset: int | None = None) -> None:
        name = None if field is None else str(field)
        super().__init__(code, message, where=_where(name, offset))
        self.field = name
        self.offset = offset

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.code, self.message, self.field, self.offset))


def _rebuild(cls: type[Iso8583Error], code: str, message: str, field: str | None,
             offset: int | None) -> Iso8583Error:
    err = Iso8583Error.__new__(cls)
    Iso8583Error.__init__(err, code, message, field=field, offset=offset)
    return err


class MacMismatch(Iso8583Error):
    """Field 128 does not match the MAC computed over the message; answered with field 39 A0."""

    response_code = "A0"

    def __init__(self, *, offset: int | None = None,
                 message: str = "MAC does not match the message") -> None:
        super().__init__(MAC_MISMATCH, message, field="128", offset=offset)
