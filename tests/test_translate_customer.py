"""MT103 <-> pacs.008: round trips, XSD validity of every document written, reported losses."""

from __future__ import annotations

import datetime
import string
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from xsd_oracle import assert_valid

from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    AppHeader,
    Charge,
    CreditTransfer,
    NextAgentInstruction,
    Pacs008,
    PartyAccount,
    build_business_message,
    build_pacs008,
    parse_pacs008,
)
from messages.mt import MT103, Envelope, Money, Party, UserHeader, build_mt, parse_mt
from messages.translate import (
    DataLoss,
    TranslationError,
    mt103_to_pacs008,
    mt_to_mx,
    mx_to_mt,
    pacs008_to_mt103,
)
from messages.translate._losses import BIC, Losses
from messages.translate._model import (
    RULE_AMBIGUOUS,
    RULE_CHARSET,
    RULE_LINE_BREAKS,
    RULE_NO_CODE,
    RULE_NO_ELEMENT,
    RULE_NO_FIELD,
    RULE_TRUNCATE,
)
from messages.translate._parties import bic_of_address, customer_to_mx
from tests import test_iso20022_strategies as mxs
from tests import test_mt_roundtrip as mts

NOW = datetime.datetime(2026, 11, 22, 8, 0, tzinfo=datetime.UTC)
SCHEMA = "pacs.008.001.08"
UETR = "6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f"
X = string.ascii_letters + string.digits + "().,'+? "  # no '/', ':' or '-': they steer FIN

# ---------------------------------------------------------------- MT103s that fit pacs.008


