"""MT103 return <-> pacs.004: round trips, XSD validity, reported losses."""

from __future__ import annotations

import datetime
import string

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xsd_oracle import assert_valid

from messages.iso20022 import Agent, Charge, build_pacs004, parse_pacs004
from messages.mt import MT103, Envelope, Money, Party, build_mt, parse_mt
from messages.translate import (
    TranslationError,
    mt103_return_to_pacs004,
    mt_to_mx,
    mx_to_mt,
    pacs004_to_mt103_return,
)
from tests import test_mt_roundtrip as mts
from tests.test_translate_customer import addresses, xtext

NOW = datetime.datetime(2026, 11, 22, 8, 0, tzinfo=datetime.UTC)
UETR = "6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f"
REF = st.text(string.ascii_uppercase + string.digits + "-.", min_size=1, max_size=16)


@st.composite
def return_lines(draw: st.DrawFn) -> tuple[str, ...]:
    lines = ["/RETN/99"]
    reason = draw(st.none() | st.sampled_from(["AC01", "AC04", "AM09", "MS03"]))
    if reason:
        lines.append(f"/{reason}/")
    if draw(st.booleans()):
        lines.append("/MREF/" + draw(REF))
    if draw(st.booleans()):
        lines.append("/TREF/" + draw(REF))
    text = draw(st.none() | xtext(1, (6 - len(lines)) * 33 - 6).filter(
        lambda s: len(s) <= 105))
    if text:
        chunks = ["/TEXT/" + text][0]
        first, rest = chunks[:35], chunks[35:]
        lines.append(first)
        lines += ["//" + rest[i:i + 33] for i in range(0, len(rest), 33)]
    return tuple(lines[:6])


returns = st.builds(
    MT103, envelope=st.builds(Envelope, sender=addresses, receiver=addresses), uetr=mts.uetrs,
    sender_ref=mts.reference, bank_operation_code=st.just("CRED"), value_date=mts.dates,
    currency=mts.currencies, amount=st.integers(1, 10**12),
    ordering_customer=st.just(Party(option="K", lines=("NOTPROVIDED",))),
    beneficiary=st.just(Party(lines=("NOTPROVIDED",))),
    charges=st.sampled_from(["OUR", "SHA", "BEN"]),
    instructed_amount=st.none() | st.builds(Money, mts.currencies, st.integers(1, 10**12)),
    sender_to_receiver_info=return_lines(),
    sender_charges=st.lists(st.builds(Money, mts.currencies, st.integers(0, 10**9)),
                            max_size=2).map(tuple),
    receiver_charges=st.none() | st.builds(Money, mts.currencies, st.integers(0, 10**9)),
).filter(lambda msg: msg.envelope.sender[:8] != msg.envelope.receiver[:8])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=returns)
def test_an_mt103_return_that_fits_comes_back_unchanged(msg: MT103) -> None:
    there = mt103_return_to_pacs004(msg, created_at=NOW)
    document = build_pacs004(there.message)
    assert_valid(document, "pacs.004.001.09")
    back = pacs004_to_mt103_return(parse_pacs004(document))
    assert there.warnings == back.warnings == ()
    assert back.message == msg


RETURN = MT103(
    envelope=Envelope(sender="CITIUS33XXXX", receiver="BKCHCNBJXXXX"), uetr=UETR,
    sender_ref="RTN-1", bank_operation_code="CRED", value_date=datetime.date(2026, 11, 23),
    currency="USD", amount=990_00, ordering_customer=Party(option="K", lines=("JOHN DOE",)),
    beneficiary=Party(account="6222020200000001", lines=("ZHANG SAN",)), charges="SHA",
    instructed_amount=Money("USD", 1000_00),
    sender_to_receiver_info=("/RETN/59", "/AC04/", "/MREF/REF-1", "/TEXT/ACCOUNT CLOSED"),
)


def test_return_codes_in_72_map_to_the_return_reason() -> None:
    result = mt103_return_to_pacs004(RETURN, created_at=NOW)
    tx = result.message.transactions[0]
    assert (tx.reason, tx.orgnl_instr_id, tx.additional_info, tx.orgnl_uetr) == (
        "AC04", "REF-1", "ACCOUNT CLOSED", UETR)
    assert (tx.amount, tx.orgnl_amount, tx.charge_bearer) == (990_00, 1000_00, "SHAR")
    # the field in error and the parties of the return have no pacs.004 element
    assert {w.field for w in result.warnings} == {"72", "50a", "59a"}


def test_charges_taken_on_the_way_back_are_charges_information() -> None:
    msg = msgspec.structs.replace(RETURN, sender_charges=(Money("USD", 10_00),))
    result = mt103_return_to_pacs004(msg, created_at=NOW)
    tx = result.message.transactions[0]
    assert tx.charges == (Charge(10_00, "USD", Agent(bic="CITIUS33")),)
    document = build_pacs004(result.message)
    assert_valid(document, "pacs.004.001.09")
    assert b'<ChrgsInf><Amt Ccy="USD">10.00</Amt>' in document
    assert pacs004_to_mt103_return(parse_pacs004(document)).message.sender_charges == (
        Money("USD", 10_00),)


def test_the_dispatcher_sends_a_return_to_pacs004_and_back() -> None:
    to_mx = mt_to_mx(build_mt(RETURN), created_at=NOW)
    assert_valid(to_mx.message, "pacs.004.001.09")
    back = parse_mt(mx_to_mt(to_mx.message).message)
    assert isinstance(back, MT103)
    assert back.sender_to_receiver_info == ("/RETN/99", "/AC04/", "/MREF/REF-1",
                                            "/TEXT/ACCOUNT CLOSED")


def test_a_long_return_text_is_cut_with_plus() -> None:
    msg = mt103_return_to_pacs004(RETURN, created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], additional_info="T" * 105,
                                 orgnl_end_to_end_id="E2E-1")
    result = pacs004_to_mt103_return(msgspec.structs.replace(msg, transactions=(tx,)))
    lines = result.message.sender_to_receiver_info
    assert lines is not None and len(lines) == 6 and lines[-1].endswith("+")
    assert [w.field for w in result.warnings] == ["72"]


def test_a_return_without_uetr_cannot_be_an_mt103() -> None:
    msg = mt103_return_to_pacs004(RETURN, created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], orgnl_uetr=None)
    with pytest.raises(TranslationError) as caught:
        pacs004_to_mt103_return(msgspec.structs.replace(msg, transactions=(tx,)))
    assert caught.value.where is not None and caught.value.where.endswith("/OrgnlUETR")
