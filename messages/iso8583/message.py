"""An ISO 8583 message as data: MTI and field values, with card data masked when shown.

Values are ``str`` for n, an, ans and z fields and ``bytes`` for b fields.

>>> msg = Message("0200", {2: "6222020200000001234", 4: "000000012345"})
>>> msg
Message('0200', {2: '622202*********1234', 4: '000000012345'})
>>> msg.to_dict() == {"t": "0200", "2": "6222020200000001234", "4": "000000012345"}
True
>>> Message.from_dict(msg.to_dict()) == msg
True
>>> mask_pan("6222020200000001234")
'622202*********1234'
"""

from __future__ import annotations

from collections.abc import Mapping

from messages.iso8583.errors import BAD_MTI, UNKNOWN_FIELD, Iso8583Error

__all__ = ["FieldValue", "Message", "mask_pan", "masked"]

FieldValue = str | bytes

# Field 2 is masked to first six and last four (PCI DSS); track 2 and the PIN block never show.
_PAN = 2
_HIDDEN = frozenset({35, 52})


def mask_pan(pan: str) -> str:
    """The PAN with all but the first six and last four digits (last four if short) masked."""
    if len(pan) >= 13:
        return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
    if len(pan) > 4:
        return "*" * (len(pan) - 4) + pan[-4:]
    return "*" * len(pan)


def _shown(number: int, value: object) -> object:
    if number == _PAN and isinstance(value, str):
        return mask_pan(value)
    if number in _HIDDEN:
        size = len(value) if isinstance(value, str | bytes) else 0
        return f"<{size} masked>"
    return value


def masked(fields: Mapping[int, FieldValue]) -> dict[int, object]:
    """`fields` in number order as they may be shown: PAN masked, track 2 and PIN block hidden.

    >>> masked({52: b"12345678", 2: "6222020200000001234"})
    {2: '622202*********1234', 52: '<8 masked>'}
    """
    return {n: _shown(n, v) for n, v in sorted(fields.items())}


class Message:
    """MTI plus a dict of field number -> value; bitmaps are derived, never stored."""

    __slots__ = ("fields", "mti")

    mti: str
    fields: dict[int, FieldValue]

    def __init__(self, mti: str, fields: Mapping[int, FieldValue] | None = None) -> None:
        self.mti = mti
        self.fields = dict(fields) if fields else {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.mti == other.mti and self.fields == other.fields

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Message({self.mti!r}, {masked(self.fields)!r})"

    def get(self, number: int) -> FieldValue | None:
        """The value of field `number`, None when absent."""
        return self.fields.get(number)

    def to_dict(self) -> dict[str, FieldValue]:
        """pyiso8583-style dict: "t" for the MTI, field numbers as strings."""
        doc: dict[str, FieldValue] = {"t": self.mti}
        for number in sorted(self.fields):
            doc[str(number)] = self.fields[number]
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, FieldValue]) -> Message:
        """From a pyiso8583-style dict; "p" and "1" (bitmaps, derived) and an empty "h" are ignored.

        >>> Message.from_dict({"t": "0800", "x": "1"})
        Traceback (most recent call last):
        ...
        messages.iso8583.errors.Iso8583Error: ISO8583_UNKNOWN_FIELD at field x: not a field number
        """
        mti = doc.get("t")
        if not isinstance(mti, str):
            raise Iso8583Error(BAD_MTI, "the MTI (key 't') must be a string", field="t")
        fields: dict[int, FieldValue] = {}
        for key, value in doc.items():
            if key in ("t", "p", "1") or (key == "h" and not value):
                continue
            if not (key.isascii() and key.isdigit()):
                raise Iso8583Error(UNKNOWN_FIELD, "not a field number", field=key)
            fields[int(key)] = value
        return cls(mti, fields)
