"""MT192 <-> camt.056, MT196 <-> camt.029, gpi MT199 <-> pacs.002: round trips, XSD, losses."""

from __future__ import annotations

import datetime
import string

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xsd_oracle import assert_valid

from messages.iso20022 import (
    Agent,
    AppHeader,
    Pacs002,
    TxStatus,
    build_business_message,
    build_camt029,
    build_camt056,
    build_pacs002,
    parse_camt029,
    parse_camt056,
    parse_pacs002,
)
from messages.mt import MT192, MT196, MT199, Envelope, build_mt, parse_mt
from messages.translate import (
    TranslationError,
    camt029_to_mt196,
    camt056_to_mt192,
    mt192_to_camt056,
    mt196_to_camt029,
    mt199_to_pacs002,
    mt_to_mx,
    mx_to_mt,
    pacs002_to_mt199,
)
from messages.translate._parties import bic_of_address
from tests import test_mt_roundtrip as mts
from tests.test_translate_customer import addresses, xtext

NOW = datetime.datetime(2026, 11, 22, 8, 0, tzinfo=datetime.UTC)
UETR = "6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f"
CODE = st.text(string.ascii_uppercase + string.digits, min_size=4, max_size=4)
originals = st.tuples(st.sampled_from(["103", "202", "910"]),
                      mts.dates.map(lambda d: d.strftime("%y%m%d")))
envelopes = st.builds(Envelope, sender=addresses, receiver=addresses)


def wrapped(text: str, width: int) -> tuple[str, ...]:
    return tuple(text[i:i + width] for i in range(0, len(text), width))


@st.composite
def coded(draw: st.DrawFn, width: int, codes: st.SearchStrategy[str],
          required: bool = False) -> tuple[str, ...] | None:
    code = draw(codes if required else st.none() | codes)
    info = draw(st.none() | xtext(1, 105))
    if code is None and info is None:
        return None
    return wrapped(("" if code is None else f"/{code}/") + (info or ""), width)


mt192s = st.builds(
    MT192, envelope=envelopes, uetr=st.none() | mts.uetrs, sender_ref=mts.reference,
    related_ref=mts.reference, original_message=originals,
    narrative=coded(50, CODE).filter(lambda n: n is None or not n[0].startswith("/")
                                     or n[0][5:6] == "/"),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=mt192s)
def test_an_mt192_that_fits_comes_back_unchanged(msg: MT192) -> None:
    there = mt192_to_camt056(msg, created_at=NOW)
    document = build_camt056(there.message)
    assert_valid(document, "camt.056.001.08")
    back = camt056_to_mt192(parse_camt056(document))
    assert there.warnings == back.warnings == ()
    assert back.message == msg


mt196s = st.builds(
    MT196, envelope=envelopes, uetr=st.none() | mts.uetrs, sender_ref=mts.reference,
    related_ref=mts.reference,
    answers=coded(35, st.sampled_from(["CNCL", "RJCR", "PDCR"]), required=True),
    original_message=originals, original_message_option=st.just("R"),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=mt196s)
def test_an_mt196_that_fits_comes_back_unchanged(msg: MT196) -> None:
    there = mt196_to_camt029(msg, created_at=NOW)
    document = build_camt029(there.message)
    assert_valid(document, "camt.029.001.09")
    back = camt029_to_mt196(parse_camt029(document))
    assert there.warnings == back.warnings == ()
    assert back.message == msg


@st.composite
def mt199s(draw: st.DrawFn) -> MT199:
    lines: list[str] = []
    if draw(st.booleans()):
        stamp = draw(st.datetimes(datetime.datetime(2001, 1, 1),
                                  datetime.datetime(2098, 12, 31)))
        lines.append("//" + stamp.strftime("%y%m%d%H%M") + draw(st.sampled_from(
            ["+0000", "+0800", "-0500"])))
    status = draw(st.sampled_from(["ACSP", "ACCC", "RJCT"]))
    reason = draw(st.none() | st.sampled_from(["G000", "G001", "G002", "AC01"]))
    lines.append(f"//{status}" + (f"/{reason}" if reason else ""))
    info = draw(st.none() | xtext(1, 105).filter(lambda s: not s.startswith("/")))
    if info:
        lines += wrapped(info, 50)
    return MT199(envelope=draw(envelopes), uetr=draw(st.none() | mts.uetrs),
                 sender_ref=draw(mts.reference), related_ref=draw(st.none() | mts.reference),
                 narrative=tuple(lines))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=mt199s())
def test_a_gpi_mt199_that_fits_comes_back_unchanged(msg: MT199) -> None:
    there = mt199_to_pacs002(msg, created_at=NOW)
    document = build_pacs002(there.message)
    assert_valid(document, "pacs.002.001.10")
    back = pacs002_to_mt199(parse_pacs002(document),
                            sender=bic_of_address(msg.envelope.sender),
                            receiver=bic_of_address(msg.envelope.receiver))
    assert there.warnings == back.warnings == ()
    assert back.message == msg


