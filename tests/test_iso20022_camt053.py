"""camt.053 statement codec: XSD-valid round trips, statement arithmetic, and errors that name
the element."""

from __future__ import annotations

import datetime
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_iso20022_strategies import (
    aware,
    currencies,
    dates_or_times,
    entries,
    ids,
    indicators,
    report,
    settings_,
)
from xsd_oracle import assert_valid

from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    Balance,
    BankTransactionCode,
    Camt053,
    Entry,
    EntryTransaction,
    PartyAccount,
    Statement,
    build_camt053,
    message_name,
    parse_camt053,
)

NAME = "camt.053.001.08"
STMT = "/Document/BkToCstmrStmt/Stmt"
HDR = "/Document/BkToCstmrStmt/GrpHdr"

balances = st.builds(
    Balance,
    type=st.sampled_from(["OPBD", "CLBD", "CLAV", "ITBD", "PRCD"]),
    amount=st.integers(0, 10**15), currency=currencies, credit_debit=indicators,
    date=dates_or_times,
)


@st.composite
def statements(draw: st.DrawFn) -> Statement:
    return report(draw, Statement,
                  balances=st.lists(balances, min_size=1, max_size=4).map(tuple),
                  entries=st.lists(entries, max_size=4).map(tuple))


messages = st.builds(
    Camt053, msg_id=ids, created_at=aware,
    statements=st.lists(statements(), min_size=1, max_size=2).map(tuple),
)


@settings_
@given(messages)
def test_round_trip(msg: Camt053) -> None:
    data = build_camt053(msg)
    assert_valid(data, NAME)
    assert parse_camt053(data) == msg
    assert message_name(data) == NAME


# ---------------------------------------------------------------- a known statement

UTC = datetime.UTC
DAY = datetime.date(2024, 5, 6)
CNAPS = Agent(member_id="102100099996", clearing_system="CNAPS", name="中国工商银行")
PAYMENT = EntryTransaction(
    end_to_end_id="E2E-1", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f", tx_id="TX-1",
    amount=12345, currency="CNY", credit_debit="DBIT",
    debtor=PartyAccount(name="张三 & 李四", account="6222020200000001"),
    creditor=PartyAccount(name="王五 <Ltd>", account="GB82WEST12345698765432", country="GB"),
    creditor_agent=Agent(bic="BARCGB22XXX"), remittance_info="货款 INV-1",
)


def entry(**changes: object) -> Entry:
    base = Entry(
        amount=12345, currency="CNY", credit_debit="DBIT", booking_date=DAY, value_date=DAY,
        reference="N-1", servicer_ref="HVPS-0001",
        bank_tx_code=BankTransactionCode("PMNT", "ICDT", "XBCT", proprietary="hvps.111",
                                         issuer="CNAPS"),
        transactions=(PAYMENT,),
    )
    return msgspec.structs.replace(base, **changes)


def statement(**changes: object) -> Statement:
    base = Statement(
        id="STMT-20240506", account="6222020200000009", account_currency="CNY",
        account_servicer=CNAPS, sequence_number=128, page_number=1, last_page=True,
        created_at=datetime.datetime(2024, 5, 6, 17, 30, tzinfo=UTC),
        balances=(Balance("OPBD", 100000, "CNY", "CRDT", DAY),
                  Balance("CLBD", 87655, "CNY", "CRDT", DAY)),
        entries=(entry(),),
    )
    return msgspec.structs.replace(base, **changes)


def camt053(*statements: Statement, **changes: object) -> Camt053:
    base = Camt053(msg_id="S-1", created_at=datetime.datetime(2024, 5, 6, 17, 31, tzinfo=UTC),
                   statements=statements or (statement(),))
    return msgspec.structs.replace(base, **changes)


