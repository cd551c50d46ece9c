"""The UnionPay settlement file codec: fixed-width layout byte for byte, round trips
(hypothesis), and errors that name the line and column."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.errors import MessageError
from messages.iso8583.settlement import (
    DETAIL,
    LINE_WIDTH,
    SettlementFile,
    SettlementFileError,
    SettlementLine,
    build_settlement_file,
    parse_settlement_file,
)

T = datetime(2026, 3, 2, 15, 0, 5, tzinfo=UTC)


def line(**changes: object) -> SettlementLine:
    base = SettlementLine(
        txn_code="0200", dc="D", acquirer_id="04290000", sender_id="04290001", stan="000042",
        transmission_time="0302063015", account="6222000000000009", amount=12345,
        currency="CNY", retrieval_ref="0A1B2C3D4E5F", order_id="E2E-0001")
    return msgspec.structs.replace(base, **changes)


def settlement(*lines: SettlementLine) -> SettlementFile:
    return SettlementFile(settlement_date=date(2026, 3, 2), institution="04290000",
                          created_at=T, lines=lines)


def fail(data: bytes) -> SettlementFileError:
    with pytest.raises(SettlementFileError) as info:
        parse_settlement_file(data)
    return info.value


def test_layout_byte_for_byte() -> None:
    data = build_settlement_file(settlement(line(), line(txn_code="0400", dc="C", amount=5)))
    header, first, second, trailer = data.decode().splitlines()
    assert data.endswith(b"\n") and data.count(b"\n") == 4
    assert {len(header), len(first), len(trailer)} == {LINE_WIDTH} == {125}
    assert header.rstrip() == "H20260302" + "04290000   " + "20260302150005"
    assert first == ("D" + "0200" + "D" + "04290000   " + "04290001   " + "000042" + "0302063015"
                     + "6222000000000009   " + "000000012345" + "156" + "0A1B2C3D4E5F"
                     + "E2E-0001".ljust(35))
    assert second[1:6] == "0400C" and second[63:75] == "000000000005"
    assert trailer.rstrip() == "T" + "000000002" + "000000000000012345" + "000000000000000005"


def test_empty_day_is_header_and_trailer() -> None:
    data = build_settlement_file(settlement())
    assert parse_settlement_file(data) == settlement()
    assert data.decode().splitlines()[1].rstrip() == "T" + "0" * 45


_digits = st.text("0123456789", min_size=1, max_size=11)
_an = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ", min_size=12,
              max_size=12)
_lines = st.builds(
    SettlementLine,
    txn_code=st.sampled_from(["0200", "0400"]), dc=st.sampled_from(["D", "C"]),
    acquirer_id=_digits, sender_id=_digits, stan=st.text("0123456789", min_size=6, max_size=6),
    transmission_time=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31))
    .map(lambda d: d.strftime("%m%d%H%M%S")),
    account=st.text("0123456789", min_size=12, max_size=19),
    amount=st.integers(0, 10**12 - 1), currency=st.sampled_from(["CNY", "USD", "JPY", "BHD"]),
    retrieval_ref=_an,
    order_id=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=35)
    .map(str.rstrip))


@given(st.lists(_lines, max_size=20), _digits,
       st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_round_trip(lines: list[SettlementLine], institution: str, day: date) -> None:
    f = SettlementFile(settlement_date=day, institution=institution, created_at=T,
                       lines=tuple(lines))
    data = build_settlement_file(f)
    assert parse_settlement_file(data) == f
    assert all(len(ln) == LINE_WIDTH for ln in data.split(b"\n")[:-1])


def test_signed_amounts_and_totals() -> None:
    f = settlement(line(amount=700), line(dc="C", txn_code="0400", amount=300))
    assert [ln.signed_amount for ln in f.lines] == [-700, 300]
    assert (f.debit_total, f.credit_total) == (700, 300)


def _column(name: str) -> int:
    at = 2
    for col in DETAIL:
        if col.name == name:
            return at
        at += col.width
    raise KeyError(name)


def _mutate(data: bytes, line_no: int, column: int, text: bytes) -> bytes:
    lines = data.split(b"\n")
    raw = lines[line_no - 1]
    lines[line_no - 1] = raw[: column - 1] + text + raw[column - 1 + len(text):]
    return b"\n".join(lines)


GOOD = build_settlement_file(settlement(line(), line(dc="C", txn_code="0400")))


@pytest.mark.parametrize(("field", "text", "offset"), [
    ("txn_code", b"0300", 0), ("dc", b"X", 0), ("stan", b"00004A", 5),
    ("transmission_time", b"1302063015", 0), ("amount", b"00000001234.", 11),
    ("currency", b"999", 0), ("retrieval_ref", b"0A1B-", 4),
    ("account", b"62220000000".ljust(19), 0), ("acquirer_id", b" ", 0), ("order_id", b"\x7f", 0),
])
def test_bad_field_names_line_and_column(field: str, text: bytes, offset: int) -> None:
    err = fail(_mutate(GOOD, 3, _column(field), text))
    assert (err.code, err.line, err.field) == ("SETTLEMENT_BAD_FIELD", 3, field)
    assert err.column == _column(field) + offset
    assert f"line 3, column {err.column} ({field})" in str(err)


def test_card_number_never_quoted() -> None:
    err = fail(_mutate(GOOD, 2, _column("account") + 3, b"X"))
    assert err.field == "account" and "'X'" not in str(err) and "6222" not in str(err)


@pytest.mark.parametrize(("data", "code", "line_no", "column"), [
    (b"", "SETTLEMENT_BAD_RECORD", 1, 1),
    (GOOD.split(b"\n", 1)[0] + b"\n", "SETTLEMENT_BAD_RECORD", 2, 1),  # header only: truncated
    (b"\n".join(GOOD.split(b"\n")[:3]) + b"\n", "SETTLEMENT_BAD_RECORD", 3, 1),  # no trailer
    (GOOD.replace(b"\nD0400", b"\nX0400"), "SETTLEMENT_BAD_RECORD", 3, 1),
    (GOOD[1:], "SETTLEMENT_BAD_RECORD", 1, 1),
    (GOOD.replace(b"E2E-0001 ", b"E2E-0001", 1), "SETTLEMENT_BAD_RECORD", 2, LINE_WIDTH),
    (GOOD.replace(b"\nT", b"  \nT"), "SETTLEMENT_BAD_RECORD", 3, LINE_WIDTH + 1),
    (_mutate(GOOD, 4, 2, b"000000003"), "SETTLEMENT_BAD_TOTALS", 4, 2),
    (_mutate(GOOD, 4, 11, b"000000000000012346"), "SETTLEMENT_BAD_TOTALS", 4, 11),
    (_mutate(GOOD, 4, 29, b"000000000000000000"), "SETTLEMENT_BAD_TOTALS", 4, 29),
    (_mutate(GOOD, 1, 2, b"20260230"), "SETTLEMENT_BAD_FIELD", 1, 2),
    (_mutate(GOOD, 1, 21, b"20261302"), "SETTLEMENT_BAD_FIELD", 1, 21),
    (_mutate(GOOD, 2, 126, b"x"), "SETTLEMENT_BAD_RECORD", 2, 126),
    (_mutate(GOOD, 4, 60, b"x"), "SETTLEMENT_BAD_RECORD", 4, 47),
    (_mutate(GOOD, 2, 90, "é".encode()), "SETTLEMENT_BAD_FIELD", 2, 90),
])
def test_bad_file_names_where(data: bytes, code: str, line_no: int, column: int) -> None:
    err = fail(data)
    assert (err.code, err.line, err.column) == (code, line_no, column), str(err)
    assert isinstance(err, MessageError)


def test_build_refuses_what_cannot_be_written() -> None:
    with pytest.raises(SettlementFileError) as info:
        build_settlement_file(settlement(line(), line(account="6222 0000")))
    assert (info.value.line, info.value.column, info.value.field) == (3, _column("account") + 4,
                                                                      "account")
    for bad, field in [({"amount": -1}, "amount"), ({"amount": 10**12}, "amount"),
                       ({"currency": "XAU"}, "currency"), ({"txn_code": "0210"}, "txn_code"),
                       ({"order_id": "x" * 36}, "order_id"), ({"order_id": "E2E "}, "order_id"),
                       ({"stan": "42"}, "stan"), ({"acquirer_id": "0" * 12}, "acquirer_id"),
                       ({"transmission_time": "0230120000"}, "transmission_time")]:
        with pytest.raises(SettlementFileError) as info:
            build_settlement_file(settlement(line(**bad)))
        assert (info.value.line, info.value.field) == (2, field), bad
    naive = msgspec.structs.replace(settlement(), created_at=datetime(2026, 3, 2))
    with pytest.raises(SettlementFileError):
        build_settlement_file(naive)


def test_error_pickles_with_its_location() -> None:
    err = fail(_mutate(GOOD, 3, _column("dc"), b"X"))
    again = pickle.loads(pickle.dumps(err))
    assert (again.code, again.line, again.column, again.field, str(again)) == (
        err.code, err.line, err.column, err.field, str(err))
