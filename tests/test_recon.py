"""Reconciliation's matching rules and statement readers, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.recon import Break, SwitchItem, allowed_actions, balance_break, match
from accounting.statements import StatementError, StatementItem, read_statement
from messages.iso8583.settlement import SettlementFile, SettlementLine, build_settlement_file
from messages.iso20022.camt053 import (
    Balance,
    Camt053,
    Entry,
    EntryTransaction,
    Statement,
    build_camt053,
)
from messages.mt.codec import build_mt
from messages.mt.types import MT950, Envelope, Party
from messages.mt.types import Balance as MtBalance
from messages.mt.types import StatementLine as MtLine

DAY = date(2026, 3, 2)


def item(ref: str, state: str = "SETTLED", amount: int = 100, ccy: str = "CNY") -> SwitchItem:
    return SwitchItem(ref, f"p-{ref}", state, amount, ccy)


def line(ref: str, amount: int, ccy: str = "CNY", kind: str = "settle") -> StatementItem:
    return StatementItem(ref, amount, ccy, kind)


def kinds(lines: list[StatementItem], items: list[SwitchItem]) -> list[tuple[str, str]]:
    found = match(lines, {i.reference: i for i in items})
    return sorted((b.kind, b.reference) for b in found.breaks)


def test_each_kind_of_break() -> None:
    items = [item("OK"), item("SHORT"), item("AMT"), item("CCY"), item("UNK", "UNKNOWN"),
             item("REJ", "REJECTED"), item("DUP"), item("PEND", "SUBMITTED")]
    lines = [line("OK", -100), line("AMT", -107), line("CCY", -100, "USD"), line("UNK", -100),
             line("REJ", -100), line("DUP", -100), line("DUP", -100), line("LONG", -5)]
    assert kinds(lines, items) == [
        ("amount", "AMT"), ("currency", "CCY"), ("duplicate", "DUP"), ("long", "LONG"),
        ("short", "SHORT"), ("status", "REJ"), ("status", "UNK")]


def test_a_pending_payment_settled_at_another_amount_shows_both() -> None:
    found = match([line("UNK", -107)], {"UNK": item("UNK", "UNKNOWN", 100)})
    assert sorted((b.kind, b.stated, b.expected) for b in found.breaks) == [
        ("amount", -107, -100), ("status", -100, 0)]


def test_lines_of_a_reference_net_like_the_books() -> None:
    # UnionPay: settled, then reversed after the switch's timeout (the switch says REJECTED);
    # a same-day return; a payment still waiting whose channel has nothing yet
    lines = [line("REV", -100), line("REV", 100, kind="reverse"),
             line("RET", -100), line("RET", 100, kind="return")]
    items = [item("REV", "REJECTED"), item("RET", "RETURNED"), item("WAIT", "UNKNOWN")]
    found = match(lines, {i.reference: i for i in items})
    assert (found.items, found.matched, found.breaks) == (4, 2, [])


def test_a_rejected_payment_the_channel_settled_is_claimed_back() -> None:
    found = match([line("REJ", -100), line("UNK", -100)],
                  {"REJ": item("REJ", "REJECTED"), "UNK": item("UNK", "UNKNOWN")})
    by_ref = {b.reference: allowed_actions(b) for b in found.breaks}
    assert by_ref == {"REJ": ("credit-adjustment",),
                      "UNK": ("settle-from-statement", "credit-adjustment")}


def test_suggestions_are_among_the_allowed_actions() -> None:
    found = match([line("L", 50), line("M", -5)], {"S": item("S"), "M": item("M", amount=3)})
    for b in found.breaks:
        assert b.suggested == allowed_actions(b)[0]
    by_kind = {b.kind: b.suggested for b in found.breaks}
    assert by_kind == {"long": "return-to-originator", "short": "credit-adjustment",
                       "amount": "make-up"}


@given(st.lists(st.tuples(st.sampled_from("ABCDEFGH"), st.integers(-10_000, 10_000)),
                max_size=40),
       st.dictionaries(st.sampled_from("ABCDEFGHIJ"),
                       st.tuples(st.sampled_from(["SETTLED", "REJECTED", "UNKNOWN"]),
                                 st.integers(1, 10_000)), max_size=10))
def test_breaks_explain_the_whole_difference(raw_lines: list[tuple[str, int]],
                                             raw_items: dict[str, tuple[str, int]]) -> None:
    """Whatever the statement and the switch say, what the matched items and the breaks
    account for is exactly the statement's movement (no balance break is left over)."""
    lines = [line(r, a) for r, a in raw_lines if a]
    items = {r: item(r, s, a) for r, (s, a) in raw_items.items()}
    found = match(lines, items)
    booked = sum(-(i.amount) for i in items.values() if i.state == "SETTLED")
    assert found.items == len(lines)
    assert balance_break("CNY", sum(ln.amount for ln in lines), booked, found.breaks) is None


