"""pacs.008 / pacs.002 / pacs.028 codecs: XSD-valid round trips and errors that name the element."""

from __future__ import annotations

import datetime
import re

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_iso20022_strategies import (
    accounts,
    amounts,
    aware,
    charges,
    codes4,
    dates,
    ids,
    instructed_amounts,
    next_agent_instructions,
    parties,
    text,
    uetrs,
)
from test_iso20022_strategies import agents as shared_agents
from xsd_oracle import assert_valid

from messages.currency import CURRENCIES
from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    CreditTransfer,
    Pacs002,
    Pacs008,
    PartyAccount,
    StatusRequest,
    TxStatus,
    build_pacs002,
    build_pacs008,
    build_pacs028,
    message_name,
    parse_pacs002,
    parse_pacs008,
    parse_pacs028,
)

TX = "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf"
HDR = "/Document/FIToFICstmrCdtTrf/GrpHdr"

# ---------------------------------------------------------------- strategies

payable = st.sampled_from(sorted(c for c, row in CURRENCIES.items() if row.exponent is not None))


def agents() -> st.SearchStrategy[Agent]:
    return shared_agents(("CNAPS", "USABA", "HVPS", "IBPS"))



@st.composite
def transfers(draw: st.DrawFn) -> CreditTransfer:
    instructed = draw(instructed_amounts)
    intermediary = draw(st.none() | agents())
    return CreditTransfer(
        end_to_end_id=draw(ids), tx_id=draw(ids), uetr=draw(uetrs),
        amount=draw(amounts), currency=draw(payable), settlement_date=draw(dates),
        debtor=draw(parties), debtor_agent=draw(agents()), creditor=draw(parties),
        creditor_agent=draw(agents()),
        charge_bearer=draw(st.sampled_from(["DEBT", "CRED", "SHAR", "SLEV"])),
        instr_id=draw(st.none() | ids), purpose=draw(st.none() | codes4),
        remittance_info=draw(st.none() | text(140)),
        instructed_amount=None if instructed is None else instructed[0],
        instructed_currency=None if instructed is None else instructed[1],
        charges=draw(charges), intermediary_agent=intermediary,
        intermediary_account=None if intermediary is None else draw(st.none() | accounts),
        next_agent_instructions=draw(next_agent_instructions),
    )


pacs008s = st.builds(
    Pacs008,
    msg_id=ids, created_at=aware,
    transactions=st.lists(transfers(), min_size=1, max_size=3).map(tuple),
    settlement_method=st.sampled_from(["INDA", "INGA", "COVE", "CLRG"]),
    clearing_system=st.none() | st.sampled_from(["CHI", "FDW", "CNAPS", "HVPS"]) | ids,
    instructing_agent=st.none() | agents(),
    instructed_agent=st.none() | agents(),
)


@st.composite
def statuses(draw: st.DrawFn) -> TxStatus:
    proprietary = draw(st.booleans())
    return TxStatus(
        orgnl_end_to_end_id=draw(ids),
        status=draw(st.sampled_from(["ACSC", "ACSP", "ACCC", "PDNG", "RJCT", "ACTC"])),
        orgnl_tx_id=draw(st.none() | ids),
        orgnl_uetr=draw(st.none() | uetrs),
        reason=None if proprietary else draw(st.none() | codes4),
        reason_proprietary=draw(st.none() | ids) if proprietary else None,
        additional_info=draw(st.none() | text(105)),
        accepted_at=draw(st.none() | aware),
    )


pacs002s = st.builds(
    Pacs002,
    msg_id=ids, created_at=aware, orgnl_msg_id=ids,
    orgnl_msg_name=st.sampled_from(["pacs.008.001.08", "pacs.009.001.08"]),
    transactions=st.lists(statuses(), max_size=3).map(tuple),
    group_status=st.none() | st.sampled_from(["ACSC", "RJCT", "PART"]),
)


@st.composite
def status_requests(draw: st.DrawFn) -> StatusRequest:
    e2e = tuple(draw(st.lists(ids, min_size=1, max_size=4)))
    with_uetrs = draw(st.booleans())
    uetr_list = tuple(draw(st.none() | uetrs) for _ in e2e) if with_uetrs else ()
    has_group = draw(st.booleans())
    return StatusRequest(
        msg_id=draw(ids), created_at=draw(aware), orgnl_end_to_end_ids=e2e,
        # parse yields () when no transaction carries a UETR
        orgnl_uetrs=uetr_list if any(u is not None for u in uetr_list) else (),
        orgnl_msg_id=draw(ids) if has_group else None,
        orgnl_msg_name="pacs.008.001.08" if has_group else None,
    )


_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- round trips


@_settings
@given(pacs008s)
def test_pacs008_round_trip(msg: Pacs008) -> None:
    data = build_pacs008(msg)
    assert_valid(data, "pacs.008.001.08")
    assert parse_pacs008(data) == msg
    assert message_name(data) == "pacs.008.001.08"


