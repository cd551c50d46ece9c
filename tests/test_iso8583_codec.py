"""ISO 8583 codec: known byte layouts in the three UnionPay specs and errors with field + offset."""

from __future__ import annotations

import pickle

import pytest

from messages.errors import MessageError
from messages.iso8583 import (
    UNIONPAY,
    UNIONPAY_BCD,
    UNIONPAY_HEX_BITMAP,
    FieldSpec,
    Iso8583Error,
    Message,
    Spec,
    decode,
    encode,
)
from messages.iso8583.specs import make_spec

PAN = "6222020200000001234"
SPECS = [UNIONPAY, UNIONPAY_BCD, UNIONPAY_HEX_BITMAP]


def fail(call: object, *args: object, **kwargs: object) -> Iso8583Error:
    assert callable(call)
    with pytest.raises(Iso8583Error) as info:
        call(*args, **kwargs)
    return info.value


def test_ascii_layout_byte_for_byte() -> None:
    msg = Message("0200", {2: PAN, 4: "000000012345", 49: "156"})
    data = encode(msg, UNIONPAY)
    bitmap = bytes([0x50, 0, 0, 0, 0, 0, 0x80, 0])
    assert data == b"0200" + bitmap + b"19" + PAN.encode() + b"000000012345" + b"156"
    assert decode(data, UNIONPAY) == msg


def test_bcd_layout_byte_for_byte() -> None:
    msg = Message("0200", {2: PAN, 4: "000000012345", 49: "156", 35: "1234=5"})
    data = encode(msg, UNIONPAY_BCD)
    # PAN: 1-byte BCD length 0x19, 19 digits left-padded with a 0 nibble; n3 "156" -> 01 56;
    # track 2 "1234=5" -> 6 nibbles with "=" as D, length 0x06.
    assert data.hex() == ("0200" + "5000000020008000" + "19" + "0" + PAN + "000000012345"
                          + "06" + "1234d5" + "0156")
    assert decode(data, UNIONPAY_BCD) == msg


def test_hex_bitmap_layout() -> None:
    msg = Message("0800", {11: "000001", 70: "301"})
    data = encode(msg, UNIONPAY_HEX_BITMAP)
    assert data == b"0800" + b"8020000000000000" + b"0400000000000000" + b"000001301"
    assert decode(data, UNIONPAY_HEX_BITMAP) == msg
    # Lower-case hex is read as well.
    msg = Message("0200", {3: "000000", 128: b"\xab" * 8})
    data = encode(msg, UNIONPAY_HEX_BITMAP)
    assert data[4:6] == b"A0" and data[34:36] == b"01"
    assert decode(data[:4] + data[4:36].lower() + data[36:], UNIONPAY_HEX_BITMAP) == msg


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_secondary_bitmap_only_when_needed(spec: Spec) -> None:
    primary_only = encode(Message("0800", {11: "000001"}), spec)
    with_secondary = encode(Message("0800", {11: "000001", 128: b"\x00" * 8}), spec)
    width = 16 if spec.bitmap_encoding == "hex" else 8
    assert len(with_secondary) - len(primary_only) == width + 8


def test_dict_input_like_pyiso8583() -> None:
    doc = {"t": "0800", "p": "ignored, derived", "11": "000001", "70": "001"}
    assert decode(encode(doc, UNIONPAY), UNIONPAY) == Message("0800", {11: "000001", 70: "001"})


def test_binary_field_takes_bytes_only() -> None:
    err = fail(encode, Message("0200", {52: "00" * 8}), UNIONPAY)
    assert (err.code, err.field) == ("ISO8583_BAD_FIELD", "52")
    err = fail(encode, Message("0200", {4: 12345}), UNIONPAY)  # type: ignore[dict-item]
    assert (err.code, err.field) == ("ISO8583_BAD_FIELD", "4")


