"""Typed UnionPay messages: minor-unit amounts, currencies, field 7, masking, the 0200 ->
0210 / 0400 flows, network management, response codes and the field 128 MAC."""

from __future__ import annotations

import datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.currency import CURRENCIES
from messages.iso8583 import (
    RESPONSE_CODES,
    UNIONPAY,
    UNIONPAY_BCD,
    FinancialRequest,
    FinancialResponse,
    Iso8583Error,
    MacMismatch,
    Message,
    NetworkManagement,
    decode,
    encode,
    from_message,
    hmac_sha256_mac,
    response_code_for,
    transmission_time,
)
from messages.iso8583.specs import make_spec

PAN = "6222020200000001234"
MAC = hmac_sha256_mac(b"unit-test-mac-key-0123456789abcd")


def request(**changes: object) -> FinancialRequest:
    req = FinancialRequest(
        pan=PAN, processing_code="000000", amount=12345, currency="CNY",
        transmission_time="0506093015", stan="000001", acquirer_id="01020000",
        retrieval_ref="240506000001", terminal_id="TERM0001", merchant_id="898310048990001")
    return msgspec.structs.replace(req, **changes) if changes else req


def test_request_fields_on_the_wire() -> None:
    msg = request(forwarder_id="03100000").to_message()
    assert msg.mti == "0200"
    assert msg.fields == {
        2: PAN, 3: "000000", 4: "000000012345", 7: "0506093015", 11: "000001", 32: "01020000",
        33: "03100000", 37: "240506000001", 41: "TERM0001", 42: "898310048990001", 49: "156"}


@pytest.mark.parametrize("spec", [UNIONPAY, UNIONPAY_BCD], ids=lambda s: s.name)
def test_request_round_trip_with_mac(spec: object) -> None:
    req = request(other={22: "021", 25: "00"})
    data = encode(req, spec, mac=MAC)  # type: ignore[arg-type]
    assert from_message(decode(data, spec, mac=MAC)) == req  # type: ignore[arg-type]


@given(st.integers(0, 10**12 - 1), st.sampled_from(sorted(
    c for c, row in CURRENCIES.items() if row.exponent is not None and c != "ANG")))
def test_amount_and_currency_round_trip(amount: int, currency: str) -> None:
    req = request(amount=amount, currency=currency)
    msg = decode(encode(req, UNIONPAY), UNIONPAY)
    assert msg.fields[4] == f"{amount:012d}" and msg.fields[49] == CURRENCIES[currency].numeric
    assert from_message(msg) == req


def test_shared_numeric_532_reads_as_xcg() -> None:
    assert request(currency="ANG").to_message().fields[49] == "532"
    assert from_message(request(currency="ANG").to_message()).currency == "XCG"  # type: ignore[union-attr]


@pytest.mark.parametrize(("changes", "field"), [
    ({"amount": -1}, "4"), ({"amount": 10**12}, "4"), ({"amount": True}, "4"),
    ({"amount": 1.5}, "4"), ({"currency": "XAU"}, "49"), ({"currency": "cny"}, "49"),
    ({"transmission_time": "1306093015"}, "7"), ({"transmission_time": "0506243015"}, "7"),
    ({"transmission_time": "0230093015"}, "7"), ({"transmission_time": "05060930 5"}, "7"),
    ({"transmission_time": 506093015}, "7"), ({"currency": 156}, "49"), ({"stan": "1"}, "11"),
    ({"pan": "6222"}, "2"),
    ({"terminal_id": "T1"}, "41"), ({"other": {4: "000000000001"}}, "4"),
    ({"other": {200: "1"}}, "200"), ({"other": {64: b"x" * 8}}, "64"),
])
def test_request_checks_values(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Iso8583Error) as info:
        request(**changes)
    assert info.value.field == field


def test_leap_day_transmission_time_is_accepted() -> None:
    assert request(transmission_time="0229235959").transmission_time == "0229235959"


def test_transmission_time_is_utc() -> None:
    beijing = datetime.timezone(datetime.timedelta(hours=8))
    moment = datetime.datetime(2026, 1, 1, 7, 59, 59, tzinfo=beijing)
    assert transmission_time(moment) == "1231235959"
    with pytest.raises(ValueError, match="aware"):
        transmission_time(datetime.datetime(2026, 1, 1))


def test_missing_fields_are_named() -> None:
    msg = request().to_message()
    del msg.fields[37]
    with pytest.raises(Iso8583Error) as info:
        from_message(msg)
    assert (info.value.code, info.value.field) == ("ISO8583_MISSING_FIELD", "37")
    with pytest.raises(Iso8583Error) as info:
        FinancialRequest.from_message(Message("0210", {}))
    assert info.value.code == "ISO8583_BAD_MTI"
    with pytest.raises(Iso8583Error) as info:
        from_message(Message("0100", {}))
    assert info.value.code == "ISO8583_BAD_MTI"


def test_unknown_currency_numeric_on_decode() -> None:
    msg = request().to_message()
    msg.fields[49] = "999"  # XXX: no minor unit, no money
    with pytest.raises(Iso8583Error) as info:
        from_message(msg)
    assert (info.value.code, info.value.field) == ("ISO8583_BAD_FIELD", "49")


