"""ISO 8583 decoder: bytes to a `Message`, refusing anything the spec does not allow.

Every error names the field and the byte offset: the offending byte where there is one, else
the start of the field or prefix. Work and memory are bounded by the input: lengths are
checked against the spec's maximum before any data is sliced.

>>> from messages.iso8583.specs import UNIONPAY
>>> data = b"0800\\x00\\x20\\x00\\x00\\x00\\x00\\x00\\x00000001"
>>> decode(data, UNIONPAY)
Message('0800', {11: '000001'})
>>> decode(data[:-1], UNIONPAY)
Traceback (most recent call last):
...
messages.iso8583.errors.Iso8583Error: ISO8583_TRUNCATED at field 11, byte 12: needs 6 bytes, 5 left
>>> decode(b"0800\\x00\\x20\\x00\\x00\\x00\\x00\\x00\\x0000000A", UNIONPAY)
Traceback (most recent call last):
...
messages.iso8583.errors.Iso8583Error: ISO8583_BAD_FIELD at field 11, byte 17: numeric ... 0x41
>>> decode(b"0800\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02AB", UNIONPAY)
Traceback (most recent call last):
...
messages.iso8583.errors.Iso8583Error: ISO8583_UNKNOWN_FIELD at field 63, byte 11: bit 63 ...
"""

from __future__ import annotations

import hmac

from messages.iso8583._plan import SENSITIVE, TYPE_NAMES, FieldPlan, first_refused, plan_for
from messages.iso8583.encoder import MacFunction
from messages.iso8583.errors import (
    BAD_BITMAP,
    BAD_FIELD,
    BAD_MTI,
    EXTRA_DATA,
    FIELD_TOO_LONG,
    MISSING_FIELD,
    TRUNCATED,
    UNKNOWN_FIELD,
    Iso8583Error,
    MacMismatch,
)
from messages.iso8583.message import FieldValue, Message
from messages.iso8583.specs import Spec

__all__ = ["decode"]

_HEX = b"0123456789ABCDEFabcdef"
_SECONDARY = 1 << 127
_LOW64 = (1 << 64) - 1


