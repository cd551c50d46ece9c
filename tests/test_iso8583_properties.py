"""ISO 8583 properties (hypothesis): round trip in every spec, and agreement with pyiso8583.

pyiso8583 (PyPI ``pyiso8583``, import ``iso8583``) is an independent implementation: every
message we encode must decode with it to the same values, every message it encodes must decode
with ours, and both must produce the same bytes. Without it those tests skip, saying so.
"""

from __future__ import annotations

import string
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    hmac_sha256_mac,
)
from messages.iso8583.interop import from_pyiso8583, pyiso8583_spec, to_pyiso8583

peer: ModuleType | None
try:
    import iso8583 as _peer

    peer = _peer
except ImportError:
    peer = None

needs_peer = pytest.mark.skipif(
    peer is None, reason="pyiso8583 is not installed (pip install pyiso8583): "
    "the cross-check against the independent implementation did not run")

SPECS = [UNIONPAY, UNIONPAY_BCD, UNIONPAY_HEX_BITMAP]
ALPHABETS = {
    "n": string.digits,
    "an": string.ascii_letters + string.digits + " ",
    "ans": "".join(map(chr, range(0x20, 0x7F))),
    "z": string.digits + "=",
}
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def values(field: FieldSpec) -> st.SearchStrategy[str | bytes]:
    low = field.max_len if field.length == "fixed" else field.min_len
    if field.type == "b":
        return st.binary(min_size=low, max_size=field.max_len)
    return st.text(alphabet=ALPHABETS[field.type], min_size=low, max_size=field.max_len)


@st.composite
def messages(draw: st.DrawFn, spec: Spec) -> Message:
    assert spec.mtis is not None
    mti = draw(st.sampled_from(sorted(spec.mtis)))
    numbers = draw(st.sets(st.sampled_from(sorted(spec.fields))))
    return Message(mti, {n: draw(values(spec.fields[n])) for n in sorted(numbers)})


def spec_and_message() -> st.SearchStrategy[tuple[Spec, Message]]:
    return st.sampled_from(SPECS).flatmap(lambda s: messages(s).map(lambda m: (s, m)))


@SETTINGS
@given(spec_and_message())
def test_round_trip(case: tuple[Spec, Message]) -> None:
    spec, msg = case
    data = encode(msg, spec)
    assert decode(data, spec) == msg
    assert encode(decode(data, spec), spec) == data


@SETTINGS
@given(spec_and_message(), st.binary(min_size=16, max_size=32))
def test_round_trip_with_mac(case: tuple[Spec, Message], key: bytes) -> None:
    spec, msg = case
    mac = hmac_sha256_mac(key)
    data = encode(msg, spec, mac=mac)
    decoded = decode(data, spec, mac=mac)
    assert decoded.fields.pop(128) == mac(data[:-8])
    assert decoded == Message(msg.mti, {n: v for n, v in msg.fields.items() if n != 128})


@needs_peer
@SETTINGS
@given(spec_and_message())
def test_pyiso8583_decodes_ours(case: tuple[Spec, Message]) -> None:
    spec, msg = case
    assert peer is not None
    doc, _ = peer.decode(encode(msg, spec), pyiso8583_spec(spec))
    assert from_pyiso8583(doc, spec) == msg


@needs_peer
@SETTINGS
@given(spec_and_message())
def test_we_decode_pyiso8583(case: tuple[Spec, Message]) -> None:
    spec, msg = case
    assert peer is not None
    theirs, _ = peer.encode(to_pyiso8583(msg, spec), pyiso8583_spec(spec))
    assert decode(bytes(theirs), spec) == msg
    assert bytes(theirs) == encode(msg, spec)


@needs_peer
def test_peer_is_the_real_pyiso8583() -> None:
    # A test that cannot fail is a defect: make sure the peer is not some other "iso8583".
    from importlib.metadata import version

    assert peer is not None and hasattr(peer, "DecodeError")
    assert int(version("pyiso8583").split(".")[0]) >= 3


@SETTINGS
@given(st.sampled_from(SPECS), st.binary(max_size=300))
def test_random_bytes_give_a_message_or_a_located_error(spec: Spec, data: bytes) -> None:
    try:
        decode(data, spec)
    except Iso8583Error as err:
        assert err.code.startswith("ISO8583_")
        assert err.offset is None or 0 <= err.offset <= len(data)


@SETTINGS
@given(spec_and_message(), st.data())
def test_mutated_messages_give_a_message_or_a_located_error(case: tuple[Spec, Message],
                                                            data: st.DataObject) -> None:
    spec, msg = case
    raw = bytearray(encode(msg, spec))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        decoded = decode(bytes(raw[:cut]), spec)
    except Iso8583Error as err:
        assert err.offset is None or 0 <= err.offset <= cut
    else:
        # Whatever still decodes must be a valid message: it encodes back to the same bytes,
        # up to the case of hex bitmap digits.
        again = encode(decoded, spec)
        assert again == bytes(raw[:cut]) or spec.bitmap_encoding == "hex"
