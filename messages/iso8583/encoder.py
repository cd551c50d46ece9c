"""ISO 8583 encoder: a `Message` (or a pyiso8583-style dict, or a typed channel message) to bytes.

>>> from messages.iso8583.specs import UNIONPAY, UNIONPAY_BCD
>>> data = encode({"t": "0800", "7": "0506093015", "11": "000001", "70": "001"}, UNIONPAY)
>>> data[:4], data[4:20].hex(), data[20:]
(b'0800', '82200000000000000400000000000000', b'0506093015000001001')
>>> encode(Message("0800", {11: "000001"}), UNIONPAY_BCD).hex()
'08000020000000000000000001'
>>> encode({"t": "0200", "4": "12.50"}, UNIONPAY)
Traceback (most recent call last):
...
messages.iso8583.errors.Iso8583Error: ISO8583_BAD_FIELD at field 4, byte 14: numeric ... '.' ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from messages.iso8583._plan import SENSITIVE, TYPE_NAMES, FieldPlan, first_refused, plan_for
from messages.iso8583.errors import (
    BAD_FIELD,
    BAD_MTI,
    FIELD_TOO_LONG,
    UNKNOWN_FIELD,
    Iso8583Error,
)
from messages.iso8583.message import FieldValue, Message
from messages.iso8583.specs import Spec

__all__ = ["MacFunction", "SupportsMessage", "encode", "encode_field"]

MacFunction = Callable[[bytes], bytes]
"""Computes the MAC over the message bytes before the MAC field (see `messages.iso8583.mac`)."""

_DIGITS = b"0123456789"


class SupportsMessage(Protocol):
    """A typed channel message that can give its generic `Message`."""

    def to_message(self) -> Message: ...


def encode(msg: Message | Mapping[str, FieldValue] | SupportsMessage, spec: Spec, *,
           mac: MacFunction | None = None) -> bytes:
    """The bytes of `msg` in format `spec`, every field checked against the spec.

    With `mac`, the spec's MAC field is computed over all bytes before it (any value given for
    it is replaced); without, a MAC field value is encoded as given.
    """
    if isinstance(msg, Message):
        message = msg
    elif isinstance(msg, Mapping):
        message = Message.from_dict(msg)
    else:
        message = msg.to_message()
    plan = plan_for(spec)
    if mac is not None and plan.mac_field is None:
        raise ValueError(f"spec {plan.name} defines no MAC field")
    out = bytearray(_encode_mti(message.mti, plan.mti_bcd, plan.mtis))

    fields = message.fields
    bits = 0
    for number in fields:
        if type(number) is not int or not 2 <= number <= 128 or plan.fields[number] is None:
            raise Iso8583Error(UNKNOWN_FIELD, f"field not defined in spec {plan.name}",
                               field=number)
        bits |= 1 << (128 - number)
    mac_field = plan.mac_field if mac is not None else None
    if mac_field is not None:
        bits |= 1 << (128 - mac_field)
    if bits & ((1 << 64) - 1):
        bits |= 1 << 127
        width = 16
    else:
        bits >>= 64
        width = 8
    raw = bits.to_bytes(width, "big")
    out += raw.hex().upper().encode() if plan.bitmap_hex else raw

    for number in sorted(fields):
        if number == mac_field:
            continue
        field = plan.fields[number]
        assert field is not None
        out += encode_field(field, fields[number], len(out))
    if mac is not None and mac_field is not None:
        field = plan.fields[mac_field]
        assert field is not None
        out += encode_field(field, mac(bytes(out)), len(out))
    return bytes(out)


def _encode_mti(mti: object, bcd: bool, mtis: frozenset[str] | None) -> bytes:
    if not isinstance(mti, str) or len(mti) != 4 or not (mti.isascii() and mti.isdigit()):
        raise Iso8583Error(BAD_MTI, "MTI must be 4 digits", field="t", offset=0)
    if mtis is not None and mti not in mtis:
        raise Iso8583Error(BAD_MTI, f"MTI {mti} is not accepted on this link", field="t",
                           offset=0)
    return bytes.fromhex(mti) if bcd else mti.encode()


def encode_field(field: FieldPlan, value: object, offset: int) -> bytes:
    """Length prefix and data of one field whose first byte goes at `offset`."""
    if field.binary:
        if not isinstance(value, bytes | bytearray):
            raise Iso8583Error(BAD_FIELD, f"b value must be bytes, not {type(value).__name__}",
                               field=field.name, offset=offset)
        data = bytes(value)
        length = len(data)
    else:
        if not isinstance(value, str):
            raise Iso8583Error(BAD_FIELD, f"{field.type} value must be str, not "
                               f"{type(value).__name__}", field=field.name, offset=offset)
        try:
            data = value.encode("ascii")
        except UnicodeEncodeError as exc:
            raise _refused(field, value, exc.start, offset) from None
        if data.translate(None, field.allowed):
            raise _refused(field, value, first_refused(data, field.allowed), offset)
        length = len(data)
        if field.bcd:
            text = value.replace("=", "D") if field.z else value
            data = bytes.fromhex("0" + text if length & 1 else text)
    if length > field.max_len:
        raise Iso8583Error(FIELD_TOO_LONG, f"{length} {_unit(field)}, maximum {field.max_len}",
                           field=field.name, offset=offset)
    if length < field.min_len:
        want = "exactly" if field.prefix == 0 else "at least"
        raise Iso8583Error(BAD_FIELD, f"{length} {_unit(field)}, {want} {field.min_len}",
                           field=field.name, offset=offset)
    if field.prefix == 0:
        return data
    if field.prefix_bcd:
        return bytes.fromhex(f"{length:0{field.prefix * 2}d}") + data
    return f"{length:0{field.prefix}d}".encode() + data


def _unit(field: FieldPlan) -> str:
    return "bytes" if field.binary else "digits" if field.type in ("n", "z") else "characters"


def _refused(field: FieldPlan, value: str, index: int, offset: int) -> Iso8583Error:
    kind = TYPE_NAMES[field.type]
    # Card data is never quoted, not even one character of it.
    shown = "a refused character" if field.number in SENSITIVE else repr(value[index])
    # The offset is that of the byte the character would have gone to.
    at = (index + (len(value) & 1)) // 2 if field.bcd else index
    return Iso8583Error(BAD_FIELD, f"{kind} value has {shown} at position {index}",
                        field=field.name, offset=offset + field.prefix + at)
