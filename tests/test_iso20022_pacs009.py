"""pacs.009 (incl. COV) codec: XSD-valid round trips and errors that name the element."""

from __future__ import annotations

import datetime
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_iso20022_strategies import (
    accounts,
    agents,
    amounts,
    aware,
    codes4,
    currencies,
    dates,
    ids,
    next_agent_instructions,
    parties,
    settings_,
    text,
    uetrs,
)
from xsd_oracle import assert_valid

from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    BankTransfer,
    Pacs009,
    PartyAccount,
    UnderlyingCustomerTransfer,
    build_pacs009,
    message_name,
    parse_pacs009,
)

NAME = "pacs.009.001.08"
TX = "/Document/FICdtTrf/CdtTrfTxInf"
HDR = "/Document/FICdtTrf/GrpHdr"


@st.composite
def covers(draw: st.DrawFn) -> UnderlyingCustomerTransfer:
    instructed = draw(st.booleans())
    intermediary = draw(st.none() | agents())
    return UnderlyingCustomerTransfer(
        debtor=draw(parties), debtor_agent=draw(agents()), creditor_agent=draw(agents()),
        creditor=draw(parties), remittance_info=draw(st.none() | text(140)),
        instructed_amount=draw(amounts) if instructed else None,
        instructed_currency=draw(currencies) if instructed else None,
        intermediary_agent=intermediary,
        intermediary_account=None if intermediary is None else draw(st.none() | accounts),
        next_agent_instructions=draw(next_agent_instructions),
    )


@st.composite
def transfers(draw: st.DrawFn) -> BankTransfer:
    intermediary = draw(st.none() | agents())
    return BankTransfer(
        end_to_end_id=draw(ids), tx_id=draw(ids), uetr=draw(uetrs), amount=draw(amounts),
        currency=draw(currencies), settlement_date=draw(dates), debtor=draw(agents()),
        creditor=draw(agents()), debtor_agent=draw(st.none() | agents()),
        creditor_agent=draw(st.none() | agents()),
        instructing_agent=draw(st.none() | agents()),
        instructed_agent=draw(st.none() | agents()), intermediary_agent=intermediary,
        intermediary_account=None if intermediary is None else draw(st.none() | accounts),
        debtor_account=draw(st.none() | accounts), creditor_account=draw(st.none() | accounts),
        instr_id=draw(st.none() | ids), purpose=draw(st.none() | codes4),
        remittance_info=draw(st.none() | text(140)), underlying=draw(st.none() | covers()),
        next_agent_instructions=draw(next_agent_instructions),
    )

messages = st.builds(
    Pacs009,
    msg_id=ids, created_at=aware,
    transactions=st.lists(transfers(), min_size=1, max_size=3).map(tuple),
    settlement_method=st.sampled_from(["INDA", "INGA", "COVE", "CLRG"]),
    clearing_system=st.none() | st.sampled_from(["CHI", "FDW", "TGT", "CIPS", "HVPS"]) | ids,
)


@settings_
@given(messages)
def test_round_trip(msg: Pacs009) -> None:
    data = build_pacs009(msg)
    assert_valid(data, NAME)
    assert parse_pacs009(data) == msg
    assert message_name(data) == NAME


# ---------------------------------------------------------------- fixtures

UTC = datetime.UTC
ICBC = Agent(bic="ICBKCNBJXXX", member_id="102100099996", clearing_system="CNAPS")
CITI = Agent(bic="CITIUS33XXX", lei="E57ODZWZ7FF32TWEFA76")
COVER = UnderlyingCustomerTransfer(
    debtor=PartyAccount(name="张三 <&> Co", account="6222020200000001", country="CN"),
    debtor_agent=ICBC,
    creditor_agent=Agent(bic="BOFAUS3NXXX"),
    creditor=PartyAccount(name="John & Jane", account="GB82WEST12345698765432"),
    remittance_info="INV 1 < 2",
    instructed_amount=1005, instructed_currency="KWD",
)


def transfer(**changes: object) -> BankTransfer:
    base = BankTransfer(
        end_to_end_id="E2E-1", tx_id="TX-1", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        amount=12345, currency="CNY", settlement_date=datetime.date(2024, 5, 6),
        debtor=ICBC, creditor=CITI, instructing_agent=ICBC, instructed_agent=CITI,
    )
    return msgspec.structs.replace(base, **changes)


def pacs009(*transactions: BankTransfer, **changes: object) -> Pacs009:
    base = Pacs009(msg_id="B-1", created_at=datetime.datetime(2024, 5, 6, 9, 30, tzinfo=UTC),
                   transactions=transactions or (transfer(),), settlement_method="INDA")
    return msgspec.structs.replace(base, **changes)