@pytest.mark.parametrize(("fields", "code", "field", "offset"), [
    ({4: "12345"}, "ISO8583_BAD_FIELD", "4", 12),                    # fixed n12 too short
    ({4: "0000000123456"}, "ISO8583_FIELD_TOO_LONG", "4", 12),
    ({4: "00000001234a"}, "ISO8583_BAD_FIELD", "4", 23),             # byte of the "a"
    ({4: "00000001234٣"}, "ISO8583_BAD_FIELD", "4", 23),             # non-ASCII digit
    ({2: "62220202000000012345"}, "ISO8583_FIELD_TOO_LONG", "2", 12),
    ({2: "62220202"}, "ISO8583_BAD_FIELD", "2", 12),                 # below min 12
    ({37: "24050600012!"}, "ISO8583_BAD_FIELD", "37", 23),           # an refuses "!"
    ({41: "TERM\n001"}, "ISO8583_BAD_FIELD", "41", 16),              # ans refuses control
    ({35: "1234?5"}, "ISO8583_BAD_FIELD", "35", 18),                 # z: digits and "=" only
    ({60: "x" * 101}, "ISO8583_FIELD_TOO_LONG", "60", 12),
    ({55: b""}, "ISO8583_BAD_FIELD", "55", 12),                      # LLLVAR b min 1
    ({1: "x"}, "ISO8583_UNKNOWN_FIELD", "1", None),
    ({64: b"x" * 8}, "ISO8583_UNKNOWN_FIELD", "64", None),
    ({129: "1"}, "ISO8583_UNKNOWN_FIELD", "129", None),
])
def test_encode_errors_name_field_and_offset(fields: dict[int, object], code: str, field: str,
                                             offset: int | None) -> None:
    err = fail(encode, Message("0200", fields), UNIONPAY)  # type: ignore[arg-type]
    assert (err.code, err.field, err.offset) == (code, field, offset)
    assert isinstance(err, MessageError)


def test_encode_error_offset_counts_preceding_fields() -> None:
    err = fail(encode, Message("0200", {3: "000000", 4: "1"}), UNIONPAY)
    assert (err.field, err.offset) == ("4", 4 + 8 + 6)


def test_bcd_encode_error_offset_is_the_byte_of_the_digit() -> None:
    # "00000001234a": 12 digits -> 6 bytes from 10, "a" is digit 11 -> byte 10 + 5.
    err = fail(encode, Message("0200", {4: "00000001234a"}), UNIONPAY_BCD)
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_FIELD", "4", 15)


@pytest.mark.parametrize("mti", ["200", "02000", "02a0", "0100", "٠٢٠٠", ""])
def test_bad_mti(mti: str) -> None:
    err = fail(encode, Message(mti, {}), UNIONPAY)
    assert (err.code, err.field, err.offset) == ("ISO8583_BAD_MTI", "t", 0)


def test_any_mti_when_spec_does_not_restrict() -> None:
    spec = make_spec("open", [(11, "n", "fixed", 6, 6, "STAN")])
    assert decode(encode(Message("0100", {11: "000001"}), spec), spec).mti == "0100"


def test_card_data_never_in_error_text() -> None:
    pan = "62220202000000X1234"
    err = fail(encode, Message("0200", {2: pan}), UNIONPAY)
    assert "X" not in str(err) and pan not in repr(err)
    data = b"0200" + bytes([0x40, 0, 0, 0, 0, 0, 0, 0]) + b"19" + pan.encode()
    err = fail(decode, data, UNIONPAY)
    assert (err.field, err.offset) == ("2", 14 + 14)
    assert "0x58" not in str(err) and "X" not in str(err)


def test_error_is_picklable_and_keeps_location() -> None:
    err = Iso8583Error("ISO8583_TRUNCATED", "short", field=4, offset=20)
    again = pickle.loads(pickle.dumps(err))
    assert (again.code, again.field, again.offset, str(again)) == (
        "ISO8583_TRUNCATED", "4", 20, "ISO8583_TRUNCATED at field 4, byte 20: short")


@pytest.mark.parametrize(("field", "problem"), [
    (FieldSpec("n", "LLVAR", 100, "x"), "max_len"),
    (FieldSpec("an", "fixed", 5, "x", "bcd", 5), "cannot be encoded"),
    (FieldSpec("b", "fixed", 8, "x", "ascii", 8), "cannot be encoded"),
    (FieldSpec("n", "fixed", 6, "x"), "min_len == max_len"),
    (FieldSpec("q", "fixed", 6, "x", "ascii", 6), "unknown type"),  # type: ignore[arg-type]
])
def test_spec_rejects_inconsistent_fields(field: FieldSpec, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Spec("bad", {2: field})


def test_spec_rejects_mac_not_last_and_field_one() -> None:
    mac = FieldSpec("b", "fixed", 8, "MAC", "binary", 8)
    stan = FieldSpec("n", "fixed", 6, "STAN", "ascii", 6)
    with pytest.raises(ValueError, match="last field"):
        Spec("bad", {64: mac, 70: stan}, mac_field=64)
    with pytest.raises(ValueError, match="secondary bitmap"):
        Spec("bad", {1: stan})


def test_message_equality_and_masked_repr() -> None:
    msg = Message("0200", {2: PAN, 35: PAN + "=2512", 52: b"\x12" * 8})
    assert msg == Message("0200", dict(msg.fields)) and msg != Message("0210", msg.fields)
    shown = repr(msg) + str(msg)
    assert PAN not in shown and "622202*********1234" in shown and "<24 masked>" in shown