def test_document_shape() -> None:
    data = build_camt053(camt053())
    assert_valid(data, NAME)
    assert b"<Id>STMT-20240506</Id><StmtPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd>" in data
    assert b"<ElctrncSeqNb>128</ElctrncSeqNb>" in data
    assert b"<Acct><Id><Othr><Id>6222020200000009</Id></Othr></Id><Ccy>CNY</Ccy><Svcr>" in data
    assert (b'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">1000.00</Amt>'
            b"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-05-06</Dt></Dt></Bal>") in data
    assert (b'<Ntry><NtryRef>N-1</NtryRef><Amt Ccy="CNY">123.45</Amt>'
            b"<CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
            b"<BookgDt><Dt>2024-05-06</Dt></BookgDt><ValDt><Dt>2024-05-06</Dt></ValDt>") in data
    assert (b"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>XBCT</SubFmlyCd></Fmly>"
            b"</Domn><Prtry><Cd>hvps.111</Cd><Issr>CNAPS</Issr></Prtry></BkTxCd>") in data
    assert (b"<Refs><EndToEndId>E2E-1</EndToEndId>"
            b"<UETR>6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f</UETR><TxId>TX-1</TxId></Refs>") in data
    assert "<RltdPties><Dbtr><Pty><Nm>张三 &amp; 李四</Nm></Pty></Dbtr>".encode() in data
    assert b"<CdtrAcct><Id><IBAN>GB82WEST12345698765432</IBAN></Id></CdtrAcct>" in data
    assert parse_camt053(data) == camt053()


def test_zero_balance_and_date_times() -> None:
    at = datetime.datetime(2024, 5, 6, 17, 30, tzinfo=datetime.timezone(datetime.timedelta(
        hours=8)))
    msg = camt053(statement(balances=(Balance("CLBD", 0, "JPY", "CRDT", at),),
                            entries=(entry(currency="KWD", amount=1, booking_date=at,
                                           bank_tx_code=None, transactions=()),)))
    data = build_camt053(msg)
    assert_valid(data, NAME)
    assert b'<Amt Ccy="JPY">0</Amt>' in data
    assert b"<Dt><DtTm>2024-05-06T17:30:00+08:00</DtTm></Dt>" in data
    assert b'<Amt Ccy="KWD">0.001</Amt>' in data
    assert b"<BkTxCd/>" in data
    assert parse_camt053(data) == msg


def test_balanced_statement() -> None:
    assert statement().balanced()
    assert not statement(entries=(entry(amount=12344),)).balanced()
    # A pending entry does not move the booked balance.
    assert statement(entries=(entry(), entry(status="PDNG", amount=5))).balanced()
    overdrawn = statement(balances=(Balance("OPBD", 100, "CNY", "CRDT", DAY),
                                    Balance("CLBD", 12245, "CNY", "DBIT", DAY)))
    assert overdrawn.balanced()
    assert not statement(balances=statement().balances[:1]).balanced()


# ---------------------------------------------------------------- build errors

S1 = f"{STMT}[1]"
E1 = f"{S1}/Ntry[1]"
TX1 = f"{E1}/NtryDtls/TxDtls[1]"


