"""camt.054 notification codec: XSD-valid round trips and errors that name the element; its
entries are camt.053's (tested there in depth), so these tests check the notification around
them and that the shared entry code answers with this document's paths."""

from __future__ import annotations

import datetime
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_iso20022_strategies import (
    aware,
    entries,
    ids,
    report,
    settings_,
)
from xsd_oracle import assert_valid

from messages.errors import MessageError
from messages.iso20022 import (
    Balance,
    BankTransactionCode,
    Camt053,
    Camt054,
    Entry,
    EntryTransaction,
    Notification,
    Statement,
    build_camt053,
    build_camt054,
    message_name,
    parse_camt053,
    parse_camt054,
)

NAME = "camt.054.001.08"
NTF = "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn"
HDR = "/Document/BkToCstmrDbtCdtNtfctn/GrpHdr"


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    return report(draw, Notification, entries=st.lists(entries, max_size=3).map(tuple))


messages = st.builds(
    Camt054, msg_id=ids, created_at=aware,
    notifications=st.lists(notifications(), min_size=1, max_size=2).map(tuple),
)


@settings_
@given(messages)
def test_round_trip(msg: Camt054) -> None:
    data = build_camt054(msg)
    assert_valid(data, NAME)
    assert parse_camt054(data) == msg
    assert message_name(data) == NAME


UTC = datetime.UTC
CREDIT = Entry(
    amount=5000, currency="USD", credit_debit="CRDT", booking_date=datetime.date(2024, 5, 6),
    bank_tx_code=BankTransactionCode("PMNT", "RCDT", "XBCT"),
    transactions=(EntryTransaction(end_to_end_id="E2E-7", tx_id="TX-7",
                                   uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f"),),
)


def camt054(*entries_: Entry, **changes: object) -> Camt054:
    base = Camt054(
        msg_id="N-1", created_at=datetime.datetime(2024, 5, 6, 10, tzinfo=UTC),
        notifications=(Notification(id="NTF-1", account="DE89370400440532013000",
                                    entries=entries_ or (CREDIT,), page_number=1),),
    )
    return msgspec.structs.replace(base, **changes)


def test_document_shape() -> None:
    data = build_camt054(camt054())
    assert_valid(data, NAME)
    assert b"<Ntfctn><Id>NTF-1</Id><NtfctnPgntn><PgNb>1</PgNb>" in data
    assert b"<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct><Ntry>" in data
    assert b'<Amt Ccy="USD">50.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>' in data


def test_entries_are_the_same_in_both_reports() -> None:
    day = datetime.date(2024, 5, 6)
    statement = Camt053("S", datetime.datetime(2024, 5, 6, tzinfo=UTC), (Statement(
        "ST", "DE89370400440532013000", (Balance("CLBD", 5000, "USD", "CRDT", day),),
        entries=(CREDIT,)),))
    assert parse_camt053(build_camt053(statement)).statements[0].entries == \
        parse_camt054(build_camt054(camt054())).notifications[0].entries


E1 = f"{NTF}[1]/Ntry[1]"


@pytest.mark.parametrize(
    ("msg", "code", "where"),
    [
        (camt054(msg_id="M" * 36), "MX_BAD_VALUE", f"{HDR}/MsgId"),
        (camt054(notifications=()), "MX_MISSING_ELEMENT", NTF),
        (camt054(notifications=(Notification("", "1"),)), "MX_BAD_VALUE", f"{NTF}[1]/Id"),
        (camt054(notifications=(Notification("N", "1", page_number=-1),)), "MX_BAD_VALUE",
         f"{NTF}[1]/NtfctnPgntn/PgNb"),
        (camt054(notifications=(Notification("N", "1", additional_info=""),)),
         "MX_BAD_VALUE", f"{NTF}[1]/AddtlNtfctnInf"),
        (camt054(CREDIT, msgspec.structs.replace(CREDIT, currency="KWD", amount=-3)),
         "BAD_AMOUNT", f"{NTF}[1]/Ntry[2]/Amt"),
        (camt054(msgspec.structs.replace(CREDIT, transactions=(
            EntryTransaction(credit_debit="CREDIT"),))), "MX_BAD_VALUE",
         f"{E1}/NtryDtls/TxDtls[1]/CdtDbtInd"),
    ],
)
def test_build_refuses_invalid_values(msg: Camt054, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        build_camt054(msg)
    assert (info.value.code, info.value.where) == (code, where)


def mutate(pattern: str, replacement: str) -> bytes:
    data = build_camt054(camt054()).decode()
    changed = re.sub(pattern, replacement, data, count=1)
    assert changed != data
    return changed.encode()


@pytest.mark.parametrize(
    ("data", "code", "where"),
    [
        (mutate(r"<Ntfctn>.*</Ntfctn>", ""), "MX_MISSING_ELEMENT", NTF),
        (mutate(r"<Ntfctn><Id>NTF-1</Id>", "<Ntfctn>"), "MX_MISSING_ELEMENT", f"{NTF}[1]/Id"),
        (mutate(r"<PgNb>1<", "<PgNb>123456<"), "MX_BAD_VALUE", f"{NTF}[1]/NtfctnPgntn/PgNb"),
        (mutate(r"<IBAN>DE89", "<IBAN>DE88"), "MX_BAD_VALUE", f"{NTF}[1]/Acct/Id/IBAN"),
        (mutate(r">50\.00<", ">50.001<"), "BAD_AMOUNT", f"{E1}/Amt"),
        (mutate(r"<TxId>TX-7</TxId>", "<TxId/>"), "MX_BAD_VALUE",
         f"{E1}/NtryDtls/TxDtls[1]/Refs/TxId"),
        (mutate(r"camt\.054", "camt.053"), "MX_WRONG_MESSAGE", "/"),
    ],
)
def test_parse_errors_name_the_element(data: bytes, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_camt054(data)
    assert (info.value.code, info.value.where) == (code, where)
