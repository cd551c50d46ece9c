"""The pyiso8583 equivalent of a `Spec`, and message conversion both ways.

pyiso8583 (PyPI ``pyiso8583``, import ``iso8583``) is the independent implementation the tests
and the benchmark check this codec against; this module only builds its dicts and never imports
it. pyiso8583 gives b and BCD fields as hex strings (BCD track 2 "=" as "D").

>>> from messages.iso8583.specs import UNIONPAY_BCD
>>> pyiso8583_spec(UNIONPAY_BCD)["49"]["data_enc"], pyiso8583_spec(UNIONPAY_BCD)["49"]["left_pad"]
('b', '0')
>>> doc = to_pyiso8583({"t": "0800", 35: "1234=56", 128: b"\\x01" * 8}, UNIONPAY_BCD)
>>> doc
{'t': '0800', '35': '1234D56', '128': '0101010101010101'}
>>> from_pyiso8583({**doc, "p": "8000", "1": "0001"}, UNIONPAY_BCD) == Message(
...     "0800", {35: "1234=56", 128: b"\\x01" * 8})
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from messages.iso8583.errors import UNKNOWN_FIELD, Iso8583Error
from messages.iso8583.message import FieldValue, Message
from messages.iso8583.specs import Spec

__all__ = ["from_pyiso8583", "pyiso8583_spec", "to_pyiso8583"]

# Length prefix width in pyiso8583's len_type: characters for ASCII, bytes for BCD.
_LEN_TYPE = {"ascii": {"fixed": 0, "LLVAR": 2, "LLLVAR": 3},
             "bcd": {"fixed": 0, "LLVAR": 1, "LLLVAR": 2}}


def pyiso8583_spec(spec: Spec) -> dict[str, dict[str, Any]]:
    """The pyiso8583 spec dict that encodes and decodes exactly like `spec`."""
    bitmap_hex = spec.bitmap_encoding == "hex"
    bitmap = {"data_enc": "ascii" if bitmap_hex else "b", "len_enc": "ascii", "len_type": 0,
              "max_len": 16 if bitmap_hex else 8}
    out: dict[str, dict[str, Any]] = {
        "h": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 0,
              "desc": "Message header (none)"},
        "t": {"data_enc": "b" if spec.mti_encoding == "bcd" else "ascii", "len_enc": "ascii",
              "len_type": 0, "max_len": 2 if spec.mti_encoding == "bcd" else 4,
              "desc": "Message type indicator"},
        "p": {**bitmap, "desc": "Bitmap, primary"},
        "1": {**bitmap, "desc": "Bitmap, secondary"},
    }
    len_enc = spec.length_encoding
    for number, field in spec.fields.items():
        entry: dict[str, Any] = {
            "data_enc": "ascii" if field.encoding == "ascii" else "b",
            "len_enc": len_enc,
            "len_type": _LEN_TYPE[len_enc][field.length],
            "max_len": field.max_len,
            "desc": field.description,
        }
        if field.encoding == "bcd":
            entry.update(len_count="nibbles", left_pad="0")
        out[str(number)] = entry
    return out


def to_pyiso8583(msg: Message | Mapping[int | str, FieldValue], spec: Spec) -> dict[str, str]:
    """`msg` as a pyiso8583 document for `spec` (keys "t" and field numbers)."""
    if isinstance(msg, Message):
        items: list[tuple[int | str, FieldValue]] = [("t", msg.mti), *msg.fields.items()]
    else:
        items = list(msg.items())
    doc: dict[str, str] = {}
    for key, value in items:
        if key == "t":
            doc["t"] = str(value)
            continue
        field = spec.fields.get(int(key))
        if field is None:
            raise Iso8583Error(UNKNOWN_FIELD, f"field not defined in spec {spec.name}", field=key)
        if isinstance(value, bytes):
            doc[str(key)] = value.hex().upper()
        elif field.encoding == "bcd" and field.type == "z":
            doc[str(key)] = value.replace("=", "D")
        else:
            doc[str(key)] = value
    return doc


def from_pyiso8583(doc: Mapping[str, str], spec: Spec) -> Message:
    """The `Message` of a pyiso8583 document for `spec` ("h", "p" and "1" are dropped)."""
    fields: dict[int, FieldValue] = {}
    for key, value in doc.items():
        if key in ("t", "h", "p", "1"):
            continue
        field = spec.fields.get(int(key))
        if field is None:
            raise Iso8583Error(UNKNOWN_FIELD, f"field not defined in spec {spec.name}", field=key)
        if field.type == "b":
            fields[int(key)] = bytes.fromhex(value)
        elif field.encoding == "bcd" and field.type == "z":
            fields[int(key)] = value.upper().replace("D", "=")
        else:
            fields[int(key)] = value
    return Message(doc["t"], fields)