@pytest.mark.parametrize(
    ("msg", "code", "where"),
    [
        (camt053(msg_id=""), "MX_BAD_VALUE", f"{HDR}/MsgId"),
        (camt053(created_at=datetime.datetime(2024, 5, 6)), "MX_BAD_VALUE", f"{HDR}/CreDtTm"),
        (camt053(statements=()), "MX_MISSING_ELEMENT", STMT),
        (camt053(statement(), statement(id="X" * 36)), "MX_BAD_VALUE", f"{STMT}[2]/Id"),
        (camt053(statement(balances=())), "MX_MISSING_ELEMENT", f"{S1}/Bal"),
        (camt053(statement(account="")), "MX_BAD_VALUE", f"{S1}/Acct/Id/Othr/Id"),
        (camt053(statement(account_currency="RMB")), "UNKNOWN_CURRENCY", f"{S1}/Acct/Ccy"),
        (camt053(statement(account_servicer=Agent(bic="x"))), "MX_BAD_VALUE",
         f"{S1}/Acct/Svcr/FinInstnId/BICFI"),
        (camt053(statement(sequence_number=-1)), "MX_BAD_VALUE", f"{S1}/ElctrncSeqNb"),
        (camt053(statement(page_number=100000)), "MX_BAD_VALUE", f"{S1}/StmtPgntn/PgNb"),
        (camt053(statement(from_time=datetime.datetime(2024, 5, 6, tzinfo=UTC))),
         "MX_MISSING_ELEMENT", f"{S1}/FrToDt"),
        (camt053(statement(from_time=datetime.datetime(2024, 5, 6),
                           to_time=datetime.datetime(2024, 5, 6, tzinfo=UTC))),
         "MX_BAD_VALUE", f"{S1}/FrToDt/FrDtTm"),
        (camt053(statement(balances=(Balance("OPENING", 1, "CNY", "CRDT", DAY),))),
         "MX_BAD_VALUE", f"{S1}/Bal[1]/Tp/CdOrPrtry/Cd"),
        (camt053(statement(balances=(Balance("OPBD", 1, "CNY", "CR", DAY),))),
         "MX_BAD_VALUE", f"{S1}/Bal[1]/CdtDbtInd"),
        (camt053(statement(balances=(Balance("OPBD", 0, "CNY", "CRDT", DAY),
                                     Balance("CLBD", -1, "CNY", "DBIT", DAY)))),
         "BAD_AMOUNT", f"{S1}/Bal[2]/Amt"),
        (camt053(statement(balances=(Balance("OPBD", 0, "XAU", "CRDT", DAY),))),
         "UNKNOWN_CURRENCY", f"{S1}/Bal[1]/Amt/@Ccy"),
        (camt053(statement(balances=(Balance("OPBD", 0, "CNY", "CRDT",
                                             datetime.datetime(2024, 5, 6)),))),
         "MX_BAD_VALUE", f"{S1}/Bal[1]/Dt/DtTm"),
        (camt053(statement(balances=(Balance("OPBD", 0, "CNY", "CRDT", "2024-05-06"),))),  # type: ignore[arg-type]
         "MX_BAD_VALUE", f"{S1}/Bal[1]/Dt/Dt"),
        (camt053(statement(entries=(entry(), entry(amount=0)))), "BAD_AMOUNT",
         f"{S1}/Ntry[2]/Amt"),
        (camt053(statement(entries=(entry(credit_debit="C"),))), "MX_BAD_VALUE",
         f"{E1}/CdtDbtInd"),
        (camt053(statement(entries=(entry(status="BOOKED"),))), "MX_BAD_VALUE", f"{E1}/Sts/Cd"),
        (camt053(statement(entries=(entry(reversal=1),))), "MX_BAD_VALUE", f"{E1}/RvslInd"),
        (camt053(statement(entries=(entry(value_date=datetime.datetime(2024, 5, 6)),))),
         "MX_BAD_VALUE", f"{E1}/ValDt/DtTm"),
        (camt053(statement(entries=(entry(reference="R" * 36),))), "MX_BAD_VALUE",
         f"{E1}/NtryRef"),
        (camt053(statement(entries=(entry(bank_tx_code=BankTransactionCode("PMNT")),))),
         "MX_MISSING_ELEMENT", f"{E1}/BkTxCd/Domn"),
        (camt053(statement(entries=(entry(bank_tx_code=BankTransactionCode()),))),
         "MX_MISSING_ELEMENT", f"{E1}/BkTxCd/Domn"),
        (camt053(statement(entries=(entry(bank_tx_code=BankTransactionCode(issuer="X")),))),
         "MX_MISSING_ELEMENT", f"{E1}/BkTxCd/Prtry/Cd"),
        (camt053(statement(entries=(entry(additional_info="i" * 501),))), "MX_BAD_VALUE",
         f"{E1}/AddtlNtryInf"),
        (camt053(statement(entries=(entry(transactions=(
            PAYMENT, msgspec.structs.replace(PAYMENT, uetr="x"))),))), "MX_BAD_VALUE",
         f"{E1}/NtryDtls/TxDtls[2]/Refs/UETR"),
        (camt053(statement(entries=(entry(transactions=(
            msgspec.structs.replace(PAYMENT, currency=None),)),))), "MX_MISSING_ELEMENT",
         f"{TX1}/Amt"),
        (camt053(statement(entries=(entry(transactions=(
            msgspec.structs.replace(PAYMENT, debtor=PartyAccount(name="")),)),))),
         "MX_BAD_VALUE", f"{TX1}/RltdPties/Dbtr/Pty/Nm"),
        (camt053(statement(entries=(entry(transactions=(
            msgspec.structs.replace(PAYMENT, creditor=PartyAccount(name="x", country="gb")),)),))),
         "MX_BAD_VALUE", f"{TX1}/RltdPties/Cdtr/Pty/PstlAdr/Ctry"),
        (camt053(statement(entries=(entry(transactions=(
            msgspec.structs.replace(PAYMENT, creditor_agent=Agent(lei="1")),)),))),
         "MX_BAD_VALUE", f"{TX1}/RltdAgts/CdtrAgt/FinInstnId/LEI"),
        (camt053(statement(entries=(entry(transactions=(
            msgspec.structs.replace(PAYMENT, remittance_info="r" * 141),)),))),
         "MX_BAD_VALUE", f"{TX1}/RmtInf/Ustrd"),
    ],
)
def test_build_refuses_invalid_values(msg: Camt053, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        build_camt053(msg)
    assert (info.value.code, info.value.where) == (code, where)


# ---------------------------------------------------------------- parse errors


def mutate(pattern: str, replacement: str) -> bytes:
    data = build_camt053(camt053()).decode()
    changed = re.sub(pattern, replacement, data, count=1)
    assert changed != data
    return changed.encode()


@pytest.mark.parametrize(
    ("data", "code", "where"),
    [
        (mutate(r"<Stmt>.*</Stmt>", ""), "MX_MISSING_ELEMENT", STMT),
        (mutate(r"<Bal>.*</Bal>", ""), "MX_MISSING_ELEMENT", f"{S1}/Bal"),
        (mutate(r"<Acct>.*?</Acct>", ""), "MX_MISSING_ELEMENT", f"{S1}/Acct"),
        (mutate(r"<Ccy>CNY</Ccy>", "<Ccy>ABC</Ccy>"), "UNKNOWN_CURRENCY", f"{S1}/Acct/Ccy"),
        (mutate(r"<LastPgInd>true<", "<LastPgInd>yes<"), "MX_BAD_VALUE",
         f"{S1}/StmtPgntn/LastPgInd"),
        (mutate(r"<ElctrncSeqNb>128<", "<ElctrncSeqNb>12.8<"), "MX_BAD_VALUE",
         f"{S1}/ElctrncSeqNb"),
        (mutate(r"<Cd>OPBD</Cd>", "<Prtry>OPEN</Prtry>"), "MX_MISSING_ELEMENT",
         f"{S1}/Bal[1]/Tp/CdOrPrtry/Cd"),
        (mutate(r">1000\.00<", ">-1000.00<"), "BAD_AMOUNT", f"{S1}/Bal[1]/Amt"),
        (mutate(r"<CdtDbtInd>CRDT<", "<CdtDbtInd>CR<"), "MX_BAD_VALUE", f"{S1}/Bal[1]/CdtDbtInd"),
        (mutate(r"<Dt><Dt>2024-05-06</Dt></Dt>", "<Dt/>"), "MX_MISSING_ELEMENT",
         f"{S1}/Bal[1]/Dt/Dt"),
        (mutate(r"<Dt><Dt>2024-05-06</Dt></Dt>", "<Dt><DtTm>2024-05-06T10:00:00</DtTm></Dt>"),
         "MX_BAD_VALUE", f"{S1}/Bal[1]/Dt/DtTm"),
        (mutate(r">123\.45<", ">123.456<"), "BAD_AMOUNT", f"{E1}/Amt"),
        (mutate(r"<Sts><Cd>BOOK</Cd></Sts>", ""), "MX_MISSING_ELEMENT", f"{E1}/Sts"),
        (mutate(r"<BookgDt><Dt>2024-05-06", "<BookgDt><Dt>2024-13-06"), "MX_BAD_VALUE",
         f"{E1}/BookgDt/Dt"),
        (mutate(r"<BkTxCd>.*?</BkTxCd>", ""), "MX_MISSING_ELEMENT", f"{E1}/BkTxCd"),
        (mutate(r"<SubFmlyCd>XBCT</SubFmlyCd>", ""), "MX_MISSING_ELEMENT",
         f"{E1}/BkTxCd/Domn/Fmly/SubFmlyCd"),
        (mutate(r"<Sts>", "<RvslInd>maybe</RvslInd><Sts>"), "MX_BAD_VALUE", f"{E1}/RvslInd"),
        (mutate(r"<UETR>6f0f", "<UETR>zz0f"), "MX_BAD_VALUE", f"{TX1}/Refs/UETR"),
        (mutate(r"<Dbtr><Pty>(.*?)</Pty>", r"<Dbtr><Agt>\1</Agt>"), "MX_MISSING_ELEMENT",
         f"{TX1}/RltdPties/Dbtr/Pty"),
        (mutate(r"<IBAN>GB82", "<IBAN>GB81"), "MX_BAD_VALUE",
         f"{TX1}/RltdPties/CdtrAcct/Id/IBAN"),
        (mutate(r"<BICFI>BARCGB22XXX", "<BICFI>BARC"), "MX_BAD_VALUE",
         f"{TX1}/RltdAgts/CdtrAgt/FinInstnId/BICFI"),
        (mutate(r"camt\.053\.001\.08", "camt.052.001.08"), "MX_WRONG_MESSAGE", "/"),
    ],
)
def test_parse_errors_name_the_element(data: bytes, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_camt053(data)
    assert (info.value.code, info.value.where) == (code, where)


def test_the_first_error_in_the_document_is_reported() -> None:
    data = mutate(r"<NtryRef>N-1<", "<NtryRef>" + "N" * 36 + "<")
    data = data.replace(b"<Sts><Cd>BOOK</Cd></Sts>", b"<Sts/>").replace(b"<UETR>6f", b"<UETR>x")
    with pytest.raises(MessageError) as info:
        parse_camt053(data)
    assert info.value.where == f"{E1}/NtryRef"
    with pytest.raises(MessageError) as info:
        parse_camt053(data.replace(b"N" * 36, b"N"))
    assert info.value.where == f"{E1}/Sts/Cd"


def test_split_entry_details_are_read_in_order() -> None:
    msg = camt053(statement(entries=(entry(transactions=(PAYMENT, EntryTransaction(
        end_to_end_id="E2E-2"))),)))
    data = build_camt053(msg).replace(b"</TxDtls><TxDtls>",
                                      b"</TxDtls></NtryDtls><NtryDtls><TxDtls>")
    assert_valid(data, NAME)
    assert parse_camt053(data) == msg
    broken = data.replace(b"<EndToEndId>E2E-2</EndToEndId>", b"<EndToEndId></EndToEndId>")
    with pytest.raises(MessageError) as info:
        parse_camt053(broken)
    assert info.value.where == f"{E1}/NtryDtls[2]/TxDtls[1]/Refs/EndToEndId"
