"""Independent parsers read what we build: MT103 with the ``mt103`` package, MT940 with ``mt-940``.

Both are test-only dependencies; without them these tests skip (CI=true: fail). ``mt103`` reads
block 3 tags 113/108/111/121 only and has no 55a, 59F or single-token-free 53a, and ``mt-940``
reads statement text rather than the FIN envelope, so the strategies stay inside what they read.
"""

from __future__ import annotations

import calendar
import decimal
import os
import string
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from messages.currency import exponent
from messages.mt import MT103, MT940, Party, build_mt, parse_mt
from tests.test_mt_roundtrip import (
    ALNUM,
    any_envelope,
    bics,
    dates,
    minor,
    money,
    reference,
    statement,
    text,
    uetrs,
)

if os.environ.get("CI") == "true":
    import mt103 as mt103_pkg
    import mt940 as mt940_pkg
else:
    mt103_pkg = pytest.importorskip("mt103", reason="pip install mt103 for the MT103 cross-check")
    mt940_pkg = pytest.importorskip("mt940", reason="pip install mt-940 for the MT940 cross-check")

# no ':' (mt103 finds fields by ':NN' anywhere) and no leading '/' (an account line)
SAFE = string.ascii_letters + string.digits + "/-?().,'+ "
safe_line = text(SAFE, 1, 35).filter(lambda s: s[0] not in "-/" and s.strip() == s)
safe_lines = st.lists(safe_line, min_size=1, max_size=4).map(tuple)
safe_lines3 = st.lists(safe_line, min_size=1, max_size=3).map(tuple)
accounts = text(ALNUM, 2, 34)


def party(option: str, *, mark: bool = False) -> st.SearchStrategy[Party]:
    kw: dict[str, Any] = {"option": st.just(option)}
    if option == "A":
        kw["bic"] = bics
        kw["account"] = st.one_of(st.none(), accounts)
    elif option == "C":
        kw["account"] = accounts
    elif option == "F":
        kw["account"] = accounts
        kw["lines"] = safe_lines
    else:
        kw["account"] = st.one_of(st.none(), accounts)
        kw["lines"] = safe_lines
    if mark:
        kw["mark"] = st.one_of(st.none(), st.sampled_from("CD"))
    return st.builds(Party, **kw).filter(lambda p: p.mark is None or p.account is not None)


def raw(p: Party | None, fixed_identifier: bool = False) -> str | None:
    """The field text as the standard lays it out, written out independently of our encoder."""
    if p is None:
        return None
    out = []
    ident = (f"/{p.mark}" if p.mark else "") + (f"/{p.account}" if p.account else "")
    if fixed_identifier:
        out.append(p.account or "")
    elif ident:
        out.append(ident)
    if p.bic:
        out.append(p.bic)
    out += p.lines
    return "\r\n".join(out)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


mt103_msgs = st.builds(
    MT103, envelope=any_envelope, uetr=uetrs, sender_ref=reference,
    bank_operation_code=st.sampled_from(["CRED", "SPAY"]), value_date=dates,
    currency=st.sampled_from(["EUR", "USD", "JPY", "BHD"]), amount=minor,
    instructed_amount=optional(money),
    ordering_customer=st.one_of(party("A"), party("F"), party("K")),
    ordering_institution=optional(st.one_of(party("A", mark=True), party("D", mark=True))),
    intermediary=optional(st.one_of(party("A", mark=True), party("C"), party("D", mark=True))),
    account_with_institution=optional(st.one_of(party("A", mark=True), party("C"))),
    beneficiary=st.one_of(party(""), party("A")),
    remittance_info=optional(safe_lines), charges=st.sampled_from(["OUR", "SHA", "BEN"]),
    sender_charges=st.lists(money, max_size=2).map(tuple), receiver_charges=optional(money),
    sender_to_receiver_info=optional(safe_lines), regulatory_reporting=optional(safe_lines3),
)


def amount_of(text: str, currency: str) -> int:
    value = decimal.Decimal(text.replace(",", ".")) * 10 ** exponent(currency)
    assert value == value.to_integral_value()
    return int(value)


def joined(lines: tuple[str, ...] | None) -> str | None:
    return None if lines is None else "\r\n".join(lines)