# ---------------------------------------------------------------- rules one by one

ENVELOPE = Envelope(sender="BKCHCNBJXXXX", receiver="CITIUS33XXXX")


def test_mt192_reason_and_original_map_to_camt056() -> None:
    msg = MT192(envelope=ENVELOPE, uetr=UETR, sender_ref="CXL-1", related_ref="REF-1",
                original_message=("103", "261120"), narrative=("/DUPL/DUPLICATE PAYMENT",))
    result = mt192_to_camt056(msg, created_at=NOW)
    tx = result.message.transactions[0]
    assert (tx.orgnl_msg_name, tx.orgnl_instr_id, tx.reason, tx.additional_info,
            tx.orgnl_uetr) == ("MT103", "REF-1", "DUPL", "DUPLICATE PAYMENT", UETR)
    assert tx.orgnl_created_at == datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)
    assert (result.message.assigner, result.message.assignee) == (Agent(bic="BKCHCNBJ"),
                                                                  Agent(bic="CITIUS33"))


def test_a_long_mt192_narrative_is_cut_to_addtlinf_with_a_warning() -> None:
    msg = MT192(envelope=ENVELOPE, sender_ref="CXL-1", related_ref="REF-1",
                original_message=("103", "261120"), narrative=("/CUST/" + "X" * 44, "Y" * 50,
                                                               "Z" * 50))
    result = mt192_to_camt056(msg, created_at=NOW)
    assert result.message.transactions[0].additional_info == "X" * 44 + "Y" * 50 + "Z" * 10 + "+"
    assert [w.field for w in result.warnings] == ["79"]


def test_camt056_with_an_end_to_end_id_and_amount_reports_them() -> None:
    msg = mt192_to_camt056(MT192(envelope=ENVELOPE, sender_ref="C", related_ref="R",
                                 original_message=("103", "261120")), created_at=NOW).message
    tx = msgspec.structs.replace(msg.transactions[0], orgnl_end_to_end_id="E2E-9",
                                 orgnl_amount=100, orgnl_currency="USD")
    result = camt056_to_mt192(msgspec.structs.replace(msg, transactions=(tx,)))
    lost = {w.element.rsplit("/", 1)[-1] for w in result.warnings}
    assert {"OrgnlEndToEndId", "orgnl_amount", "orgnl_currency"} <= lost


def test_mt196_answer_becomes_the_confirmation_and_tx_status() -> None:
    msg = MT196(envelope=ENVELOPE, sender_ref="ANS-1", related_ref="CXL-1",
                answers=("/RJCR/ALREADY CREDITED",), original_message=("103", "261120"),
                original_message_option="R", narrative_answer=("SEE 79",))
    result = mt196_to_camt029(msg, created_at=NOW)
    assert result.message.status == "RJCR" and result.message.case_id == "CXL-1"
    tx = result.message.transactions[0]
    assert (tx.status, tx.additional_info) == ("RJCR", "ALREADY CREDITED")
    assert [w.field for w in result.warnings] == ["77A"]


def test_mt196_without_an_answer_code_is_refused() -> None:
    msg = MT196(envelope=ENVELOPE, sender_ref="A", related_ref="C", answers=("NO CODE",))
    with pytest.raises(TranslationError) as caught:
        mt196_to_camt029(msg, created_at=NOW)
    assert caught.value.where == "76"


def test_pacs002_needs_an_apphdr_for_the_mt_header() -> None:
    report = Pacs002(msg_id="S-1", created_at=NOW, orgnl_msg_id="REF-1",
                     orgnl_msg_name="pacs.008.001.08",
                     transactions=(TxStatus(orgnl_end_to_end_id="NOTPROVIDED", status="ACCC",
                                            orgnl_uetr=UETR, reason="G000"),))
    document = build_pacs002(report)
    with pytest.raises(TranslationError):
        mx_to_mt(document)
    header = AppHeader(sender=Agent(bic="CITIUS33"), receiver=Agent(bic="BKCHCNBJ"),
                       biz_msg_id="S-1", msg_def_id="pacs.002.001.10", created_at=NOW)
    text = mx_to_mt(build_business_message(header, document)).message
    msg = parse_mt(text)
    assert isinstance(msg, MT199)
    assert msg.narrative == ("//ACCC/G000",) and msg.uetr == UETR


def test_dispatcher_translates_mt192_and_mt196() -> None:
    for msg in (MT192(envelope=ENVELOPE, sender_ref="C", related_ref="R",
                      original_message=("103", "261120"), narrative=("/DUPL/",)),
                MT196(envelope=ENVELOPE, sender_ref="A", related_ref="C", answers=("/CNCL/",),
                      original_message=("103", "261120"), original_message_option="R")):
        to_mx = mt_to_mx(build_mt(msg), created_at=NOW)
        assert to_mx.warnings == ()
        assert parse_mt(mx_to_mt(to_mx.message).message) == msg