@_settings
@given(pacs002s)
def test_pacs002_round_trip(msg: Pacs002) -> None:
    data = build_pacs002(msg)
    assert_valid(data, "pacs.002.001.10")
    assert parse_pacs002(data) == msg
    assert message_name(data) == "pacs.002.001.10"


@_settings
@given(status_requests())
def test_pacs028_round_trip(msg: StatusRequest) -> None:
    # No pacs.028.001.03 XSD in ../shared: this round trip is not checked against an oracle.
    data = build_pacs028(msg)
    assert parse_pacs028(data) == msg
    assert message_name(data) == "pacs.028.001.03"


# ---------------------------------------------------------------- fixtures for error tests

UTC = datetime.UTC
BANK = Agent(member_id="102100099996", clearing_system="CNAPS", bic="ICBKCNBJXXX")


def transfer(**changes: object) -> CreditTransfer:
    base = CreditTransfer(
        end_to_end_id="E2E-1", tx_id="TX-1", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        amount=12345, currency="CNY", settlement_date=datetime.date(2024, 5, 6),
        debtor=PartyAccount(name="张三 <&> Co", account="6222020200000001", country="CN"),
        debtor_agent=BANK, creditor=PartyAccount(name="李四"), creditor_agent=BANK,
    )
    return msgspec.structs.replace(base, **changes)


def pacs008(*transactions: CreditTransfer, **changes: object) -> Pacs008:
    base = Pacs008(msg_id="M-1", created_at=datetime.datetime(2024, 5, 6, 9, 30, tzinfo=UTC),
                   transactions=transactions or (transfer(),))
    return msgspec.structs.replace(base, **changes)


def test_known_document_shape() -> None:
    data = build_pacs008(pacs008())
    assert_valid(data, "pacs.008.001.08")
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert "<Nm>张三 &lt;&amp;&gt; Co</Nm>".encode() in data
    assert b"<ClrSysId><Cd>CNAPS</Cd></ClrSysId><MmbId>102100099996</MmbId>" in data
    assert b'<IntrBkSttlmAmt Ccy="CNY">123.45</IntrBkSttlmAmt>' in data
    assert b"<DbtrAcct><Id><Othr><Id>6222020200000001</Id></Othr></Id></DbtrAcct>" in data


def test_iban_goes_out_as_iban() -> None:
    msg = pacs008(transfer(creditor=PartyAccount(name="X", account="GB82WEST12345698765432")))
    data = build_pacs008(msg)
    assert b"<CdtrAcct><Id><IBAN>GB82WEST12345698765432</IBAN></Id></CdtrAcct>" in data
    assert parse_pacs008(data) == msg


def test_proprietary_clearing_system() -> None:
    msg = pacs008(clearing_system="HVPS",
                  instructing_agent=Agent(member_id="102100099996", clearing_system="HVPS"))
    data = build_pacs008(msg)
    assert_valid(data, "pacs.008.001.08")
    assert b"<ClrSys><Prtry>HVPS</Prtry></ClrSys>" in data
    assert b"<ClrSysId><Prtry>HVPS</Prtry></ClrSysId>" in data


# ---------------------------------------------------------------- build errors


