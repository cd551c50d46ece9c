"""Intake validation: each rule answers with its ISO 20022 reason code."""

from __future__ import annotations

import re
import string
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switch.order import Order, Party
from switch.validation import MAX_AMOUNT, Invalid, valid_client_order_id, validate_order
from tests.orders import order

DEBTOR = Party(account="6217000000000001", name="张三", agent="102100099996")
CREDITOR = Party(account="6222000000000009", name="李四", agent="103100000026")


def code_of(o: Order) -> tuple[str, str] | None:
    try:
        validate_order(o)
    except Invalid as exc:
        return exc.code, exc.field
    return None


def party(role: str, **changes: Any) -> dict[str, Party]:
    base = DEBTOR if role == "debtor" else CREDITOR
    return {role: msgspec.structs.replace(base, **changes)}


def test_the_test_order_is_valid() -> None:
    assert code_of(order()) is None


@pytest.mark.parametrize(("changes", "expected"), [
    ({"amount": 0}, ("AM01", "amount")),
    ({"amount": -1}, ("AM12", "amount")),
    ({"amount": MAX_AMOUNT + 1}, ("AM12", "amount")),
    ({"currency": "XXY"}, ("AM03", "currency")),
    ({"currency": "cny"}, ("AM03", "currency")),
    ({"currency": "XAU"}, ("AM03", "currency")),  # a metal: no minor unit, not payable
    (party("debtor", account=""), ("AC02", "debtor.account")),
    (party("debtor", account="6217-0000"), ("AC02", "debtor.account")),
    (party("debtor", account="1" * 35), ("AC02", "debtor.account")),
    (party("creditor", account="62 22"), ("AC03", "creditor.account")),
    (party("debtor", name="   "), ("RR02", "debtor.name")),
    (party("debtor", name="x" * 141), ("RR02", "debtor.name")),
    (party("creditor", name=""), ("RR03", "creditor.name")),
    (party("debtor", country="cn"), ("BE09", "debtor.country")),
    (party("creditor", country="CHN"), ("BE09", "creditor.country")),
    (party("debtor", agent="10210009999"), ("RC01", "debtor.agent")),  # 11 digits
    (party("creditor", agent="ICBKCNBJ1"), ("RC01", "creditor.agent")),  # 9 characters
    (party("creditor", agent="icbkcnbj"), ("RC01", "creditor.agent")),
    (party("creditor", agent="ICBKCN1J"), ("RC01", "creditor.agent")),  # location 1 not allowed
    (party("debtor", lei="5493001KJTIIGC8Y1R1"), ("RC01", "debtor.lei")),  # 19 characters
    (party("creditor", lei="5493001KJTIIGC8Y1RAB"), ("RC01", "creditor.lei")),  # letters in check
    ({"charge_bearer": "OUR"}, ("FF01", "charge_bearer")),
    ({"urgency": "asap"}, ("FF01", "urgency")),
    ({"remittance_info": "x" * 141}, ("FF01", "remittance_info")),
    ({"purpose": "SALARY"}, ("FF01", "purpose")),
    ({"purpose": "sala"}, ("FF01", "purpose")),
    ({"purpose": ""}, ("FF01", "purpose")),
    ({"requested_execution": "2026-02-30"}, ("DT01", "requested_execution")),
    ({"requested_execution": "02/03/2026"}, ("DT01", "requested_execution")),
    ({"requested_execution": "20260302"}, ("DT01", "requested_execution")),
    ({"requested_execution": "2026-W10-1"}, ("DT01", "requested_execution")),
    ({"requested_execution": "2026-03-02T09:00"}, ("DT01", "requested_execution")),
    ({"requested_execution": "２０２６-03-02"}, ("DT01", "requested_execution")),
])
def test_each_rule_has_its_reason_code(changes: dict[str, Any], expected: tuple[str, str]) -> None:
    assert code_of(order(**changes)) == expected