def xtext(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(X, min_size=min_size, max_size=max_size).filter(
        lambda s: s.strip() == s and s != "NOTPROVIDED" and not BIC.fullmatch(s))


bic8_or_11 = mts.bics.filter(lambda b: not b.endswith("XXX"))
addresses = bic8_or_11.map(lambda b: b[:8] + "X" + (b[8:] or "XXX"))
clearing = st.sampled_from(["CN", "FW", "SC"]).flatmap(
    lambda code: st.text(string.digits, min_size=6, max_size=12).map(lambda d: f"/{code}{d}"))
name_lines = xtext(1, 66).map(lambda s: [s[i:i + 33] for i in range(0, len(s), 33)])


@st.composite
def structured(draw: st.DrawFn, tag: str) -> Party:
    """A canonical 50F/59F: 1/ name (wrapped at 33), 2/ address lines, 3/ country[/town]."""
    name = draw(name_lines)
    lines = ["1/" + part for part in name]
    for line in draw(st.lists(xtext(1, 33), max_size=3 - len(lines))):
        lines.append("2/" + line)
    # a town is needed after 2/ lines: a lone 3/CC would take the last 2/ line as its town
    town = draw((st.none() if len(lines) == len(name) else st.nothing()) | xtext(1, 30))
    country = draw(st.from_regex(r"[A-Z]{2}", fullmatch=True))
    lines.append(f"3/{country}" + ("" if town is None else "/" + town))
    account = draw(st.none() | mts.accounts)
    if tag == "50":
        return Party(option="F", account="/" + (account or "NOTPROVIDED"), lines=tuple(lines))
    return Party(option="F", account=account, lines=tuple(lines))


def customers(tag: str) -> st.SearchStrategy[Party]:
    unstructured = st.builds(
        Party, option=st.just("K" if tag == "50" else ""),
        account=st.none() | mts.accounts, lines=st.lists(xtext(1, 35), min_size=1,
                                                         max_size=4).map(tuple))
    with_bic = st.builds(Party, option=st.just("A"), account=st.none() | mts.accounts,
                         bic=bic8_or_11)
    return st.one_of(unstructured, with_bic, structured(tag))


def institutions(options: str) -> st.SearchStrategy[Party]:
    choices = [st.builds(Party, option=st.just("A"), account=st.none() | clearing,
                         bic=bic8_or_11),
               st.builds(Party, option=st.just("D"), account=st.none() | clearing,
                         lines=xtext(1, 35).map(lambda s: (s,)))]
    if "C" in options:
        choices.append(st.builds(Party, option=st.just("C"), account=clearing))
    return st.one_of(choices)


remittances = xtext(1, 140).map(lambda s: tuple(s[i:i + 35] for i in range(0, len(s), 35)))
positive_money = st.builds(Money, mts.currencies, st.integers(1, 10**9))
charges_money = st.builds(Money, mts.currencies, st.integers(0, 10**9))
intermediaries = st.one_of(
    institutions("ACD"),
    st.builds(Party, option=st.just("A"), account=mts.accounts, bic=bic8_or_11),
    st.builds(Party, option=st.just("C"), account=mts.accounts))


@st.composite
def instructions_72(draw: st.DrawFn) -> tuple[str, ...]:
    """Field 72 as CBPR+ writes it: each /CODE/ instruction filled to 35 before its //
    continuation lines (so it comes back line for line), at most 6 lines."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        code = draw(st.sampled_from(["PHONNEXT", "TELENEXT", "REC", "INS", "ACC", "BNF"])
                    | st.from_regex(r"[A-Z]{3,8}", fullmatch=True).filter(lambda c: c != "RETN"))
        info = draw(st.text(X + "/", max_size=140 if code[:4] in ("PHON", "TELE") else
                            140 - len(code) - 2))
        text = f"/{code}/{info}"
        chunks = [text[:35]] + [f"//{text[i:i + 33]}" for i in range(35, len(text), 33)]
        if len(lines) + len(chunks) > 6:
            break
        lines += chunks
    return tuple(lines)


fitting_mt103 = st.builds(
    MT103,
    envelope=st.builds(Envelope, sender=addresses, receiver=addresses),
    uetr=mts.uetrs, sender_ref=mts.reference, bank_operation_code=st.just("CRED"),
    value_date=mts.dates, currency=mts.currencies, amount=st.integers(1, 10**12),
    ordering_customer=customers("50"), beneficiary=customers("59"),
    charges=st.sampled_from(["OUR", "SHA", "BEN"]),
    ordering_institution=st.none() | institutions("AD"),
    account_with_institution=st.none() | institutions("ACD"),
    remittance_info=st.none() | remittances,
    instructed_amount=st.none() | positive_money,
    sender_charges=st.lists(charges_money, max_size=3).map(tuple),
    receiver_charges=st.none() | charges_money,
    intermediary=st.none() | intermediaries,
    sender_to_receiver_info=st.none() | instructions_72(),
)


def sent_back(msg: MT103) -> tuple[Pacs008, MT103, tuple[DataLoss, ...]]:
    """MT -> MX (checked against the XSD) -> MX bytes -> MT, and every warning on the way."""
    there = mt103_to_pacs008(msg, created_at=NOW)
    document = build_pacs008(there.message)
    assert_valid(document, SCHEMA)
    back = pacs008_to_mt103(parse_pacs008(document))
    assert parse_mt(build_mt(back.message)) == back.message
    return there.message, back.message, there.warnings + back.warnings


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=fitting_mt103)
def test_an_mt103_that_fits_comes_back_unchanged_without_warnings(msg: MT103) -> None:
    assume(msg.ordering_institution is None or msg.ordering_institution.bic is None
           or msg.ordering_institution.bic[:8] != msg.envelope.sender[:8])
    assume(msg.account_with_institution is None or msg.account_with_institution.bic is None
           or msg.account_with_institution.bic[:8] != msg.envelope.receiver[:8])
    assume(msg.envelope.sender[:8] != msg.envelope.receiver[:8])
    _, back, warnings = sent_back(msg)
    assert warnings == ()
    assert back == msg


# ---------------------------------------------------------------- any MT103

# Each MT103 attribute and the tag a warning about it names.
MT103_TAGS = {
    "uetr": "121", "sender_ref": "20", "bank_operation_code": "23B", "value_date": "32A",
    "currency": "32A", "amount": "32A", "ordering_customer": "50", "beneficiary": "59",
    "charges": "71A", "time_indications": "13C", "instruction_codes": "23E",
    "transaction_type": "26T", "instructed_amount": "33B", "exchange_rate": "36",
    "sending_institution": "51", "ordering_institution": "52", "senders_correspondent": "53",
    "receivers_correspondent": "54", "third_reimbursement_institution": "55",
    "intermediary": "56", "account_with_institution": "57", "remittance_info": "70",
    "sender_charges": "71F", "receiver_charges": "71G", "sender_to_receiver_info": "72",
    "regulatory_reporting": "77B",
}


def carried(attribute: str, value: Any) -> Any:
    """What of an MT103 value MX carries: field 70's text without its line breaks, a customer
    as the Dbtr/Cdtr it becomes (the letter option follows the data)."""
    if attribute == "remittance_info" and value is not None:
        return "".join(value)
    if attribute in ("ordering_customer", "beneficiary"):
        return customer_to_mx(value, MT103_TAGS[attribute], "x", Losses())
    return value


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=mts.mt103)
def test_any_mt103_keeps_every_field_that_fits_and_warns_about_the_rest(msg: MT103) -> None:
    assume(msg.amount > 0)
    for party, address in ((msg.ordering_institution, msg.envelope.sender),
                           (msg.account_with_institution, msg.envelope.receiver)):
        assume(party is None or party.bic is None or party.bic[:8] != address[:8])
    _, back, warnings = sent_back(msg)
    assert bic_of_address(back.envelope.sender) == bic_of_address(msg.envelope.sender)
    assert bic_of_address(back.envelope.receiver) == bic_of_address(msg.envelope.receiver)
    warned = {w.field[:2] if w.field[:2] != "12" else "121" for w in warnings}
    for attribute, tag in MT103_TAGS.items():
        before, after = getattr(msg, attribute), getattr(back, attribute)
        if carried(attribute, before) != carried(attribute, after):
            assert tag[:2] in warned or tag in warned, (attribute, before, after, warnings)


# ---------------------------------------------------------------- pacs.008 -> MT103 -> pacs.008

# Instructing and instructed agents mostly with a BIC an MT header can hold (MX also allows
# digits in its first four characters: those are refused, see the test below).
bic_agents = st.builds(Agent, bic=mts.bics, lei=st.none() | mxs.leis,
                       name=st.none() | mxs.text(140))
sender_charges = st.builds(Charge, amount=st.integers(0, 10**11), currency=mxs.currencies,
                           agent=st.just(Agent(bic="SENDCNBJ")))
receiver_charge = st.builds(Charge, amount=st.integers(0, 10**11), currency=mxs.currencies,
                            agent=st.just(Agent(bic="RECVUS33")))
# Mostly charges of the instructing / instructed agents below, sometimes anyone's.
mx_charges = st.one_of(
    st.tuples(st.lists(sender_charges, max_size=2), st.lists(receiver_charge, max_size=1)).map(
        lambda parts: tuple(parts[0] + parts[1])),
    st.lists(st.builds(Charge, amount=st.integers(0, 10**11), currency=mxs.currencies,
                       agent=mxs.agents()), max_size=2).map(tuple))
x_text = st.text(X + "/", min_size=1, max_size=140)
mx_instructions = st.lists(
    st.builds(NextAgentInstruction, code=st.none() | st.sampled_from(["PHOA", "TELA"]),
              info=st.none() | x_text | st.from_regex(r"/[A-Z]{3,8}/[A-Z ]{0,60}", fullmatch=True)
              | mxs.text(140)).filter(lambda i: i.code or i.info),
    max_size=3).map(tuple)


@st.composite
def mx_transfers(draw: st.DrawFn) -> CreditTransfer:
    instructed = draw(st.none() | st.tuples(st.integers(1, 10**11), mxs.currencies))
    intermediary = draw(st.none() | mxs.agents() | bic_agents)
    return CreditTransfer(
        end_to_end_id=draw(st.just("NOTPROVIDED") | mxs.ids), tx_id=draw(mxs.ids),
        uetr=draw(mxs.uetrs), amount=draw(st.integers(1, 10**11)),
        currency=draw(mxs.currencies),
        settlement_date=draw(st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31))),
        debtor=draw(mxs.parties), debtor_agent=draw(mxs.agents()), creditor=draw(mxs.parties),
        creditor_agent=draw(mxs.agents()),
        charge_bearer=draw(st.sampled_from(["DEBT", "CRED", "SHAR", "SLEV"])),
        instr_id=draw(st.none() | mxs.ids), purpose=draw(st.none() | mxs.codes4),
        remittance_info=draw(st.none() | mxs.text(140)),
        instructed_amount=None if instructed is None else instructed[0],
        instructed_currency=None if instructed is None else instructed[1],
        charges=draw(mx_charges), intermediary_agent=intermediary,
        intermediary_account=None if intermediary is None else
        draw(st.none() | mts.accounts | mxs.accounts),
        next_agent_instructions=draw(mx_instructions),
    )


mx_pacs008 = st.builds(
    Pacs008, msg_id=mxs.ids, created_at=st.just(NOW),
    transactions=mx_transfers().map(lambda tx: (tx,)),
    settlement_method=st.sampled_from(["INDA", "INDA", "INGA", "COVE", "CLRG"]),
    clearing_system=st.none() | st.just("FDW"),
    instructing_agent=st.one_of(st.just(Agent(bic="SENDCNBJ")), bic_agents, bic_agents,
                                mxs.agents()),
    instructed_agent=st.one_of(st.just(Agent(bic="RECVUS33")), bic_agents, bic_agents,
                               mxs.agents()),
)

# Each element and the path segment a warning about it names.
TX_ELEMENTS = {
    "end_to_end_id": "EndToEndId", "tx_id": "TxId", "instr_id": "InstrId", "uetr": "UETR",
    "amount": "IntrBkSttlmAmt", "currency": "IntrBkSttlmAmt", "settlement_date": "IntrBkSttlmDt",
    "debtor": "Dbtr", "debtor_agent": "DbtrAgt", "creditor": "Cdtr", "creditor_agent": "CdtrAgt",
    "charge_bearer": "ChrgBr", "purpose": "Purp", "remittance_info": "RmtInf",
    "instructed_amount": "InstdAmt", "instructed_currency": "InstdAmt", "charges": "ChrgsInf",
    "intermediary_agent": "IntrmyAgt1", "intermediary_account": "IntrmyAgt1",
    "next_agent_instructions": "InstrForNxtAgt",
}
HEAD_ELEMENTS = {"settlement_method": "SttlmMtd", "clearing_system": "ClrSys",
                 "instructing_agent": "InstgAgt", "instructed_agent": "InstdAgt"}


def warned_about(segment: str, warnings: tuple[DataLoss, ...]) -> bool:
    names = {segment, segment + "Acct"}
    return any(names & set(w.element.replace("[", "/").split("/")) for w in warnings)


def short_bic(value: Any) -> Any:
    """BICs compared without a XXX branch (BIC8 and BIC8+XXX name the same institution)."""
    if isinstance(value, Agent) and value.bic is not None and value.bic.endswith("XXX"):
        return msgspec.structs.replace(value, bic=value.bic[:8])
    return value


def has_bic(agent: Agent | None) -> bool:
    return agent is not None and agent.bic is not None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=mx_pacs008)
def test_any_pacs008_keeps_what_mt_carries_and_warns_about_the_rest(msg: Pacs008) -> None:
    assert_valid(build_pacs008(msg), SCHEMA)
    tx = msg.transactions[0]
    assume(has_bic(msg.instructing_agent) or has_bic(tx.debtor_agent))
    assume(has_bic(msg.instructed_agent) or has_bic(tx.creditor_agent))
    try:
        there = pacs008_to_mt103(msg)
    except TranslationError as error:  # a BICFI with digits in 1-4 cannot address an MT
        assert error.where is not None and error.where.endswith("/BICFI")
        return
    text = build_mt(there.message)
    back = mt103_to_pacs008(parse_mt(text), created_at=NOW)
    document = build_pacs008(back.message)
    assert_valid(document, SCHEMA)
    warnings = there.warnings + back.warnings
    back_tx = back.message.transactions[0]
    for attribute, segment in TX_ELEMENTS.items():
        before, after = short_bic(getattr(tx, attribute)), short_bic(getattr(back_tx, attribute))
        if attribute == "instr_id" and before is None:
            before, segment = tx.tx_id, "TxId"  # 20 came from TxId
        if before == Agent():
            continue  # an agent that names nobody: the MT sender or receiver stands in
        if before != after:
            assert warned_about(segment, warnings), (attribute, before, after, warnings)
    for attribute, segment in HEAD_ELEMENTS.items():
        before, after = short_bic(getattr(msg, attribute)), short_bic(getattr(back.message,
                                                                           attribute))
        if before is None or before == Agent():
            continue  # the MT sender / receiver fills an absent agent
        if before != after:
            assert warned_about(segment, warnings), (attribute, before, after, warnings)


# ---------------------------------------------------------------- rules one by one


def mt103(**changes: Any) -> MT103:
    base = MT103(
        envelope=Envelope(sender="BKCHCNBJXXXX", receiver="CITIUS33XXXX"), uetr=UETR,
        sender_ref="REF-1", bank_operation_code="CRED", value_date=datetime.date(2026, 11, 23),
        currency="USD", amount=1_000_000,
        ordering_customer=Party(option="K", account="6222020200000001",
                                lines=("ZHANG SAN", "1 CHANGAN AVE", "BEIJING")),
        beneficiary=Party(option="", account="123456789", lines=("JOHN DOE",)),
        charges="SHA",
    )
    return msgspec.structs.replace(base, **changes)


@pytest.mark.parametrize(("charges", "bearer"), [("OUR", "DEBT"), ("SHA", "SHAR"),
                                                  ("BEN", "CRED")])
def test_charges_71a_map_to_charge_bearer(charges: str, bearer: str) -> None:
    result = mt103_to_pacs008(mt103(charges=charges), created_at=NOW)
    assert result.message.transactions[0].charge_bearer == bearer
    assert pacs008_to_mt103(result.message).message.charges == charges


def test_slev_goes_out_as_sha_with_a_warning() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], charge_bearer="SLEV")
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.charges == "SHA"
    assert [(w.field, w.element.rsplit("/", 1)[-1]) for w in result.warnings] == [("71A",
                                                                                   "ChrgBr")]


def test_sender_and_receiver_become_the_agents_when_52_and_57_are_absent() -> None:
    tx = mt103_to_pacs008(mt103(), created_at=NOW).message
    assert tx.instructing_agent == tx.transactions[0].debtor_agent == Agent(bic="BKCHCNBJ")
    assert tx.instructed_agent == tx.transactions[0].creditor_agent == Agent(bic="CITIUS33")


def test_50k_59_and_70_map_to_parties_and_remittance() -> None:
    msg = mt103(remittance_info=("INVOICE 2026-0042 ", "AND 2026-0043"))
    tx = mt103_to_pacs008(msg, created_at=NOW).message.transactions[0]
    assert tx.debtor == PartyAccount(name="ZHANG SAN", account="6222020200000001",
                                     address_lines=("1 CHANGAN AVE", "BEIJING"))
    assert tx.creditor == PartyAccount(name="JOHN DOE", account="123456789")
    assert tx.remittance_info == "INVOICE 2026-0042 AND 2026-0043"


def test_50f_is_a_structured_party() -> None:
    msg = mt103(ordering_customer=Party(option="F", account="/DE89370400440532013000", lines=(
        "1/MUELLER GMBH", "2/HAUPTSTRASSE 1", "3/DE/BERLIN")))
    tx = mt103_to_pacs008(msg, created_at=NOW).message.transactions[0]
    assert tx.debtor == PartyAccount(name="MUELLER GMBH", account="DE89370400440532013000",
                                     country="DE", address_lines=("HAUPTSTRASSE 1", "BERLIN"))


def test_33b_71f_71g_56a_and_72_map_to_their_elements_and_back() -> None:
    msg = mt103(instructed_amount=Money("EUR", 950_000), charges="OUR",
                sender_charges=(Money("USD", 1500), Money("USD", 0)),
                receiver_charges=Money("USD", 1000),
                sender_to_receiver_info=("/INS/ABNANL2A", "/PHONNEXT/+86 10 1234",
                                         "/BNF/" + "B" * 30, "//" + "C" * 5),
                intermediary=Party(option="A", account="DE89370400440532013000", bic="ABNANL2A"))
    result = mt103_to_pacs008(msg, created_at=NOW)
    assert result.warnings == ()
    tx = result.message.transactions[0]
    sender, receiver = Agent(bic="BKCHCNBJ"), Agent(bic="CITIUS33")
    assert (tx.instructed_amount, tx.instructed_currency) == (950_000, "EUR")
    assert tx.charges == (Charge(1500, "USD", sender), Charge(0, "USD", sender),
                          Charge(1000, "USD", receiver))
    assert tx.intermediary_agent == Agent(bic="ABNANL2A")
    assert tx.intermediary_account == "DE89370400440532013000"
    assert tx.next_agent_instructions == (
        NextAgentInstruction(info="/INS/ABNANL2A"),
        NextAgentInstruction(code="PHOA", info="+86 10 1234"),
        NextAgentInstruction(info="/BNF/" + "B" * 30 + "C" * 5))
    document = build_pacs008(result.message)
    assert_valid(document, SCHEMA)
    for fragment in (b'<InstdAmt Ccy="EUR">9500.00</InstdAmt>',
                     b'<ChrgsInf><Amt Ccy="USD">0.00</Amt><Agt><FinInstnId><BICFI>BKCHCNBJ',
                     b"<IntrmyAgt1><FinInstnId><BICFI>ABNANL2A</BICFI></FinInstnId></IntrmyAgt1>"
                     b"<IntrmyAgt1Acct><Id><IBAN>DE89370400440532013000</IBAN>",
                     b"<InstrForNxtAgt><Cd>PHOA</Cd><InstrInf>+86 10 1234</InstrInf>"):
        assert fragment in document
    back = pacs008_to_mt103(parse_pacs008(document))
    assert back.warnings == ()
    assert back.message == msg


def test_50a_and_59a_are_parties_named_by_their_bic() -> None:
    msg = mt103(ordering_customer=Party(option="A", account="6222020200000001", bic="ZHANCNBJ"),
                beneficiary=Party(option="A", bic="DOEJUS33XXX"))
    result = mt103_to_pacs008(msg, created_at=NOW)
    tx = result.message.transactions[0]
    assert result.warnings == ()
    assert tx.debtor == PartyAccount(account="6222020200000001", bic="ZHANCNBJ")
    assert tx.creditor == PartyAccount(bic="DOEJUS33XXX")
    document = build_pacs008(result.message)
    assert_valid(document, SCHEMA)
    assert b"<Dbtr><Id><OrgId><AnyBIC>ZHANCNBJ</AnyBIC></OrgId></Id></Dbtr>" in document
    assert pacs008_to_mt103(parse_pacs008(document)).message == msg


def test_a_party_with_a_bic_and_a_name_keeps_the_bic_and_reports_the_name() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    creditor = PartyAccount(name="JOHN DOE", country="US", bic="DOEJUS33")
    tx = msgspec.structs.replace(msg.transactions[0], creditor=creditor)
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.beneficiary == Party(option="A", bic="DOEJUS33")
    assert [(w.field, w.element.split("CdtTrfTxInf/")[1]) for w in result.warnings] == [
        ("59A", "Cdtr/Nm"), ("59A", "Cdtr/PstlAdr/Ctry")]


def test_charges_of_agents_mt_cannot_name_are_reported() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    third = Agent(bic="ABNANL2A")
    tx = msgspec.structs.replace(msg.transactions[0], charges=(Charge(700, "USD", third),))
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.sender_charges == (Money("USD", 700),)
    assert [w.element.split("CdtTrfTxInf/")[1] for w in result.warnings] == ["ChrgsInf[1]/Agt"]


def test_instructions_beyond_six_lines_are_cut_with_plus_and_uncoded_ones_get_rec() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], next_agent_instructions=(
        NextAgentInstruction(info="PLEASE ADVISE"),
        NextAgentInstruction(info="/BNF/" + "X" * 135),
        NextAgentInstruction(code="TELA")))
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    lines = result.message.sender_to_receiver_info
    assert lines is not None and len(lines) == 6
    assert lines[0] == "/REC/PLEASE ADVISE"
    assert lines[1] == "/BNF/" + "X" * 30 and lines[-1].endswith("+")
    assert {w.rule for w in result.warnings} == {RULE_NO_CODE, RULE_TRUNCATE}
    assert parse_mt(build_mt(result.message)) == result.message


def test_72_line_breaks_that_do_not_come_back_are_reported() -> None:
    result = mt103_to_pacs008(mt103(sender_to_receiver_info=("/REC/SHORT", "//LINE")),
                              created_at=NOW)
    tx = result.message.transactions[0]
    assert tx.next_agent_instructions == (NextAgentInstruction(info="/REC/SHORTLINE"),)
    assert [w.rule for w in result.warnings] == [RULE_LINE_BREAKS]


def test_an_instruction_reading_as_a_return_is_not_written_first() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], next_agent_instructions=(
        NextAgentInstruction(info="/RETN/99"),))
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.sender_to_receiver_info == ("/REC//RETN/99",)
    assert [w.rule for w in result.warnings] == [RULE_AMBIGUOUS]
    assert b"pacs.008" in mt_to_mx(build_mt(result.message), created_at=NOW).message


def test_long_mx_names_and_addresses_are_truncated_with_plus() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    debtor = PartyAccount(name="N" * 140, account="1", address_lines=tuple("A" * 70
                                                                          for _ in range(5)))
    tx = msgspec.structs.replace(msg.transactions[0], debtor=debtor)
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    party = result.message.ordering_customer
    assert party.lines[0] == "N" * 34 + "+"
    assert party.lines[1:] == ("A" * 34 + "+",) * 3
    assert len(party.lines) == 4
    elements = [w.element.split("CdtTrfTxInf/")[1] for w in result.warnings]
    assert "Dbtr/Nm" in elements and "Dbtr/PstlAdr/AdrLine" in elements
    assert all(w.field == "50K" for w in result.warnings)


def test_a_140_character_remittance_fills_70_exactly_and_more_is_cut_with_a_warning() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], remittance_info="R" * 140)
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.remittance_info == ("R" * 35,) * 4  # CBPR+: lines concatenate back
    assert result.warnings == ()
    tx = msgspec.structs.replace(tx, remittance_info="/ROC/E2E-7 " + "R" * 129)
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.warnings == ()
    tx = msgspec.structs.replace(tx, remittance_info="é" + "R" * 139)
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.remittance_info is not None
    assert result.message.remittance_info[0].startswith("eR")
    assert [w.rule for w in result.warnings] == [RULE_CHARSET]


def test_chinese_names_are_reported_not_silently_lost() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0],
                                 creditor=PartyAccount(name="李四", account="1"))
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.beneficiary.lines == ("..",)
    assert [(w.field, w.rule) for w in result.warnings] == [("59", RULE_CHARSET)] * 2
    assert all(w.element.endswith("Cdtr/Nm") for w in result.warnings)


def test_a_long_instruction_id_becomes_a_16_character_reference_with_plus() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], instr_id="I" * 35)
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.sender_ref == "I" * 15 + "+"
    assert {w.rule for w in result.warnings} >= {RULE_TRUNCATE}


def test_several_transactions_cannot_become_one_mt103() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    with pytest.raises(TranslationError) as caught:
        pacs008_to_mt103(msgspec.structs.replace(msg, transactions=msg.transactions * 2))
    assert caught.value.where is not None and caught.value.where.endswith("/NbOfTxs")


def test_text_level_round_trip_through_the_dispatcher() -> None:
    text = build_mt(mt103(remittance_info=("INV 1",)))
    to_mx = mt_to_mx(text, created_at=NOW)
    assert_valid(to_mx.message, SCHEMA)
    assert to_mx.warnings == ()
    assert parse_mt(mx_to_mt(to_mx.message).message) == parse_mt(text)


def test_an_mt103_with_a_zero_amount_fails_naming_the_element() -> None:
    with pytest.raises(MessageError) as caught:
        mt_to_mx(build_mt(mt103(amount=0)), created_at=NOW)
    assert caught.value.where is not None and "IntrBkSttlmAmt" in caught.value.where


def test_a_bic_an_mt_header_cannot_hold_is_refused_naming_the_element() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    msg = msgspec.structs.replace(msg, instructing_agent=Agent(bic="1234CNBJ"))
    tx = msgspec.structs.replace(msg.transactions[0], debtor_agent=Agent(bic="1234CNBJ"))
    with pytest.raises(TranslationError) as caught:
        pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert caught.value.where == "/Document/FIToFICstmrCdtTrf/GrpHdr/InstgAgt/FinInstnId/BICFI"


def test_an_agent_bic_mt_cannot_hold_is_reported_and_the_name_used() -> None:
    msg = mt103_to_pacs008(mt103(), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0],
                                 debtor_agent=Agent(bic="1234CNBJ", name="BANK OF X"))
    result = pacs008_to_mt103(msgspec.structs.replace(msg, transactions=(tx,)))
    assert result.message.ordering_institution == Party(option="D", lines=("BANK OF X",))
    assert [w.element.rsplit("/", 2)[-2:] for w in result.warnings] == [["FinInstnId",
                                                                         "BICFI"]]


def test_what_the_envelope_holds_beyond_the_addresses_is_reported() -> None:
    envelope = Envelope(sender="BKCHCNBJXXXX", receiver="CITIUS33XXXX", priority="U",
                        user_header=UserHeader(mur="MUR-7", validation_flag="STP",
                                               service_type="001"),
                        trailer=(("PDE", ""),))
    result = mt_to_mx(build_mt(mt103(envelope=envelope)), created_at=NOW)
    assert [(w.field, w.element, w.lost) for w in result.warnings] == [
        ("block 2", "AppHdr/Prty", "'priority U'"), ("108", "AppHdr", "'MUR-7'"),
        ("119", "AppHdr", "'STP'"), ("111", "AppHdr", "'001'"),
        ("block 5", "AppHdr/PssblDplct", "'PDE:'")]
    assert {w.rule for w in result.warnings} == {RULE_NO_ELEMENT}
    plain = msgspec.structs.replace(envelope, priority="N", user_header=UserHeader(),
                                    trailer=())
    assert mt_to_mx(build_mt(mt103(envelope=plain)), created_at=NOW).warnings == ()


def test_what_an_apphdr_holds_beyond_the_bics_is_reported_and_a_duplicate_is_pde() -> None:
    document = mt_to_mx(build_mt(mt103()), created_at=NOW).message
    header = AppHeader(sender=Agent(bic="BKCHCNBJ", lei="5493001KJTIIGC8Y1R12"),
                       receiver=Agent(bic="CITIUS33"), biz_msg_id="B-1",
                       msg_def_id="pacs.008.001.08", created_at=NOW,
                       biz_service="swift.cbprplus.02", possible_duplicate=True)
    result = mx_to_mt(build_business_message(header, document))
    assert parse_mt(result.message).envelope.trailer == (("PDE", ""),)
    assert [w.element for w in result.warnings] == [
        "AppHdr/Fr/FIId", "AppHdr/BizMsgIdr", "AppHdr/BizSvc", "AppHdr/CreDt"]
    assert {w.rule for w in result.warnings} == {RULE_NO_FIELD}