def test_balance_break_is_what_item_breaks_leave_unexplained() -> None:
    gap = balance_break("CNY", -1_000, -900, [Break("long", "X", "CNY", -40, 0)])
    assert gap is not None and (gap.kind, gap.stated) == ("balance", -60)


def _camt(entries: tuple[Entry, ...], opening: int, closing: int) -> bytes:
    statement = Statement(id="S1", account="102100099996", balances=(
        Balance("OPBD", opening, "CNY", "CRDT", DAY), Balance("CLBD", closing, "CNY", "CRDT",
                                                              DAY)), entries=entries)
    return build_camt053(Camt053(msg_id="M1", created_at=datetime(2026, 3, 2, tzinfo=UTC),
                                 statements=(statement,)))


def test_camt053_reads_booked_entries_only() -> None:
    entries = (Entry(300, "CNY", "DBIT", booking_date=DAY,
                     transactions=(EntryTransaction(end_to_end_id="E1"),)),
               Entry(900, "CNY", "DBIT", status="INFO", reference="SESSION-NET"),
               Entry(50, "CNY", "CRDT", reference="R2"))
    s = read_statement(_camt(entries, 1000, 750))
    assert s.format == "camt.053" and s.business_date == DAY
    assert [(i.reference, i.amount) for i in s.items] == [("E1", -300), ("R2", 50)]
    assert (s.balances["CNY"].opening, s.balances["CNY"].closing) == (1000, 750)


def test_mt950_pages_make_one_statement_per_currency() -> None:
    env = Envelope(sender="CITIUS33XXXX", receiver="BANKCNBJXXXX")

    def page(n: int, opening: int, closing: int, refs: list[tuple[str, int]]) -> str:
        return build_mt(MT950(
            envelope=env, sender_ref=f"USD{n}", account=Party(account="ACC"),
            statement_number=f"61/{n}",
            opening_balance=MtBalance(mark="C", date=DAY, currency="USD", amount=opening,
                                      option="F" if n == 1 else "M"),
            closing_balance=MtBalance(mark="C", date=DAY, currency="USD", amount=closing,
                                      option="F" if n == 2 else "M"),
            entries=tuple(MtLine(value_date=DAY, mark="D", amount=a, transaction_type="S103",
                                 customer_ref=r[:15] + "+", details=r) for r, a in refs)))

    long_ref = "0123456789abcdef0123456789abcdef"
    data = "$".join([page(1, 1000, 900, [(long_ref, 100)]),
                     page(2, 900, 850, [("fedcba9876543210fedcba98", 50)])]).encode()
    s = read_statement(data)
    assert s.format == "MT950"
    assert [(i.reference, i.amount) for i in s.items] == [(long_ref, -100),
                                                          ("fedcba9876543210fedcba98", -50)]
    assert (s.balances["USD"].opening, s.balances["USD"].closing) == (1000, 850)