def test_cover_document_shape() -> None:
    msg = pacs009(transfer(underlying=COVER, debtor_account="CNY-NOSTRO-1"))
    data = build_pacs009(msg)
    assert_valid(data, NAME)
    assert b"<Dbtr><FinInstnId><BICFI>ICBKCNBJXXX</BICFI>" in data
    assert b"<DbtrAcct><Id><Othr><Id>CNY-NOSTRO-1</Id></Othr></Id></DbtrAcct>" in data
    assert "<UndrlygCstmrCdtTrf><Dbtr><Nm>张三 &lt;&amp;&gt; Co</Nm>".encode() in data
    assert b"<CdtrAcct><Id><IBAN>GB82WEST12345698765432</IBAN></Id></CdtrAcct>" in data
    assert b'<InstdAmt Ccy="KWD">1.005</InstdAmt></UndrlygCstmrCdtTrf>' in data
    assert parse_pacs009(data) == msg


@pytest.mark.parametrize(("currency", "minor", "decimal"),
                         [("JPY", 1000, "1000"), ("CNY", 1000, "10.00"), ("KWD", 1000, "1.000")])
def test_amount_exponents(currency: str, minor: int, decimal: str) -> None:
    data = build_pacs009(pacs009(transfer(amount=minor, currency=currency)))
    assert f'<IntrBkSttlmAmt Ccy="{currency}">{decimal}</IntrBkSttlmAmt>'.encode() in data
    assert parse_pacs009(data).transactions[0].amount == minor


# ---------------------------------------------------------------- build errors

UNDER = f"{TX}[1]/UndrlygCstmrCdtTrf"