@pytest.mark.parametrize("changes", [
    {"amount": 1}, {"amount": MAX_AMOUNT}, {"currency": "JPY"}, {"currency": "BHD"},
    party("creditor", agent="ICBKCNBJ"), party("creditor", agent="ICBKCNBJXXX"),
    party("creditor", agent="DEUTDEFF500"), party("creditor", agent="CHASUS33"),
    party("debtor", agent="000000000000"), party("debtor", lei="5493001KJTIIGC8Y1R12"),
    party("debtor", account="1" * 34), party("creditor", name="x" * 140, country="HK"),
    {"charge_bearer": "DEBT"}, {"charge_bearer": "CRED"}, {"charge_bearer": "SLEV"},
    {"urgency": "urgent"}, {"requested_execution": "2028-02-29"}, {"purpose": "SALA"},
    {"purpose": "A1"}, {"remittance_info": "x" * 140}, {"remittance_info": None},
])
def test_valid_variants_pass(changes: dict[str, Any]) -> None:
    assert code_of(order(**changes)) is None


def test_first_problem_wins_amount_before_currency() -> None:
    assert code_of(order(amount=0, currency="XXY")) == ("AM01", "amount")


def test_invalid_carries_code_and_field_in_message() -> None:
    with pytest.raises(Invalid, match=r"^AM03 currency: "):
        validate_order(order(currency="ABC"))


# -- properties ---------------------------------------------------------------------------------
_alnum = string.ascii_letters + string.digits
cnaps = st.text("0123456789", min_size=12, max_size=12)
bic = st.builds(
    lambda bank, loc1, loc2, branch: bank + loc1 + loc2 + branch,
    st.text(string.ascii_uppercase, min_size=6, max_size=6),
    st.sampled_from(string.ascii_uppercase + "23456789"),
    st.sampled_from(string.ascii_uppercase.replace("O", "") + string.digits),
    st.one_of(st.just(""), st.text(string.ascii_uppercase + string.digits, min_size=3, max_size=3)),
)
parties = st.builds(
    Party,
    account=st.text(_alnum, min_size=1, max_size=34),
    name=st.text(min_size=1, max_size=140).filter(str.strip),
    agent=st.one_of(cnaps, bic),
    country=st.text(string.ascii_uppercase, min_size=2, max_size=2),
    lei=st.one_of(st.none(), st.builds(lambda a, b: a + b,
                                       st.text(string.ascii_uppercase + string.digits,
                                               min_size=18, max_size=18),
                                       st.text(string.digits, min_size=2, max_size=2))),
)
good_orders = st.builds(
    Order,
    client_order_id=st.just("ORD-1"),
    amount=st.integers(1, MAX_AMOUNT),
    currency=st.sampled_from(["CNY", "USD", "EUR", "JPY", "HKD", "KWD", "CLF"]),
    debtor=parties,
    creditor=parties,
    requested_execution=st.one_of(st.none(), st.dates().map(lambda d: d.isoformat()).filter(
        lambda s: len(s) == 10)),
    urgency=st.sampled_from(["normal", "urgent"]),
    charge_bearer=st.sampled_from(["DEBT", "CRED", "SHAR", "SLEV"]),
    purpose=st.one_of(st.none(), st.text(string.ascii_uppercase + string.digits, min_size=1,
                                         max_size=4)),
    remittance_info=st.one_of(st.none(), st.text(max_size=140)),
)


@settings(max_examples=300)
@given(good_orders)
def test_any_well_formed_order_passes(o: Order) -> None:
    assert code_of(o) is None


@given(good_orders, st.integers(max_value=0))
def test_any_amount_not_above_zero_fails(o: Order, amount: int) -> None:
    result = code_of(msgspec.structs.replace(o, amount=amount))
    assert result == ("AM01" if amount == 0 else "AM12", "amount")


_DOCUMENTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9./:_-]{0,34}")
_id_alphabet = _alnum + "-_./: \t\n#é中+"


@settings(max_examples=500)
@given(st.one_of(st.text(_id_alphabet, max_size=40), st.text(max_size=40)))
def test_client_order_id_accepts_exactly_the_documented_form(value: str) -> None:
    documented = (1 <= len(value) <= 35 and value[0] in _alnum
                  and all(c in _alnum + "-_./:" for c in value))
    assert valid_client_order_id(value) is documented
    assert (_DOCUMENTED.fullmatch(value) is not None) is documented  # the oracle itself agrees


@pytest.mark.parametrize(("value", "ok"), [
    ("A", True), ("A" * 35, True), ("A" * 36, False), ("", False), ("-A", False),
    ("ORD-2026/03:01_x.y", True), ("ORD 1", False), ("ORD-1\n", False), ("订单1", False),
    ("٣", False),  # a non-ASCII digit
])
def test_client_order_id_edges(value: str, ok: bool) -> None:
    assert valid_client_order_id(value) is ok
