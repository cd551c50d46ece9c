"""Per-spec tables the encoder and decoder share, computed once per `Spec` object."""

from __future__ import annotations

import string
import weakref

from messages.iso8583.specs import FieldSpec, Spec

# Bytes each text type allows; bytes.translate(None, allowed) leaves only the refused ones.
ALLOWED: dict[str, bytes] = {
    "n": string.digits.encode(),
    "an": (string.ascii_letters + string.digits + " ").encode(),
    "ans": bytes(range(0x20, 0x7F)),
    "z": (string.digits + "=").encode(),
}
TYPE_NAMES = {"n": "numeric", "an": "alphanumeric", "ans": "printable ASCII", "z": "track 2"}
# Field values never quoted in errors (card data).
SENSITIVE = frozenset({2, 35, 52})


class FieldPlan:
    """What the codec needs of one field, flattened for speed."""

    __slots__ = ("allowed", "bcd", "binary", "max_len", "min_len", "name", "number",
                 "prefix", "prefix_bcd", "type", "z")

    def __init__(self, number: int, spec: FieldSpec, length_encoding: str) -> None:
        self.number = number
        self.name = str(number)
        self.type = spec.type
        self.max_len = spec.max_len
        self.min_len = spec.min_len if spec.length != "fixed" else spec.max_len
        self.binary = spec.type == "b"
        self.bcd = spec.encoding == "bcd"
        self.z = spec.type == "z"
        self.allowed = ALLOWED.get(spec.type, b"")
        digits = {"fixed": 0, "LLVAR": 2, "LLLVAR": 3}[spec.length]
        self.prefix_bcd = length_encoding == "bcd"
        # Prefix width in bytes: ASCII one per digit, BCD two digits per byte.
        self.prefix = (digits + 1) // 2 if self.prefix_bcd else digits


class Plan:
    """Field plans by number, plus the spec-wide encodings."""

    __slots__ = ("bitmap_hex", "fields", "mac_field", "mask", "mti_bcd", "mtis", "name")

    def __init__(self, spec: Spec) -> None:
        self.name = spec.name
        self.fields: list[FieldPlan | None] = [None] * 129
        for number, field in spec.fields.items():
            self.fields[number] = FieldPlan(number, field, spec.length_encoding)
        self.mask = spec.defined_mask
        self.mti_bcd = spec.mti_encoding == "bcd"
        self.bitmap_hex = spec.bitmap_encoding == "hex"
        self.mtis = spec.mtis
        self.mac_field = spec.mac_field


_PLANS: weakref.WeakKeyDictionary[Spec, Plan] = weakref.WeakKeyDictionary()


def plan_for(spec: Spec) -> Plan:
    """The plan of `spec`, built on first use."""
    plan = _PLANS.get(spec)
    if plan is None:
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {type(spec).__name__}")
        plan = _PLANS[spec] = Plan(spec)
    return plan


def first_refused(raw: bytes, allowed: bytes) -> int:
    """Index of the first byte of `raw` not in `allowed` (the caller knows there is one)."""
    refused = set(raw.translate(None, allowed))
    return next(i for i, byte in enumerate(raw) if byte in refused)