@pytest.mark.parametrize(
    ("msg", "code", "where"),
    [
        (pacs008(msg_id="M" * 36), "MX_BAD_VALUE", f"{HDR}/MsgId"),
        (pacs008(msg_id=""), "MX_BAD_VALUE", f"{HDR}/MsgId"),
        (pacs008(created_at=datetime.datetime(2024, 5, 6)), "MX_BAD_VALUE", f"{HDR}/CreDtTm"),
        (pacs008(settlement_method="XXXX"), "MX_BAD_VALUE", f"{HDR}/SttlmInf/SttlmMtd"),
        (pacs008(transactions=()), "MX_MISSING_ELEMENT", f"{TX}"),
        (pacs008(transfer(), transfer(uetr="6f0f1c8e-1c2b-1d3a-9e4f-5a6b7c8d9e0f")),
         "MX_BAD_VALUE", f"{TX}[2]/PmtId/UETR"),
        (pacs008(transfer(end_to_end_id="E" * 36)), "MX_BAD_VALUE", f"{TX}[1]/PmtId/EndToEndId"),
        (pacs008(transfer(currency="XYZ")), "UNKNOWN_CURRENCY", f"{TX}[1]/IntrBkSttlmAmt/@Ccy"),
        (pacs008(transfer(currency="XAU")), "UNKNOWN_CURRENCY", f"{TX}[1]/IntrBkSttlmAmt/@Ccy"),
        (pacs008(transfer(amount=0)), "BAD_AMOUNT", f"{TX}[1]/IntrBkSttlmAmt"),
        (pacs008(transfer(amount=-5)), "BAD_AMOUNT", f"{TX}[1]/IntrBkSttlmAmt"),
        (pacs008(transfer(amount=10**19)), "BAD_AMOUNT", f"{TX}[1]/IntrBkSttlmAmt"),
        (pacs008(transfer(charge_bearer="OUR")), "MX_BAD_VALUE", f"{TX}[1]/ChrgBr"),
        (pacs008(transfer(debtor_agent=Agent(bic="icbkcnbj"))), "MX_BAD_VALUE",
         f"{TX}[1]/DbtrAgt/FinInstnId/BICFI"),
        (pacs008(transfer(creditor_agent=Agent(lei="123"))), "MX_BAD_VALUE",
         f"{TX}[1]/CdtrAgt/FinInstnId/LEI"),
        (pacs008(transfer(creditor_agent=Agent(clearing_system="CNAPS"))), "MX_MISSING_ELEMENT",
         f"{TX}[1]/CdtrAgt/FinInstnId/ClrSysMmbId/MmbId"),
        (pacs008(transfer(debtor=PartyAccount(name="a\x00b"))), "MX_BAD_VALUE",
         f"{TX}[1]/Dbtr/Nm"),
        (pacs008(transfer(creditor=PartyAccount(name="x", country="China"))), "MX_BAD_VALUE",
         f"{TX}[1]/Cdtr/PstlAdr/Ctry"),
        (pacs008(transfer(creditor=PartyAccount(name="x", address_lines=("ok", "y" * 71)))),
         "MX_BAD_VALUE", f"{TX}[1]/Cdtr/PstlAdr/AdrLine[2]"),
        (pacs008(transfer(creditor=PartyAccount(name="x", account="9" * 35))), "MX_BAD_VALUE",
         f"{TX}[1]/CdtrAcct/Id/Othr/Id"),
        (pacs008(transfer(purpose="SALARY")), "MX_BAD_VALUE", f"{TX}[1]/Purp/Cd"),
        (pacs008(transfer(remittance_info="r" * 141)), "MX_BAD_VALUE", f"{TX}[1]/RmtInf/Ustrd"),
    ],
)
def test_build_refuses_invalid_values(msg: Pacs008, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        build_pacs008(msg)
    assert (info.value.code, info.value.where) == (code, where)
    assert str(info.value).startswith(f"{code} at {where}: ")


def test_build_pacs002_and_pacs028_errors_name_the_element() -> None:
    now = datetime.datetime(2024, 5, 6, tzinfo=UTC)
    report = Pacs002(msg_id="S", created_at=now, orgnl_msg_id="M", orgnl_msg_name="pacs.008.001.08",
                     transactions=(TxStatus("E", "RJCT"), TxStatus("E", "REJECTED")))
    with pytest.raises(MessageError) as info:
        build_pacs002(report)
    assert info.value.where == "/Document/FIToFIPmtStsRpt/TxInfAndSts[2]/TxSts"
    both = TxStatus("E", "RJCT", reason="AC04", reason_proprietary="CNAPS01")
    with pytest.raises(MessageError, match="exclusive"):
        build_pacs002(msgspec.structs.replace(report, transactions=(both,)))
    request = StatusRequest(msg_id="Q", created_at=now, orgnl_end_to_end_ids=("E1", "E2"),
                            orgnl_uetrs=(None, "not-a-uuid"))
    with pytest.raises(MessageError) as info:
        build_pacs028(request)
    assert info.value.where == "/Document/FIToFIPmtStsReq/TxInf[2]/OrgnlUETR"
    with pytest.raises(MessageError) as info:
        build_pacs028(msgspec.structs.replace(request, orgnl_uetrs=(None,)))
    assert info.value.code == "MX_BAD_VALUE"


# ---------------------------------------------------------------- parse errors


def mutate(pattern: str, replacement: str, msg: Pacs008 | None = None) -> bytes:
    data = build_pacs008(msg or pacs008()).decode()
    changed = re.sub(pattern, replacement, data, count=1)
    assert changed != data
    return changed.encode()


@pytest.mark.parametrize(
    ("data", "code", "where"),
    [
        (mutate(r">123\.45<", ">123.456<"), "BAD_AMOUNT", f"{TX}[1]/IntrBkSttlmAmt"),
        (mutate(r">123\.45<", ">1.2E2<"), "BAD_AMOUNT", f"{TX}[1]/IntrBkSttlmAmt"),
        (mutate(r'Ccy="CNY"', 'Ccy="XYZ"'), "UNKNOWN_CURRENCY", f"{TX}[1]/IntrBkSttlmAmt/@Ccy"),
        (mutate(r' Ccy="CNY"', ""), "MX_MISSING_ELEMENT", f"{TX}[1]/IntrBkSttlmAmt"),
        (mutate(r"<EndToEndId>E2E-1</EndToEndId>", ""), "MX_MISSING_ELEMENT",
         f"{TX}[1]/PmtId/EndToEndId"),
        (mutate(r"<UETR>6f0f", "<UETR>6F0F"), "MX_BAD_VALUE", f"{TX}[1]/PmtId/UETR"),
        (mutate(r"<MsgId>M-1", "<MsgId>" + "M" * 40), "MX_BAD_VALUE", f"{HDR}/MsgId"),
        (mutate(r"\+00:00</CreDtTm>", "</CreDtTm>"), "MX_BAD_VALUE", f"{HDR}/CreDtTm"),
        (mutate(r"<NbOfTxs>1<", "<NbOfTxs>2<"), "MX_BAD_VALUE", f"{HDR}/NbOfTxs"),
        (mutate(r"<IntrBkSttlmDt>2024-05-06", "<IntrBkSttlmDt>2024-02-30"), "MX_BAD_VALUE",
         f"{TX}[1]/IntrBkSttlmDt"),
        (mutate(r"<ChrgBr>SLEV", "<ChrgBr>OUR"), "MX_BAD_VALUE", f"{TX}[1]/ChrgBr"),
        (mutate(r"<Cdtr><Nm>", "<Cdtr><Nm><b/>"), "MX_BAD_VALUE", f"{TX}[1]/Cdtr/Nm"),
        (mutate(r"<TxId>TX-1</TxId>", "<TxId>TX-1</TxId><TxId>TX-2</TxId>"), "MX_BAD_VALUE",
         f"{TX}[1]/PmtId/TxId"),
        (mutate(r"<CdtTrfTxInf>", "<CdtTrfTxInf><PmtId/></CdtTrfTxInf><CdtTrfTxInf>"),
         "MX_MISSING_ELEMENT", f"{TX}[1]/PmtId/EndToEndId"),
        (mutate(r"pacs\.008\.001\.08", "pacs.008.001.09"), "MX_WRONG_MESSAGE", "/"),
        (mutate(r"<FIToFICstmrCdtTrf>(.*)</FIToFICstmrCdtTrf>", r"<Other>\1</Other>"),
         "MX_WRONG_MESSAGE", "/Document/FIToFICstmrCdtTrf"),
    ],
)
def test_parse_errors_name_the_element(data: bytes, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_pacs008(data)
    assert (info.value.code, info.value.where) == (code, where)


def test_second_transaction_errors_carry_its_position() -> None:
    msg = pacs008(transfer(), transfer(amount=7, currency="JPY"))
    data = build_pacs008(msg).replace(b'"JPY">7<', b'"JPY">7.0<')
    with pytest.raises(MessageError) as info:
        parse_pacs008(data)
    assert (info.value.code, info.value.where) == ("BAD_AMOUNT", f"{TX}[2]/IntrBkSttlmAmt")


def test_parsers_refuse_each_others_messages() -> None:
    now = datetime.datetime(2024, 5, 6, tzinfo=UTC)
    report = build_pacs002(Pacs002("S", now, "M", "pacs.008.001.08", ()))
    request = build_pacs028(StatusRequest("Q", now, ("E",)))
    for parse, data in [(parse_pacs008, report), (parse_pacs002, request),
                        (parse_pacs028, build_pacs008(pacs008()))]:
        with pytest.raises(MessageError) as info:
            parse(data)
        assert info.value.code == "MX_WRONG_MESSAGE"


def test_pacs002_joins_split_additional_info_and_needs_a_reason_value() -> None:
    now = datetime.datetime(2024, 5, 6, tzinfo=UTC)
    data = build_pacs002(Pacs002("S", now, "M", "pacs.008.001.08",
                                 (TxStatus("E", "RJCT", reason="AC04", additional_info="ab"),)))
    split = data.replace(b"<AddtlInf>ab</AddtlInf>",
                         b"<AddtlInf>a</AddtlInf><AddtlInf>b</AddtlInf>")
    assert_valid(split, "pacs.002.001.10")
    assert parse_pacs002(split).transactions[0].additional_info == "ab"
    empty_reason = data.replace(b"<Rsn><Cd>AC04</Cd></Rsn>", b"<Rsn/>")
    with pytest.raises(MessageError) as info:
        parse_pacs002(empty_reason)
    assert info.value.where == "/Document/FIToFIPmtStsRpt/TxInfAndSts[1]/StsRsnInf[1]/Rsn/Cd"


def test_message_name_rejects_non_iso_documents() -> None:
    with pytest.raises(MessageError) as info:
        message_name(b'<Document xmlns="urn:example"/>')
    assert info.value.code == "MX_WRONG_MESSAGE"
    with pytest.raises(MessageError) as info:
        message_name(b"")
    assert info.value.code == "MX_MALFORMED"
