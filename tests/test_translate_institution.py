"""MT202 / MT202 COV <-> pacs.009 (COV): round trips, XSD validity, reported losses."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from xsd_oracle import assert_valid, needs_oracle

from messages.iso20022 import (
    Agent,
    BankTransfer,
    NextAgentInstruction,
    Pacs009,
    PartyAccount,
    UnderlyingCustomerTransfer,
    build_pacs009,
    parse_pacs009,
)
from messages.mt import MT202, MT202COV, Envelope, Money, Party, build_mt, parse_mt
from messages.translate import (
    DataLoss,
    TranslationError,
    mt202_to_pacs009,
    mt_to_mx,
    mx_to_mt,
    pacs009_to_mt202,
)
from messages.translate._losses import Losses
from messages.translate._parties import agent_to_mx, bic_of_address, customer_to_mx
from tests import test_iso20022_strategies as mxs
from tests import test_mt_roundtrip as mts
from tests.test_translate_customer import (
    addresses,
    customers,
    institutions,
    instructions_72,
    intermediaries,
    mx_instructions,
    remittances,
    short_bic,
    warned_about,
)

NOW = datetime.datetime(2026, 11, 22, 8, 0, tzinfo=datetime.UTC)
SCHEMA = "pacs.009.001.08"
UETR = "6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f"

with_account = st.builds(Party, option=st.just("A"), account=st.none() | mts.accounts,
                         bic=mts.bics.filter(lambda b: not b.endswith("XXX")))
fitting_202: dict[str, st.SearchStrategy[Any]] = {
    "envelope": st.builds(Envelope, sender=addresses, receiver=addresses),
    "uetr": mts.uetrs, "sender_ref": mts.reference, "related_ref": mts.reference,
    "value_date": mts.dates, "currency": mts.currencies, "amount": st.integers(1, 10**12),
    "beneficiary_institution": with_account | institutions("AD"),
    "ordering_institution": st.none() | with_account | institutions("AD"),
    "intermediary": st.none() | institutions("AD") | with_account,
    "account_with_institution": st.none() | institutions("AD"),
    "sender_to_receiver_info": st.none() | instructions_72(),
}
fitting_mt202 = st.builds(MT202, **fitting_202)
fitting_mt202cov = st.builds(
    MT202COV, underlying_ordering_customer=customers("50"),
    underlying_beneficiary=customers("59"),
    underlying_ordering_institution=st.none() | institutions("AD"),
    underlying_intermediary=st.none() | intermediaries,
    underlying_account_with_institution=st.none() | institutions("ACD"),
    underlying_remittance_info=st.none() | remittances,
    underlying_sender_to_receiver_info=st.none() | instructions_72(),
    underlying_instructed_amount=st.none() | st.builds(Money, mts.currencies,
                                                        st.integers(1, 10**12)),
    **fitting_202,
)


def sent_back(msg: MT202) -> tuple[MT202, tuple[DataLoss, ...]]:
    there = mt202_to_pacs009(msg, created_at=NOW)
    document = build_pacs009(there.message)
    assert_valid(document, SCHEMA)
    back = pacs009_to_mt202(parse_pacs009(document))
    assert parse_mt(build_mt(back.message)) == back.message
    return back.message, there.warnings + back.warnings


def not_the_sender(party: Party | None, address: str) -> bool:
    return party is None or party.bic is None or party.bic[:8] != address[:8]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=st.one_of(fitting_mt202, fitting_mt202cov))
def test_an_mt202_or_cov_that_fits_comes_back_unchanged(msg: MT202) -> None:
    assume(not_the_sender(msg.ordering_institution, msg.envelope.sender))
    if isinstance(msg, MT202COV):
        assume(not_the_sender(msg.underlying_ordering_institution, msg.envelope.sender))
        assume(not_the_sender(msg.underlying_account_with_institution, msg.envelope.receiver))
    back, warnings = sent_back(msg)
    assert warnings == ()
    assert back == msg
    assert type(back) is type(msg)


MT202_TAGS = {
    "uetr": "121", "sender_ref": "20", "related_ref": "21", "value_date": "32A",
    "currency": "32A", "amount": "32A", "beneficiary_institution": "58",
    "time_indications": "13C", "ordering_institution": "52", "senders_correspondent": "53",
    "receivers_correspondent": "54", "intermediary": "56", "account_with_institution": "57",
    "sender_to_receiver_info": "72", "underlying_ordering_customer": "50",
    "underlying_beneficiary": "59", "underlying_ordering_institution": "52",
    "underlying_intermediary": "56", "underlying_account_with_institution": "57",
    "underlying_remittance_info": "70", "underlying_sender_to_receiver_info": "72",
    "underlying_instructed_amount": "33B",
}


def carried(attribute: str, value: Any) -> Any:
    if value is None:
        return None
    if attribute == "underlying_remittance_info":
        return "".join(value)
    if attribute in ("underlying_ordering_customer", "underlying_beneficiary"):
        return customer_to_mx(value, MT202_TAGS[attribute], "x", Losses())
    if isinstance(value, Party):
        return agent_to_mx(value, "xx", "x", Losses(), "acct")
    return value


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=st.one_of(mts.mt202, mts.mt202cov))
def test_any_mt202_keeps_every_field_that_fits_and_warns_about_the_rest(msg: MT202) -> None:
    assume(msg.amount > 0)
    assume(not_the_sender(msg.ordering_institution, msg.envelope.sender))
    if isinstance(msg, MT202COV):
        assume(not_the_sender(msg.underlying_ordering_institution, msg.envelope.sender))
        assume(not_the_sender(msg.underlying_account_with_institution, msg.envelope.receiver))
    back, warnings = sent_back(msg)
    assert type(back) is type(msg)
    assert bic_of_address(back.envelope.sender) == bic_of_address(msg.envelope.sender)
    warned = {w.field[:2] for w in warnings}
    for attribute, tag in MT202_TAGS.items():
        before, after = getattr(msg, attribute, None), getattr(back, attribute, None)
        if carried(attribute, before) != carried(attribute, after):
            assert tag[:2] in warned, (attribute, before, after, warnings)


mt_bic_agents = st.builds(Agent, bic=mts.bics)
mx_covers = st.builds(
    UnderlyingCustomerTransfer, debtor=mxs.parties, debtor_agent=mxs.agents(),
    creditor_agent=mxs.agents(), creditor=mxs.parties,
    remittance_info=st.none() | mxs.text(140),
    intermediary_agent=st.none() | mt_bic_agents | mxs.agents(),
    next_agent_instructions=mx_instructions,
).flatmap(lambda cover: st.just(cover) if cover.intermediary_agent is None else st.builds(
    msgspec.structs.replace, st.just(cover),
    intermediary_account=st.none() | mts.accounts | mxs.accounts))
mx_transfers = st.builds(
    BankTransfer,
    end_to_end_id=mxs.ids, tx_id=mxs.ids, uetr=mxs.uetrs, amount=st.integers(1, 10**11),
    currency=mxs.currencies,
    settlement_date=st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)),
    debtor=mt_bic_agents | mxs.agents(), creditor=mt_bic_agents | mxs.agents(),
    debtor_agent=st.none() | mxs.agents(), creditor_agent=st.none() | mxs.agents(),
    instructing_agent=mt_bic_agents, instructed_agent=mt_bic_agents,
    intermediary_agent=st.none() | mxs.agents(),
    debtor_account=st.none() | mxs.accounts, creditor_account=st.none() | mxs.accounts,
    instr_id=st.none() | mxs.ids, purpose=st.none() | mxs.codes4,
    remittance_info=st.none() | mxs.text(140),
    underlying=st.none() | mx_covers,
    next_agent_instructions=mx_instructions,
).flatmap(lambda tx: st.just(tx) if tx.intermediary_agent is None else st.builds(
    msgspec.structs.replace, st.just(tx),
    intermediary_account=st.none() | mts.accounts | mxs.accounts))
mx_pacs009 = st.builds(Pacs009, msg_id=mxs.ids, created_at=st.just(NOW),
                       transactions=mx_transfers.map(lambda tx: (tx,)),
                       settlement_method=st.sampled_from(["INDA", "INDA", "COVE"]))
TX_ELEMENTS = {
    "end_to_end_id": "EndToEndId", "tx_id": "TxId", "instr_id": "InstrId", "uetr": "UETR",
    "amount": "IntrBkSttlmAmt", "currency": "IntrBkSttlmAmt", "settlement_date": "IntrBkSttlmDt",
    "debtor": "Dbtr", "creditor": "Cdtr", "debtor_agent": "DbtrAgt", "creditor_agent": "CdtrAgt",
    "instructing_agent": "InstgAgt", "instructed_agent": "InstdAgt",
    "intermediary_agent": "IntrmyAgt1", "intermediary_account": "IntrmyAgt1",
    "debtor_account": "DbtrAcct", "creditor_account": "CdtrAcct", "purpose": "Purp",
    "remittance_info": "RmtInf", "next_agent_instructions": "InstrForNxtAgt",
}
COVER_ELEMENTS = {"debtor": "Dbtr", "debtor_agent": "DbtrAgt", "creditor_agent": "CdtrAgt",
                  "creditor": "Cdtr", "remittance_info": "RmtInf",
                  "instructed_amount": "InstdAmt", "instructed_currency": "InstdAmt",
                  "intermediary_agent": "IntrmyAgt1", "intermediary_account": "IntrmyAgt1",
                  "next_agent_instructions": "InstrForNxtAgt"}


def empty(value: Any) -> bool:
    return value is None or value == Agent()


@needs_oracle
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=mx_pacs009)
# found by hypothesis: the receiver's address gives BIC8 back for BIC8 + XXX, the same bank
@example(msg=Pacs009(msg_id="0", created_at=NOW, settlement_method="INDA", transactions=(
    BankTransfer(end_to_end_id="0", tx_id="0", uetr=UETR, amount=1, currency="JPY",
                 settlement_date=datetime.date(2000, 1, 1), debtor=Agent(bic="AAAAAA00"),
                 creditor=Agent(bic="AAAAAA00"), instructing_agent=Agent(bic="AAAAAA00"),
                 instructed_agent=Agent(bic="AAAAAA00XXX")),)))
def test_any_pacs009_keeps_what_mt_carries_and_warns_about_the_rest(msg: Pacs009) -> None:
    tx = msg.transactions[0]
    try:
        there = pacs009_to_mt202(msg)
    except TranslationError as error:  # a creditor MT cannot name
        assert error.where is not None and "/Cdtr/" in error.where
        return
    back = mt202_to_pacs009(parse_mt(build_mt(there.message)), created_at=NOW)
    assert_valid(build_pacs009(back.message), SCHEMA)
    warnings = there.warnings + back.warnings
    back_tx = back.message.transactions[0]
    for attribute, segment in TX_ELEMENTS.items():
        before, after = short_bic(getattr(tx, attribute)), short_bic(getattr(back_tx, attribute))
        if attribute == "instr_id" and before is None:
            before, segment = tx.tx_id, "TxId"
        if before != after and not empty(before):
            assert warned_about(segment, warnings), (attribute, before, after, warnings)
    if tx.underlying is not None:
        assert back_tx.underlying is not None
        for attribute, segment in COVER_ELEMENTS.items():
            before, after = (short_bic(getattr(tx.underlying, attribute)),
                             short_bic(getattr(back_tx.underlying, attribute)))
            if before != after and not empty(before):
                assert any(f"UndrlygCstmrCdtTrf/{segment}" in w.element for w in warnings), (
                    attribute, before, after, warnings)


# ---------------------------------------------------------------- rules one by one


def mt202(**changes: Any) -> MT202:
    base = MT202(
        envelope=Envelope(sender="BKCHCNBJXXXX", receiver="CITIUS33XXXX"), uetr=UETR,
        sender_ref="FI-1", related_ref="E2E-1", value_date=datetime.date(2026, 11, 23),
        currency="USD", amount=5_000_000_00,
        beneficiary_institution=Party(option="A", account="36001234", bic="BOFAUS3N"),
    )
    return msgspec.structs.replace(base, **changes)


def test_mt202_fields_map_to_the_fi_transfer() -> None:
    msg = mt202(ordering_institution=Party(option="A", account="/CN102100099996",
                                           bic="BKCHCNBJ300"),
                intermediary=Party(option="A", bic="CHASUS33"))
    tx = mt202_to_pacs009(msg, created_at=NOW).message.transactions[0]
    assert (tx.instr_id, tx.tx_id, tx.end_to_end_id, tx.uetr) == ("FI-1", "FI-1", "E2E-1", UETR)
    assert tx.debtor == Agent(bic="BKCHCNBJ300", member_id="102100099996",
                              clearing_system="CNAPS")
    assert (tx.creditor, tx.creditor_account) == (Agent(bic="BOFAUS3N"), "36001234")
    assert tx.intermediary_agent == Agent(bic="CHASUS33")
    assert tx.next_agent_instructions == ()
    assert (tx.instructing_agent, tx.instructed_agent) == (Agent(bic="BKCHCNBJ"),
                                                           Agent(bic="CITIUS33"))


def test_cov_sequence_b_becomes_the_underlying_transfer() -> None:
    base = mt202()
    fields = {f: getattr(base, f) for f in base.__struct_fields__}
    msg = MT202COV(
        **fields,
        underlying_ordering_customer=Party(option="K", lines=("ZHANG SAN",)),
        underlying_beneficiary=Party(option="", account="987", lines=("JOHN DOE",)),
        underlying_remittance_info=("INV 7",),
        underlying_instructed_amount=Money("CNY", 3_600_000_00),
        underlying_sender_to_receiver_info=("/ACC/SAME DAY",),
        underlying_intermediary=Party(option="C", account="/FW026009593"),
    )
    result = mt202_to_pacs009(msg, created_at=NOW)
    cover = result.message.transactions[0].underlying
    assert cover == UnderlyingCustomerTransfer(
        debtor=PartyAccount(name="ZHANG SAN"), debtor_agent=Agent(bic="BKCHCNBJ"),
        creditor_agent=Agent(bic="CITIUS33"), creditor=PartyAccount(name="JOHN DOE",
                                                                     account="987"),
        remittance_info="INV 7", instructed_amount=3_600_000_00, instructed_currency="CNY",
        intermediary_agent=Agent(member_id="026009593", clearing_system="USABA"),
        next_agent_instructions=(NextAgentInstruction(info="/ACC/SAME DAY"),))
    assert result.warnings == ()
    assert_valid(build_pacs009(result.message), SCHEMA)
    back = pacs009_to_mt202(result.message)
    assert back.warnings == ()
    assert back.message == msg


def test_a_35_character_end_to_end_id_becomes_21_with_plus() -> None:
    msg = mt202_to_pacs009(mt202(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], end_to_end_id="E" * 35)
    result = pacs009_to_mt202(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.related_ref == "E" * 15 + "+"
    assert [w.field for w in result.warnings] == ["21"]


def test_remittance_of_a_plain_fi_transfer_has_no_mt202_field() -> None:
    msg = mt202_to_pacs009(mt202(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], remittance_info="FX DEAL 42")
    result = pacs009_to_mt202(msgspec.structs.replace(msg, transactions=(tx,)))
    assert [w.element.rsplit("/", 2)[-2:] for w in result.warnings] == [["RmtInf", "Ustrd"]]


def test_dispatcher_round_trip_of_mt202cov_text() -> None:
    base = mt202()
    fields = {f: getattr(base, f) for f in base.__struct_fields__}
    msg = MT202COV(**fields, underlying_ordering_customer=Party(option="K", lines=("A",)),
                   underlying_beneficiary=Party(option="", lines=("B",)))
    to_mx = mt_to_mx(build_mt(msg), created_at=NOW)
    assert_valid(to_mx.message, SCHEMA)
    assert parse_mt(mx_to_mt(to_mx.message).message) == msg


def test_a_creditor_without_bic_name_or_clearing_id_cannot_be_field_58() -> None:
    msg = mt202_to_pacs009(mt202(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], creditor=Agent(lei="5493001KJTIIGC8Y1R12"),
                                 creditor_account=None)
    with pytest.raises(TranslationError) as caught:
        pacs009_to_mt202(msgspec.structs.replace(msg, transactions=(tx,)))
    assert caught.value.where == "/Document/FICdtTrf/CdtTrfTxInf/Cdtr/FinInstnId"
