"""Usage profiles on top of the XSD (CBPR+, the CNAPS channels, CIPS): each rule refuses with
MX_RULE naming the element, at build time, and a message that keeps the rules builds valid."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_iso20022_strategies import settings_
from xsd_oracle import assert_valid

from messages.errors import MessageError
from messages.iso20022 import (
    PROFILES,
    Agent,
    CreditTransfer,
    NextAgentInstruction,
    Pacs008,
    PartyAccount,
    build_pacs008,
    check_pacs008,
    parse_pacs008,
)
from tests import test_iso20022_strategies as mxs
from tests.test_translate_customer import mx_pacs008

TX = "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]"
HDR = "/Document/FIToFICstmrCdtTrf/GrpHdr"
NOW = datetime.datetime(2026, 11, 22, 8, 0, tzinfo=datetime.UTC)
CNAPS_A = Agent(member_id="102100099996", clearing_system="CNAPS")
CNAPS_B = Agent(member_id="103100000026", clearing_system="CNAPS")
LEI_A = Agent(bic="BKCHCNBJ", lei="5493001KJTIIGC8Y1R12")
LEI_B = Agent(bic="ICBKCNBJ", lei="529900T8BM49AURSDO55")


def cnaps(**changes: Any) -> Pacs008:
    tx = CreditTransfer(
        end_to_end_id="E2E-1", tx_id="TX-1", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        amount=12345, currency="CNY", settlement_date=datetime.date(2026, 11, 23),
        debtor=PartyAccount("张三", account="6222020200000001"), debtor_agent=CNAPS_A,
        creditor=PartyAccount("李四", account="6222020200000002"), creditor_agent=CNAPS_B)
    tx = msgspec.structs.replace(tx, **{k: v for k, v in changes.items() if k != "msg"})
    msg = Pacs008(msg_id="M-1", created_at=NOW, transactions=(tx,), instructing_agent=CNAPS_A)
    return msgspec.structs.replace(msg, **changes.get("msg", {}))


def cbpr(**changes: Any) -> Pacs008:
    base = cnaps(currency="USD", debtor_agent=Agent(bic="BKCHCNBJ"),
                 creditor_agent=Agent(bic="CITIUS33"),
                 debtor=PartyAccount("ZHANG SAN", account="6222020200000001", country="CN"),
                 creditor=PartyAccount(account="123456789", bic="DOEJUS33"))
    return cnaps(**{**{f: getattr(base.transactions[0], f)
                       for f in ("currency", "debtor_agent", "creditor_agent", "debtor",
                                 "creditor")},
                    **changes,
                    "msg": {"settlement_method": "INDA", "instructing_agent": Agent(
                        bic="BKCHCNBJ"), "instructed_agent": Agent(bic="CITIUS33"),
                            **changes.get("msg", {})}})


def refused(msg: Pacs008, profile: str) -> str:
    with pytest.raises(MessageError) as caught:
        build_pacs008(msg, profile=profile)
    assert caught.value.code == "MX_RULE"
    assert caught.value.message.startswith(profile + ": ")
    assert caught.value.where is not None
    return caught.value.where


@pytest.mark.parametrize(("profile", "msg"), [
    ("IBPS", cnaps()), ("HVPS", cnaps()), ("BEPS", cnaps()),
    ("CIPS", cnaps(debtor_agent=LEI_A, creditor_agent=LEI_B)), ("CBPR+", cbpr())])
def test_a_message_that_keeps_its_profile_builds_valid(profile: str, msg: Pacs008) -> None:
    document = build_pacs008(msg, profile=profile)
    assert_valid(document, "pacs.008.001.08")
    assert parse_pacs008(document) == msg
    assert document == build_pacs008(msg)  # the rules check, they change nothing


@pytest.mark.parametrize(("profile", "msg", "where"), [
    ("IBPS", cnaps(creditor_agent=Agent(bic="ICBKCNBJ")),
     TX + "/CdtrAgt/FinInstnId/ClrSysMmbId/MmbId"),
    ("HVPS", cnaps(debtor_agent=Agent(member_id="10210009999", clearing_system="CNAPS")),
     TX + "/DbtrAgt/FinInstnId/ClrSysMmbId/MmbId"),
    ("BEPS", cnaps(msg={"instructing_agent": Agent(member_id="102100099996",
                                                   clearing_system="HVPS")}),
     HDR + "/InstgAgt/FinInstnId/ClrSysMmbId/MmbId"),
    ("IBPS", cnaps(currency="USD"), TX + "/IntrBkSttlmAmt/@Ccy"),
    ("CIPS", cnaps(debtor_agent=LEI_A), TX + "/CdtrAgt/FinInstnId/LEI"),
    ("CBPR+", cbpr(msg={"instructed_agent": None}), HDR + "/InstdAgt/FinInstnId/BICFI"),
    ("CBPR+", cbpr(msg={"instructing_agent": CNAPS_A}), HDR + "/InstgAgt/FinInstnId/BICFI"),
    ("CBPR+", cbpr(msg={"settlement_method": "CLRG"}), HDR + "/SttlmInf/SttlmMtd"),
    ("CBPR+", cbpr(msg={"msg_id": "/M-1"}), HDR + "/MsgId"),
    ("CBPR+", cbpr(end_to_end_id="E2E//1"), TX + "/PmtId/EndToEndId"),
    ("CBPR+", cbpr(tx_id="TX_1"), TX + "/PmtId/TxId"),
    ("CBPR+", cbpr(creditor=PartyAccount("JOHN DOE", account="1")), TX + "/Cdtr/PstlAdr"),
    ("CBPR+", cbpr(debtor=PartyAccount("张三", country="CN")), TX + "/Dbtr/Nm"),
    ("CBPR+", cbpr(debtor=PartyAccount("ZHANG", address_lines=("A", "北京"))),
     TX + "/Dbtr/PstlAdr/AdrLine[2]"),
    ("CBPR+", cbpr(remittance_info="发票 1"), TX + "/RmtInf/Ustrd"),
    ("CBPR+", cbpr(creditor_agent=Agent(bic="CITIUS33", name="花旗")),
     TX + "/CdtrAgt/FinInstnId/Nm"),
    ("CBPR+", cbpr(next_agent_instructions=(NextAgentInstruction(info="/REC/é"),)),
     TX + "/InstrForNxtAgt[1]/InstrInf"),
])
def test_each_rule_refuses_naming_the_element(profile: str, msg: Pacs008, where: str) -> None:
    assert refused(msg, profile) == where


def test_cbpr_carries_one_transaction_per_message() -> None:
    msg = cbpr()
    msg = msgspec.structs.replace(msg, transactions=msg.transactions * 2)
    assert refused(msg, "CBPR+") == HDR + "/NbOfTxs"


def test_an_unknown_profile_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="CBPR"):
        check_pacs008(cnaps(), "SEPA")


latin = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                max_size=70)
restricted_ids = st.from_regex(r"[0-9a-zA-Z\-?:().,'+ ]{1,16}(/[0-9a-zA-Z]{1,16})?",
                               fullmatch=True)
bic_agents = st.builds(Agent, bic=mxs.bics)
cbpr_agents = st.builds(Agent, bic=st.none() | mxs.bics, name=st.none() | latin)
cbpr_parties = st.one_of(
    st.builds(PartyAccount, account=st.none() | mxs.accounts.filter(str.isascii),
              bic=mxs.bics),
    st.builds(PartyAccount, name=latin, country=st.from_regex(r"[A-Z]{2}", fullmatch=True),
              address_lines=st.lists(latin, max_size=3).map(tuple)))
cbpr_messages = st.builds(
    Pacs008, msg_id=restricted_ids, created_at=st.just(NOW),
    settlement_method=st.sampled_from(["INDA", "INGA", "COVE"]),
    instructing_agent=bic_agents, instructed_agent=bic_agents,
    transactions=st.builds(
        CreditTransfer, end_to_end_id=restricted_ids, tx_id=restricted_ids, uetr=mxs.uetrs,
        amount=mxs.amounts, currency=mxs.currencies, settlement_date=mxs.dates,
        debtor=cbpr_parties, debtor_agent=cbpr_agents, creditor=cbpr_parties,
        creditor_agent=cbpr_agents, instr_id=st.none() | restricted_ids,
        remittance_info=st.none() | latin).map(lambda tx: (tx,)))


@settings_
@given(cbpr_messages)
def test_a_message_drawn_within_cbpr_rules_passes_and_builds_valid(msg: Pacs008) -> None:
    document = build_pacs008(msg, profile="CBPR+")
    assert_valid(document, "pacs.008.001.08")
    assert parse_pacs008(document) == msg


@settings_
@given(mx_pacs008)
def test_any_message_is_either_refused_by_a_named_rule_or_valid(msg: Pacs008) -> None:
    try:
        check_pacs008(msg, "CBPR+")
    except MessageError as error:
        assert error.code == "MX_RULE" and error.where is not None
        assert error.where.startswith("/Document/FIToFICstmrCdtTrf/")
        return
    assert_valid(build_pacs008(msg, profile="CBPR+"), "pacs.008.001.08")


def test_every_profile_is_data() -> None:
    assert set(PROFILES) == {"CBPR+", "HVPS", "BEPS", "IBPS", "CIPS"}
    assert all(profile.name == key for key, profile in PROFILES.items())