@pytest.mark.parametrize(
    ("msg", "code", "where"),
    [
        (pacs009(msg_id="M" * 36), "MX_BAD_VALUE", f"{HDR}/MsgId"),
        (pacs009(created_at=datetime.datetime(2024, 5, 6)), "MX_BAD_VALUE", f"{HDR}/CreDtTm"),
        (pacs009(settlement_method="COV"), "MX_BAD_VALUE", f"{HDR}/SttlmInf/SttlmMtd"),
        (pacs009(clearing_system=""), "MX_BAD_VALUE", f"{HDR}/SttlmInf/ClrSys/Prtry"),
        (pacs009(transactions=()), "MX_MISSING_ELEMENT", TX),
        (pacs009(transfer(), transfer(uetr="not-a-uetr")), "MX_BAD_VALUE",
         f"{TX}[2]/PmtId/UETR"),
        (pacs009(transfer(tx_id="T" * 36)), "MX_BAD_VALUE", f"{TX}[1]/PmtId/TxId"),
        (pacs009(transfer(currency="XAU")), "UNKNOWN_CURRENCY", f"{TX}[1]/IntrBkSttlmAmt/@Ccy"),
        (pacs009(transfer(amount=0)), "BAD_AMOUNT", f"{TX}[1]/IntrBkSttlmAmt"),
        (pacs009(transfer(amount=1.5)), "BAD_AMOUNT", f"{TX}[1]/IntrBkSttlmAmt"),
        (pacs009(transfer(settlement_date=datetime.datetime(2024, 5, 6, tzinfo=UTC))),
         "MX_BAD_VALUE", f"{TX}[1]/IntrBkSttlmDt"),
        (pacs009(transfer(debtor=Agent(bic="ICBK"))), "MX_BAD_VALUE",
         f"{TX}[1]/Dbtr/FinInstnId/BICFI"),
        (pacs009(transfer(creditor=Agent(clearing_system="CNAPS"))), "MX_MISSING_ELEMENT",
         f"{TX}[1]/Cdtr/FinInstnId/ClrSysMmbId/MmbId"),
        (pacs009(transfer(intermediary_agent=Agent(lei="x"))), "MX_BAD_VALUE",
         f"{TX}[1]/IntrmyAgt1/FinInstnId/LEI"),
        (pacs009(transfer(creditor_account="9" * 35)), "MX_BAD_VALUE",
         f"{TX}[1]/CdtrAcct/Id/Othr/Id"),
        (pacs009(transfer(purpose="INTERBANK")), "MX_BAD_VALUE", f"{TX}[1]/Purp/Cd"),
        (pacs009(transfer(underlying=msgspec.structs.replace(
            COVER, debtor=PartyAccount(name="x" * 141)))), "MX_BAD_VALUE", f"{UNDER}/Dbtr/Nm"),
        (pacs009(transfer(underlying=msgspec.structs.replace(
            COVER, creditor_agent=Agent(bic="bofaus3n")))), "MX_BAD_VALUE",
         f"{UNDER}/CdtrAgt/FinInstnId/BICFI"),
        (pacs009(transfer(underlying=msgspec.structs.replace(
            COVER, creditor=PartyAccount(name="x", address_lines=("a",) * 8)))),
         "MX_BAD_VALUE", f"{UNDER}/Cdtr/PstlAdr/AdrLine"),
        (pacs009(transfer(underlying=msgspec.structs.replace(COVER, instructed_currency=None))),
         "MX_MISSING_ELEMENT", f"{UNDER}/InstdAmt"),
        (pacs009(transfer(underlying=msgspec.structs.replace(COVER, instructed_amount=-1))),
         "BAD_AMOUNT", f"{UNDER}/InstdAmt"),
    ],
)
def test_build_refuses_invalid_values(msg: Pacs009, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        build_pacs009(msg)
    assert (info.value.code, info.value.where) == (code, where)


# ---------------------------------------------------------------- parse errors


def mutate(pattern: str, replacement: str) -> bytes:
    data = build_pacs009(pacs009(transfer(underlying=COVER))).decode()
    changed = re.sub(pattern, replacement, data, count=1)
    assert changed != data
    return changed.encode()


@pytest.mark.parametrize(
    ("data", "code", "where"),
    [
        (mutate(r">123\.45<", ">123.456<"), "BAD_AMOUNT", f"{TX}[1]/IntrBkSttlmAmt"),
        (mutate(r'Ccy="CNY"', 'Ccy="ABC"'), "UNKNOWN_CURRENCY", f"{TX}[1]/IntrBkSttlmAmt/@Ccy"),
        (mutate(r"<TxId>TX-1</TxId>", ""), "MX_MISSING_ELEMENT", f"{TX}[1]/PmtId/TxId"),
        (mutate(r"<UETR>[^<]*</UETR>", ""), "MX_MISSING_ELEMENT", f"{TX}[1]/PmtId/UETR"),
        (mutate(r"<NbOfTxs>1<", "<NbOfTxs>3<"), "MX_BAD_VALUE", f"{HDR}/NbOfTxs"),
        (mutate(r"<SttlmMtd>INDA<", "<SttlmMtd>XXXX<"), "MX_BAD_VALUE",
         f"{HDR}/SttlmInf/SttlmMtd"),
        (mutate(r"<Dbtr><FinInstnId>.*?</Dbtr>", ""), "MX_MISSING_ELEMENT", f"{TX}[1]/Dbtr"),
        (mutate(r"<BICFI>CITIUS33XXX", "<BICFI>citius33"), "MX_BAD_VALUE",
         f"{TX}[1]/InstdAgt/FinInstnId/BICFI"),
        (mutate(r"<IBAN>GB82", "<IBAN>GB00"), "MX_BAD_VALUE",
         f"{UNDER}/CdtrAcct/Id/IBAN"),
        (mutate(r"<UndrlygCstmrCdtTrf><Dbtr><Nm>[^<]*</Nm>", "<UndrlygCstmrCdtTrf><Dbtr>"),
         "MX_MISSING_ELEMENT", f"{UNDER}/Dbtr/Nm"),
        (mutate(r'<InstdAmt Ccy="KWD">1\.005<', '<InstdAmt Ccy="KWD">1.0051<'), "BAD_AMOUNT",
         f"{UNDER}/InstdAmt"),
        (mutate(r"(<UndrlygCstmrCdtTrf>.*?)<CdtrAgt>.*?</CdtrAgt>", r"\1"),
         "MX_MISSING_ELEMENT", f"{UNDER}/CdtrAgt"),
        (mutate(r"pacs\.009", "pacs.008"), "MX_WRONG_MESSAGE", "/"),
    ],
)
def test_parse_errors_name_the_element(data: bytes, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_pacs009(data)
    assert (info.value.code, info.value.where) == (code, where)


def test_hostile_input_is_refused() -> None:
    bomb = (b'<!DOCTYPE d [<!ENTITY a "aaaa">]><Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
            b'pacs.009.001.08"><FICdtTrf>&a;</FICdtTrf></Document>')
    for data, code in [(bomb, "MX_DTD_FORBIDDEN"), (b"<Document", "MX_MALFORMED"),
                       (b" " * (2 << 20), "MX_TOO_LARGE")]:
        with pytest.raises(MessageError) as info:
            parse_pacs009(data)
        assert info.value.code == code