def test_pan_is_masked_everywhere_it_is_shown() -> None:
    req = request(other={35: PAN + "=2512"})
    rev = req.reversal(stan="000002", transmission_time="0506093045")
    shown = [repr(req), str(req), repr(req.respond("00")), str(rev), repr(req.to_message()),
             repr(rev.respond("00")), repr(decode(encode(req, UNIONPAY), UNIONPAY))]
    for text in shown:
        assert PAN not in text and "622202*********1234" in text
    assert "=2512" not in repr(req)


def test_response_echoes_and_maps_reason() -> None:
    resp = request().respond("51")
    assert resp.mti == "0210" and resp.amount == 12345 and resp.stan == "000001"
    assert resp.response is not None and resp.response.reason == "AM04"
    assert from_message(decode(encode(resp, UNIONPAY, mac=MAC), UNIONPAY, mac=MAC)) == resp
    assert FinancialResponse.from_message(resp.to_message()).response_code == "51"
    unknown = request().respond("N7")
    assert unknown.response is None


def test_reversal_after_timeout() -> None:
    req = request(forwarder_id="03100000")
    rev = req.reversal(stan="000002", transmission_time="0506093045")
    assert rev.mti == "0400" and rev.response_code is None
    assert rev.original_data == "0200" + "000001" + "0506093015" + "00001020000" + "00003100000"
    assert len(rev.original_data) == 42
    assert from_message(decode(encode(rev, UNIONPAY), UNIONPAY)) == rev
    answer = rev.respond("00")
    assert answer.mti == "0410" and from_message(answer.to_message()) == answer
    with pytest.raises(Iso8583Error) as info:
        msgspec.structs.replace(rev, response_code="00")
    assert info.value.field == "39"
    with pytest.raises(Iso8583Error) as info:
        msgspec.structs.replace(answer, response_code=None)
    assert (info.value.code, info.value.field) == ("ISO8583_MISSING_FIELD", "39")
    with pytest.raises(Iso8583Error):
        msgspec.structs.replace(rev, mti="0420")


@pytest.mark.parametrize("code", ["001", "301"])
def test_sign_on_and_echo(code: str) -> None:
    ask = NetworkManagement(code=code, transmission_time="0506093015", stan="000009",
                            forwarder_id="03100000")
    answer = ask.respond()
    for typed in (ask, answer):
        data = encode(typed, UNIONPAY, mac=MAC)
        assert from_message(decode(data, UNIONPAY, mac=MAC)) == typed
    assert answer.mti == "0810" and answer.response_code == "00"
    assert encode(ask, UNIONPAY)[:4] == b"0800"


def test_network_management_checks() -> None:
    with pytest.raises(Iso8583Error) as info:
        NetworkManagement(code="999", transmission_time="0506093015", stan="000009")
    assert info.value.field == "70"
    with pytest.raises(Iso8583Error) as info:
        NetworkManagement(code="001", transmission_time="0506093015", stan="000009",
                          response_code="00")
    assert info.value.field == "39"
    with pytest.raises(Iso8583Error) as info:
        NetworkManagement(mti="0200", code="001", transmission_time="0506093015", stan="1")
    assert info.value.code == "ISO8583_BAD_MTI"


def test_response_code_table_covers_channels_md() -> None:
    codes = {"00", "05", "12", "13", "14", "25", "30", "51", "61", "68", "90", "91", "94", "96",
             "A0"}
    assert set(RESPONSE_CODES) == codes
    expected = {"51": "AM04", "61": "AM02", "94": "AM05", "30": "FF01", "68": "AB05"}
    assert {c: RESPONSE_CODES[c].reason for c in expected} == expected
    assert RESPONSE_CODES["94"].alternate == "DUPL"
    assert RESPONSE_CODES["68"].outcome == "unknown"
    assert RESPONSE_CODES["00"].outcome == "approved" and RESPONSE_CODES["00"].reason is None
    assert all(r.outcome == "rejected" for c, r in RESPONSE_CODES.items() if c not in ("00", "68"))
    assert "MAC" in RESPONSE_CODES["A0"].meaning


def test_errors_map_to_response_codes() -> None:
    assert response_code_for(MacMismatch()) == "A0"
    with pytest.raises(Iso8583Error) as info:
        decode(b"0200", UNIONPAY)
    assert response_code_for(info.value) == "30"


def test_mac_function_output_must_fit_field_128() -> None:
    with pytest.raises(Iso8583Error) as info:
        encode(request(), UNIONPAY, mac=lambda data: b"short")
    assert (info.value.code, info.value.field) == ("ISO8583_BAD_FIELD", "128")
    with pytest.raises(ValueError, match="16 bytes"):
        hmac_sha256_mac(b"short")


def test_mac_needs_a_spec_with_a_mac_field() -> None:
    spec = make_spec("no-mac", [(11, "n", "fixed", 6, 6, "STAN")])
    with pytest.raises(ValueError, match="no MAC field"):
        encode(Message("0800", {11: "000001"}), spec, mac=MAC)
    with pytest.raises(ValueError, match="no MAC field"):
        decode(b"0800" + bytes([0x20]) + bytes(7) + b"000001", spec, mac=MAC)
