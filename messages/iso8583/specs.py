"""ISO 8583:1987 message formats as data: one `FieldSpec` per data element, one `Spec` per link.

Field types: n numeric, an alphanumeric (space allowed, as fixed `an` fields are space padded),
ans printable ASCII, z track 2 (digits and "="), b binary. Lengths are counted in characters
(digits for n and z) and in bytes for b, so field 128 (b 64 bits in the standard) is
``max_len=8``. Odd-length BCD values carry one leading 0 nibble; a BCD length prefix is 1 byte for
LLVAR and 2 bytes for LLLVAR; an ASCII prefix is 2 or 3 digits.

>>> UNIONPAY.fields[4]
FieldSpec(type='n', length='fixed', max_len=12, description='Amount, transaction ...', ...)
>>> UNIONPAY_BCD.fields[2].encoding, UNIONPAY_BCD.fields[2].max_len
('bcd', 19)
>>> UNIONPAY_HEX_BITMAP.bitmap_encoding
'hex'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, NamedTuple

__all__ = [
    "UNIONPAY",
    "UNIONPAY_BCD",
    "UNIONPAY_HEX_BITMAP",
    "UNIONPAY_MTIS",
    "FieldSpec",
    "Spec",
    "make_spec",
]

FieldType = Literal["n", "an", "ans", "z", "b"]
LengthKind = Literal["fixed", "LLVAR", "LLLVAR"]
DataEncoding = Literal["ascii", "bcd", "binary"]

_LIMITS = {"fixed": 999, "LLVAR": 99, "LLLVAR": 999}


class FieldSpec(NamedTuple):
    """One data element: type, length kind, maximum length, encoding and description.

    A fixed field has exactly `max_len`; a variable one from `min_len` to `max_len`.
    """

    type: FieldType
    length: LengthKind
    max_len: int
    description: str
    encoding: DataEncoding = "ascii"
    min_len: int = 0


@dataclass(frozen=True, eq=False)
class Spec:
    """A message format: MTI, bitmap and length-prefix encodings and the fields it defines.

    `mtis` limits the message types accepted (None: any 4 digits); `mac_field` is the field
    holding the MAC, computed over every byte before it, so it must be the last field defined.
    """

    name: str
    fields: Mapping[int, FieldSpec]
    mti_encoding: Literal["ascii", "bcd"] = "ascii"
    bitmap_encoding: Literal["binary", "hex"] = "binary"
    length_encoding: Literal["ascii", "bcd"] = "ascii"
    mtis: frozenset[str] | None = None
    mac_field: int | None = None
    _mask: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fields = dict(self.fields)
        for number, spec in fields.items():
            _check_field(number, spec)
        if self.mac_field is not None:
            mac = fields.get(self.mac_field)
            if mac is None or mac.type != "b" or mac.length != "fixed":
                raise ValueError(f"MAC field {self.mac_field} must be a fixed b field")
            if self.mac_field != max(fields):
                raise ValueError(f"MAC field {self.mac_field} must be the last field")
        if self.mtis is not None:
            for mti in self.mtis:
                if len(mti) != 4 or not (mti.isascii() and mti.isdigit()):
                    raise ValueError(f"MTI {mti!r} is not 4 digits")
        object.__setattr__(self, "fields", MappingProxyType(dict(sorted(fields.items()))))
        # Bit n of the mask (bit 1 = most significant of 128) is set for each defined field.
        object.__setattr__(self, "_mask", sum(1 << (128 - n) for n in fields))

    @property
    def defined_mask(self) -> int:
        """The 128-bit bitmap with the bit of every field this spec defines set."""
        return self._mask


def _check_field(number: int, spec: FieldSpec) -> None:
    if not 2 <= number <= 128:
        raise ValueError(f"field {number}: data fields are 2 to 128 (1 is the secondary bitmap)")
    if spec.type not in ("n", "an", "ans", "z", "b"):
        raise ValueError(f"field {number}: unknown type {spec.type!r}")
    if spec.length not in _LIMITS:
        raise ValueError(f"field {number}: unknown length kind {spec.length!r}")
    if not 1 <= spec.max_len <= _LIMITS[spec.length]:
        raise ValueError(f"field {number}: max_len {spec.max_len} out of range for {spec.length}")
    if spec.length != "fixed" and not 0 <= spec.min_len <= spec.max_len:
        raise ValueError(f"field {number}: min_len {spec.min_len} out of range")
    if spec.length == "fixed" and spec.min_len != spec.max_len:
        raise ValueError(f"field {number}: a fixed field has min_len == max_len")
    allowed = {"n": ("ascii", "bcd"), "z": ("ascii", "bcd"), "an": ("ascii",),
               "ans": ("ascii",), "b": ("binary",)}[spec.type]
    if spec.encoding not in allowed:
        raise ValueError(f"field {number}: {spec.type} cannot be encoded as {spec.encoding}")


# (number, type, length kind, max_len, min_len, description): ISO 8583:1987 elements the
# UnionPay channel uses (CHANNELS.md), plus the common ones its 0200/0400 messages carry.
_UNIONPAY_FIELDS: tuple[tuple[int, FieldType, LengthKind, int, int, str], ...] = (
    (2, "n", "LLVAR", 19, 12, "Primary account number (PAN)"),
    (3, "n", "fixed", 6, 6, "Processing code"),
    (4, "n", "fixed", 12, 12, "Amount, transaction (minor units)"),
    (7, "n", "fixed", 10, 10, "Transmission date and time MMDDhhmmss (UTC)"),
    (11, "n", "fixed", 6, 6, "Systems trace audit number (STAN)"),
    (12, "n", "fixed", 6, 6, "Time, local transaction hhmmss"),
    (13, "n", "fixed", 4, 4, "Date, local transaction MMDD"),
    (14, "n", "fixed", 4, 4, "Date, expiration YYMM"),
    (15, "n", "fixed", 4, 4, "Date, settlement MMDD"),
    (18, "n", "fixed", 4, 4, "Merchant type (MCC)"),
    (22, "n", "fixed", 3, 3, "Point of service entry mode"),
    (25, "n", "fixed", 2, 2, "Point of service condition code"),
    (32, "n", "LLVAR", 11, 1, "Acquiring institution identification code"),
    (33, "n", "LLVAR", 11, 1, "Forwarding institution identification code"),
    (35, "z", "LLVAR", 37, 1, "Track 2 data"),
    (37, "an", "fixed", 12, 12, "Retrieval reference number"),
    (38, "an", "fixed", 6, 6, "Authorization identification response"),
    (39, "an", "fixed", 2, 2, "Response code"),
    (41, "ans", "fixed", 8, 8, "Card acceptor terminal identification"),
    (42, "ans", "fixed", 15, 15, "Card acceptor identification code"),
    (43, "ans", "fixed", 40, 40, "Card acceptor name/location"),
    (48, "ans", "LLLVAR", 999, 1, "Additional data - private"),
    (49, "n", "fixed", 3, 3, "Currency code, transaction (ISO 4217 numeric)"),
    (52, "b", "fixed", 8, 8, "Personal identification number data"),
    (55, "b", "LLLVAR", 255, 1, "ICC system related data"),
    (60, "ans", "LLLVAR", 100, 1, "Reserved private"),
    (70, "n", "fixed", 3, 3, "Network management information code"),
    (90, "n", "fixed", 42, 42, "Original data elements"),
    (100, "n", "LLVAR", 11, 1, "Receiving institution identification code"),
    (102, "ans", "LLVAR", 28, 1, "Account identification 1"),
    (103, "ans", "LLVAR", 28, 1, "Account identification 2"),
    (128, "b", "fixed", 8, 8, "Message authentication code (MAC)"),
)

UNIONPAY_MTIS = frozenset({"0200", "0210", "0400", "0410", "0800", "0810"})


def make_spec(name: str, rows: Iterable[tuple[int, FieldType, LengthKind, int, int, str]], *,
              numeric: Literal["ascii", "bcd"] = "ascii",
              bitmap: Literal["binary", "hex"] = "binary",
              mtis: frozenset[str] | None = None, mac_field: int | None = None) -> Spec:
    """A spec from table rows, with n and z fields, the MTI and length prefixes in `numeric`."""
    fields = {
        number: FieldSpec(kind, length, max_len, description,
                          "binary" if kind == "b" else numeric if kind in ("n", "z") else "ascii",
                          min_len)
        for number, kind, length, max_len, min_len, description in rows
    }
    return Spec(name, fields, mti_encoding=numeric, bitmap_encoding=bitmap,
                length_encoding=numeric, mtis=mtis, mac_field=mac_field)


UNIONPAY = make_spec("unionpay", _UNIONPAY_FIELDS, mtis=UNIONPAY_MTIS, mac_field=128)
"""The UnionPay link: ASCII numerics and length prefixes, binary bitmaps, MAC in field 128."""

UNIONPAY_BCD = make_spec("unionpay-bcd", _UNIONPAY_FIELDS, numeric="bcd", mtis=UNIONPAY_MTIS,
                         mac_field=128)
"""The same fields with BCD numerics, MTI and length prefixes."""

UNIONPAY_HEX_BITMAP = make_spec("unionpay-hex-bitmap", _UNIONPAY_FIELDS, bitmap="hex",
                                mtis=UNIONPAY_MTIS, mac_field=128)
"""ASCII numerics with the bitmaps as 16 hex characters each."""