def decode(data: bytes | bytearray | memoryview, spec: Spec, *,
           mac: MacFunction | None = None) -> Message:
    """The message in `data`, which must hold exactly one message in format `spec`.

    With `mac`, the spec's MAC field must be present and equal `mac` of every byte before it,
    else ISO8583_MISSING_FIELD or ISO8583_MAC_MISMATCH (answered with field 39 A0).
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    plan = plan_for(spec)
    if mac is not None and plan.mac_field is None:
        raise ValueError(f"spec {plan.name} defines no MAC field")
    size = len(data)

    # MTI
    width = 2 if plan.mti_bcd else 4
    if size < width:
        raise Iso8583Error(TRUNCATED, f"MTI needs {width} bytes, {size} left", field="t",
                           offset=0)
    raw = data[:width]
    mti = raw.hex() if plan.mti_bcd else raw.decode("latin-1")
    if not (mti.isascii() and mti.isdigit()):
        raise Iso8583Error(BAD_MTI, "MTI is not 4 digits", field="t", offset=0)
    if plan.mtis is not None and mti not in plan.mtis:
        raise Iso8583Error(BAD_MTI, f"MTI {mti} is not accepted on this link", field="t",
                           offset=0)
    pos = width

    # Bitmaps: bit n (1-based, most significant first) of a 128-bit integer is field n.
    start = pos
    primary, pos = _bitmap(data, pos, plan.bitmap_hex, "p")
    bits = primary << 64
    if primary >> 63:
        secondary, pos = _bitmap(data, pos, plan.bitmap_hex, "1")
        if not secondary:
            raise Iso8583Error(BAD_BITMAP, "secondary bitmap announced but empty", field="1",
                               offset=pos - (16 if plan.bitmap_hex else 8))
        bits |= secondary
    unknown = bits & ~plan.mask & ~_SECONDARY
    if unknown:
        number = 129 - unknown.bit_length()
        at = start + (number - 1) // (4 if plan.bitmap_hex else 8)
        raise Iso8583Error(UNKNOWN_FIELD, f"bit {number} is set in the bitmap but spec "
                           f"{plan.name} does not define field {number}", field=number, offset=at)

    fields: dict[int, FieldValue] = {}
    mac_at = -1
    rest = bits & ~_SECONDARY
    plans = plan.fields
    while rest:
        top = rest.bit_length()
        rest ^= 1 << (top - 1)
        number = 129 - top
        field = plans[number]
        assert field is not None
        if number == plan.mac_field:
            mac_at = pos
        fields[number], pos = _field(field, data, pos, size)
    if pos != size:
        raise Iso8583Error(EXTRA_DATA, f"{size - pos} bytes after the last field", offset=pos)

    if mac is not None and plan.mac_field is not None:
        found = fields.get(plan.mac_field)
        if not isinstance(found, bytes):
            raise Iso8583Error(MISSING_FIELD, "the message carries no MAC",
                               field=plan.mac_field, offset=size)
        if not hmac.compare_digest(mac(data[:mac_at]), found):
            raise MacMismatch(offset=mac_at)
    return Message(mti, fields)


def _bitmap(data: bytes, pos: int, hexa: bool, name: str) -> tuple[int, int]:
    width = 16 if hexa else 8
    raw = data[pos : pos + width]
    if len(raw) < width:
        raise Iso8583Error(TRUNCATED, f"bitmap needs {width} bytes, {len(raw)} left",
                           field=name, offset=pos)
    if hexa:
        if raw.translate(None, _HEX):
            bad = first_refused(raw, _HEX)
            raise Iso8583Error(BAD_BITMAP, f"hex bitmap has byte 0x{raw[bad]:02X}", field=name,
                               offset=pos + bad)
        return int(raw, 16), pos + width
    return int.from_bytes(raw, "big"), pos + width


def _field(field: FieldPlan, data: bytes, pos: int, size: int) -> tuple[FieldValue, int]:
    """The value of `field` starting at `pos`, and the offset after it."""
    if field.prefix:
        end = pos + field.prefix
        if end > size:
            raise Iso8583Error(TRUNCATED, f"length prefix needs {field.prefix} bytes, "
                               f"{size - pos} left", field=field.name, offset=pos)
        raw = data[pos:end]
        text = raw.hex() if field.prefix_bcd else raw.decode("latin-1")
        if not (text.isascii() and text.isdigit()):
            raise Iso8583Error(BAD_FIELD, "length prefix is not decimal digits",
                               field=field.name, offset=pos)
        length = int(text)
        if length > field.max_len:
            raise Iso8583Error(FIELD_TOO_LONG, f"length prefix says {length}, maximum "
                               f"{field.max_len}", field=field.name, offset=pos)
        if length < field.min_len:
            raise Iso8583Error(BAD_FIELD, f"length prefix says {length}, minimum "
                               f"{field.min_len}", field=field.name, offset=pos)
        pos = end
    else:
        length = field.max_len
    width = (length + 1) >> 1 if field.bcd else length
    end = pos + width
    if end > size:
        raise Iso8583Error(TRUNCATED, f"needs {width} bytes, {size - pos} left",
                           field=field.name, offset=pos)
    raw = data[pos:end]
    if field.binary:
        return raw, end
    if field.bcd:
        return _bcd(field, raw, length, pos), end
    if raw.translate(None, field.allowed):
        bad = first_refused(raw, field.allowed)
        shown = "a refused byte" if field.number in SENSITIVE else f"byte 0x{raw[bad]:02X}"
        raise Iso8583Error(BAD_FIELD, f"{TYPE_NAMES[field.type]} field has {shown}",
                           field=field.name, offset=pos + bad)
    return raw.decode("ascii"), end


def _bcd(field: FieldPlan, raw: bytes, length: int, pos: int) -> str:
    text = raw.hex()
    if length & 1:
        if text[0] != "0":
            raise Iso8583Error(BAD_FIELD, "BCD pad nibble is not 0", field=field.name,
                               offset=pos)
        text = text[1:]
    if field.z:
        text = text.replace("d", "=")
        ok = text.replace("=", "").isdigit() or not text.replace("=", "")
    else:
        ok = text.isdigit()
    if not ok:
        allowed = "0123456789=" if field.z else "0123456789"
        bad = next(i for i, c in enumerate(text) if c not in allowed)
        raise Iso8583Error(BAD_FIELD, "BCD nibble is not a decimal digit", field=field.name,
                           offset=pos + (bad + (length & 1)) // 2)
    return text