def test_unionpay_settlement_file_reversal_lines() -> None:
    common = dict(acquirer_id="48020000", sender_id="48020000", stan="000001",
                  transmission_time="0302100000", account="6222000000000000", currency="CNY",
                  retrieval_ref="000000000001", order_id="E1", amount=500)
    f = SettlementFile(settlement_date=DAY, institution="48020000",
                       created_at=datetime(2026, 3, 2, 23, tzinfo=UTC), lines=(
                           SettlementLine(txn_code="0200", dc="D", **common),  # type: ignore
                           SettlementLine(txn_code="0400", dc="C", **common)))  # type: ignore
    s = read_statement(build_settlement_file(f))
    assert [(i.reference, i.amount, i.kind) for i in s.items] == [("E1", -500, "settle"),
                                                                  ("E1", 500, "reverse")]
    assert match(s.items, {"E1": item("E1", "REJECTED", 500)}).breaks == []


@pytest.mark.parametrize("data", [b"", b"<Document/>", b"<<<", b"{1:F01XX}", b"\xff\xfe",
                                  b"H20260302garbage"])
def test_unreadable_statements_raise_with_a_code(data: bytes) -> None:
    with pytest.raises(StatementError) as err:
        read_statement(data)
    assert err.value.code and str(err.value)


@given(st.lists(st.tuples(st.sampled_from(["0200", "0400"]), st.sampled_from("DC"),
                          st.integers(0, 10**12 - 1), st.sampled_from(["CNY", "USD", "JPY"]),
                          st.text("ABCDEF0123456789-", max_size=35)), max_size=20))
def test_fast_settlement_reader_agrees_with_the_strict_parser(
        rows: list[tuple[str, str, int, str, str]]) -> None:
    from messages.iso8583.settlement import parse_settlement_file, read_settlement_items

    f = SettlementFile(settlement_date=DAY, institution="48020000",
                       created_at=datetime(2026, 3, 2, 23, tzinfo=UTC), lines=tuple(
                           SettlementLine(txn_code=code, dc=dc, acquirer_id="48020000",
                                          sender_id="48020000", stan="000001",
                                          transmission_time="0302100000",
                                          account="6222000000000000", amount=amount,
                                          currency=ccy, retrieval_ref="000000000001",
                                          order_id=oid) for code, dc, amount, ccy, oid in rows))
    data = build_settlement_file(f)
    strict = parse_settlement_file(data)
    day, institution, items = read_settlement_items(data)
    assert (day, institution) == (strict.settlement_date, strict.institution)
    assert [(i.order_id, i.signed_amount, i.currency, i.txn_code) for i in items] == \
        [(ln.order_id, ln.signed_amount, ln.currency, ln.txn_code) for ln in strict.lines]


@pytest.mark.parametrize("change", [
    (b"D0200D", b"D0299D"),  # unknown txn code
    (b"000000012345", b"0000000123X5"),  # amount
    (b"000000012345", b"000000012346"),  # the trailer's total no longer agrees
    (b"\n", b"\r\n"),  # line width
])
def test_fast_settlement_reader_reports_where_a_file_breaks(change: tuple[bytes, bytes]) -> None:
    from messages.iso8583.settlement import (
        SettlementFileError,
        parse_settlement_file,
        read_settlement_items,
    )

    f = SettlementFile(settlement_date=DAY, institution="48020000",
                       created_at=datetime(2026, 3, 2, 23, tzinfo=UTC), lines=(SettlementLine(
                           txn_code="0200", dc="D", acquirer_id="48020000", sender_id="48020000",
                           stan="000001", transmission_time="0302100000",
                           account="6222000000000000", amount=12345, currency="CNY",
                           retrieval_ref="000000000001", order_id="E1"),))
    data = build_settlement_file(f).replace(*change, 1)
    with pytest.raises(SettlementFileError) as strict:
        parse_settlement_file(data)
    with pytest.raises(SettlementFileError) as fast:
        read_settlement_items(data)
    assert str(fast.value) == str(strict.value)