@settings(max_examples=200, deadline=None)
@given(msg=mt103_msgs)
def test_mt103_package_reads_what_we_build(msg: MT103) -> None:
    wire = build_mt(msg)
    theirs = mt103_pkg.MT103(wire)
    assert theirs, wire  # their regex accepted the whole message
    t = theirs.text
    assert theirs.user_header.uetr == msg.uetr
    assert theirs.user_header.mur == msg.envelope.user_header.mur
    assert t.transaction_reference == msg.sender_ref
    assert t.bank_operation_code == msg.bank_operation_code
    assert t.date == msg.value_date
    assert t.interbank_settled_currency == msg.currency
    assert amount_of(t.interbank_settled_amount, msg.currency) == msg.amount
    if msg.instructed_amount is None:
        assert t.original_ordered_currency is None
    else:
        assert t.original_ordered_currency == msg.instructed_amount.currency
        assert amount_of(t.original_ordered_amount, msg.instructed_amount.currency) == (
            msg.instructed_amount.amount)
    assert t.ordering_customer == raw(msg.ordering_customer,
                                      fixed_identifier=msg.ordering_customer.option == "F")
    assert t.ordering_institution == raw(msg.ordering_institution)
    assert t.intermediary == raw(msg.intermediary)
    assert t.account_with_institution == raw(msg.account_with_institution)
    assert t.beneficiary == raw(msg.beneficiary)
    assert t.remittance_information == joined(msg.remittance_info)
    assert t.details_of_charges == msg.charges
    if msg.sender_charges:  # their repeated group keeps the last :71F:
        last = msg.sender_charges[-1]
        assert t.sender_charges.strip() == last.currency + wire.split(":71F:")[-1][3:].split(
            "\r\n")[0]
        assert amount_of(t.sender_charges.strip()[3:], last.currency) == last.amount
    if msg.receiver_charges is not None:
        got = t.receiver_charges.strip()
        assert got[:3] == msg.receiver_charges.currency
        assert amount_of(got[3:], got[:3]) == msg.receiver_charges.amount
    assert t.sender_to_receiver_information == joined(msg.sender_to_receiver_info)
    assert t.regulatory_reporting == joined(msg.regulatory_reporting)
    assert parse_mt(wire) == msg


def block4_body(wire: str) -> str:
    return wire[wire.index("{4:\r\n") + 5 : wire.index("\r\n-}")]


def mt940_amount(amount: Any, currency: str) -> int:
    return int(abs(amount.amount) * 10 ** exponent(currency))


@settings(max_examples=150, deadline=None)
@given(msg=statement(MT940, True))
def test_mt940_package_reads_what_we_build(msg: MT940) -> None:
    # mt-940 strips lines and files the statement-level :86: under the last entry: keep
    # blank-edged lines and that :86: out of the comparison
    texts = [e.details or "" for e in msg.entries] + [
        line for e in msg.entries for line in e.info or ()]
    assume(all(t == t.strip() for t in texts))
    # mt-940 dates an MMDD entry date in its value date's year, so 29 February beside a value
    # date of a common year breaks it; the field is MMDD of any year, and we accept it
    assume(not any(e.entry_date == "0229" and not calendar.isleap(e.value_date.year)
                   for e in msg.entries))
    msg = type(msg)(**{**{f: getattr(msg, f) for f in msg.__struct_fields__},
                       "information": None})
    wire = build_mt(msg)
    theirs = mt940_pkg.parse(block4_body(wire))
    data = theirs.data
    currency = msg.opening_balance.currency
    assert data["transaction_reference"] == msg.sender_ref
    assert data.get("related_reference") == msg.related_ref
    number, _, sequence = msg.statement_number.partition("/")
    assert (data["statement_number"], data.get("sequence_number")) == (number, sequence or None)
    for key, ours in (("opening_balance", msg.opening_balance),
                      ("closing_balance", msg.closing_balance)):
        theirs_balance = data[("final_" if ours.option == "F" else "intermediate_") + key]
        assert theirs_balance.status == ours.mark
        assert theirs_balance.date == ours.date
        assert theirs_balance.amount.currency == currency
        assert mt940_amount(theirs_balance.amount, currency) == ours.amount
    if msg.closing_available_balance is not None:
        assert mt940_amount(data["available_balance"].amount, currency) == (
            msg.closing_available_balance.amount)
    assert len(theirs) == len(msg.entries)
    for mine, tx in zip(msg.entries, theirs, strict=True):
        d = tx.data
        assert d["date"] == mine.value_date
        assert d["status"] == mine.mark
        assert mt940_amount(d["amount"], currency) == mine.amount
        assert d["id"] == mine.transaction_type
        assert d["customer_reference"] == mine.customer_ref
        assert d["bank_reference"] == mine.bank_ref
        assert (d.get("funds_code") or None) == mine.funds_code
        assert (d.get("extra_details") or None) == mine.details
        assert d.get("transaction_details") == (
            None if mine.info is None else "\n".join(mine.info))
    assert parse_mt(wire) == msg
