"""Hostile ISO 8583 input: truncation, huge length prefixes, bitmaps claiming absent or unknown
fields, bad digits, trailing bytes. Each gives a clear, located error, fast, in bounded memory.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from messages.errors import LinkFrameTooLarge
from messages.iso8583 import (
    UNIONPAY,
    UNIONPAY_BCD,
    UNIONPAY_HEX_BITMAP,
    Iso8583Error,
    LinkReader,
    Message,
    Spec,
    decode,
    encode,
    hmac_sha256_mac,
)

PAN = "6222020200000001234"
FULL = Message("0200", {
    2: PAN, 3: "000000", 4: "000000012345", 7: "0506093015", 11: "000123", 32: "01020000",
    35: PAN + "=2512", 37: "240506000123", 41: "TERM0001", 42: "898310048990001",
    48: "additional data", 49: "156", 55: b"\x9f\x26\x08", 90: "0" * 42, 102: "ACC-1",
    128: b"\x01" * 8,
})
SPECS = [UNIONPAY, UNIONPAY_BCD, UNIONPAY_HEX_BITMAP]
HEADER = b"0200" + bytes(8)  # ASCII MTI, then an 8-byte primary bitmap to fill in


def bitmap(*fields: int) -> bytes:
    bits = sum(1 << (64 - n) for n in fields)
    return bits.to_bytes(8, "big")


def fail(data: bytes, spec: Spec = UNIONPAY) -> Iso8583Error:
    with pytest.raises(Iso8583Error) as info:
        decode(data, spec)
    return info.value


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_truncation_is_truncated(spec: Spec) -> None:
    data = encode(FULL, spec)
    for cut in range(len(data)):
        err = fail(data[:cut], spec)
        assert err.code == "ISO8583_TRUNCATED", (cut, err)
        assert err.offset is not None and err.offset <= cut


def test_truncated_names_the_field_and_where_it_starts() -> None:
    data = b"0200" + bitmap(3, 4) + b"000000" + b"0000000123"
    err = fail(data)
    assert (err.code, err.field, err.offset) == ("ISO8583_TRUNCATED", "4", 18)


def test_bitmap_claiming_absent_fields() -> None:
    err = fail(b"0200" + bitmap(2, 3, 4))
    assert (err.code, err.field, err.offset) == ("ISO8583_TRUNCATED", "2", 12)
    err = fail(b"0200" + bitmap(1, 3) + b"000000")
    assert (err.code, err.field, err.offset) == ("ISO8583_TRUNCATED", "1", 12)


def test_bitmap_claiming_fields_not_in_spec() -> None:
    err = fail(b"0200" + bitmap(3, 5) + b"000000")
    assert (err.code, err.field, err.offset) == ("ISO8583_UNKNOWN_FIELD", "5", 4)
    # Field 127 is in the secondary bitmap: its bit is in the 16th bitmap byte.
    err = fail(b"0200" + bitmap(1) + (1 << 1).to_bytes(8, "big") + b"x" * 20)
    assert (err.code, err.field, err.offset) == ("ISO8583_UNKNOWN_FIELD", "127", 19)
    # In a hex bitmap each character holds four bits: bit 5 is in the second character.
    err = fail(b"0200" + b"0800000000000000" + b"x", UNIONPAY_HEX_BITMAP)
    assert (err.code, err.field, err.offset) == ("ISO8583_UNKNOWN_FIELD", "5", 5)


def test_empty_secondary_bitmap_and_bad_hex_bitmap() -> None:
    err = fail(b"0200" + bitmap(1, 3) + bytes(8) + b"000000")
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_BITMAP", "1", 12)
    err = fail(b"0200" + b"20000000000G0000" + b"000000", UNIONPAY_HEX_BITMAP)
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_BITMAP", "p", 15)
    # bytes.fromhex would skip the space; the decoder must not.
    err = fail(b"0200" + b"2000 00000000000" + b"000000", UNIONPAY_HEX_BITMAP)
    assert (err.code, err.offset) == ("ISO8583_BAD_BITMAP", 8)


@pytest.mark.parametrize(("prefix", "code"), [
    (b"999", "ISO8583_FIELD_TOO_LONG"),    # field 60 allows 100
    (b"101", "ISO8583_FIELD_TOO_LONG"),
    (b"000", "ISO8583_BAD_FIELD"),         # minimum 1
    (b"1x0", "ISO8583_BAD_FIELD"),
    (b"-10", "ISO8583_BAD_FIELD"),
    (b" 10", "ISO8583_BAD_FIELD"),
    (b"\xd9\xa1\xd9", "ISO8583_BAD_FIELD"),  # non-ASCII digits
])
def test_bad_length_prefixes(prefix: bytes, code: str) -> None:
    err = fail(b"0200" + bitmap(60) + prefix + b"x" * 200)
    assert (err.code, err.field, err.offset) == (code, "60", 12)


def test_huge_bcd_length_prefixes() -> None:
    base = bytes.fromhex("0200") + bitmap(2)
    err = fail(base + b"\x99" + bytes(60), UNIONPAY_BCD)
    assert (err.code, err.field, err.offset) == ("ISO8583_FIELD_TOO_LONG", "2", 10)
    err = fail(base + b"\xff" + bytes(60), UNIONPAY_BCD)
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_FIELD", "2", 10)


def test_declared_length_beyond_the_data() -> None:
    err = fail(b"0200" + bitmap(48) + b"999" + b"x" * 10)
    assert (err.code, err.field, err.offset) == ("ISO8583_TRUNCATED", "48", 15)


@pytest.mark.parametrize(("value", "offset"), [
    (b"00000001234A", 23), (b" 00000012345", 12), (b"0000000.2345", 19), (b"00000001234\x00", 23),
])
def test_non_numeric_in_n_fields(value: bytes, offset: int) -> None:
    err = fail(b"0200" + bitmap(4) + value)
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_FIELD", "4", offset)


def test_bcd_nibbles_and_pad() -> None:
    base = bytes.fromhex("0200") + bitmap(4, 49)
    ok = base + bytes.fromhex("000000012345") + bytes.fromhex("0156")
    assert decode(ok, UNIONPAY_BCD).fields == {4: "000000012345", 49: "156"}
    err = fail(base + bytes.fromhex("0000000123a5") + bytes.fromhex("0156"), UNIONPAY_BCD)
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_FIELD", "4", 15)
    err = fail(base + bytes.fromhex("000000012345") + bytes.fromhex("1156"), UNIONPAY_BCD)
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_FIELD", "49", 16)
    err = fail(base + bytes.fromhex("000000012345") + bytes.fromhex("015f"), UNIONPAY_BCD)
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_FIELD", "49", 17)


def test_bad_mtis() -> None:
    for data in (b"02", b"02x0" + bitmap(3), b"0100" + bitmap(3) + b"000000"):
        assert fail(data).code in ("ISO8583_BAD_MTI", "ISO8583_TRUNCATED")
    assert fail(b"\x02\xa0" + bitmap(3), UNIONPAY_BCD).code == "ISO8583_BAD_MTI"


def test_trailing_bytes() -> None:
    err = fail(b"0200" + bitmap(3) + b"000000" + b"junk")
    assert (err.code, err.field, err.offset) == ("ISO8583_EXTRA_DATA", None, 18)


def test_mac_missing_or_wrong() -> None:
    mac = hmac_sha256_mac(b"k" * 16)
    data = encode(Message("0800", {11: "000001", 70: "301"}), UNIONPAY)
    with pytest.raises(Iso8583Error) as info:
        decode(data, UNIONPAY, mac=mac)
    assert (info.value.code, info.value.field) == ("ISO8583_MISSING_FIELD", "128")
    signed = encode(Message("0800", {11: "000001", 70: "301"}), UNIONPAY, mac=mac)
    for tampered in (signed[:-9] + b"2" + signed[-8:], signed[:-1] + bytes([signed[-1] ^ 1])):
        with pytest.raises(Iso8583Error) as info:
            decode(tampered, UNIONPAY, mac=mac)
        assert (info.value.code, info.value.field, info.value.offset) == (
            "ISO8583_MAC_MISMATCH", "128", len(signed) - 8)
    with pytest.raises(Iso8583Error) as info:
        decode(signed, UNIONPAY, mac=hmac_sha256_mac(b"j" * 16))
    assert info.value.code == "ISO8583_MAC_MISMATCH"


def test_huge_input_fails_fast_in_bounded_memory() -> None:
    junk = b"0200" + bitmap(48) + b"999" + b"x" * 999 + b"y" * (8 << 20)
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        for _ in range(100):
            with pytest.raises(Iso8583Error) as info:
                decode(junk, UNIONPAY)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == "ISO8583_EXTRA_DATA"
    assert elapsed < 1.0
    # Nothing proportional to the 8 MiB input is allocated: slices are at most 999 bytes.
    assert peak < 256 << 10


def test_many_small_hostile_messages_are_fast() -> None:
    cases = [b"", b"0", b"0200", b"0200" + b"\xff" * 16, b"0200" + bitmap(2) + b"99",
             b"0200" + bitmap(48) + b"999", b"\x00" * 64]
    t0 = time.perf_counter()
    for _ in range(2000):
        for data in cases:
            with pytest.raises(Iso8583Error):
                decode(data, UNIONPAY)
    assert time.perf_counter() - t0 < 2.0


def test_link_refuses_huge_prefix_and_holds_little() -> None:
    reader = LinkReader(max_frame=1024)
    with pytest.raises(LinkFrameTooLarge):
        reader.feed(b"\xff\xff" + b"x" * 100)
    assert reader.pending == 0
    reader = LinkReader(max_frame=1024)
    assert reader.feed(b"\x04\x00") == []
    for _ in range(10):
        assert reader.feed(b"x" * 100) == []
    assert reader.pending == 2 + 1000
    assert reader.feed(b"x" * 24 + b"\x00") == [b"x" * 1024]
    assert reader.pending == 1
