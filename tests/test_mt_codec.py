"""SWIFT MT codec: block structure, field formats, each message type, errors with tag and line."""

from __future__ import annotations

import datetime
import pickle

import pytest

from messages.errors import MessageError
from messages.mt import (
    MESSAGE_CLASSES,
    MT103,
    MT192,
    MT196,
    MT199,
    MT202,
    MT202COV,
    MT900,
    MT910,
    MT940,
    MT950,
    Balance,
    Envelope,
    MtBadBlock,
    MtBadCharset,
    MtBadField,
    MtError,
    MtMissingField,
    MtUnsupportedType,
    Party,
    StatementLine,
    UserHeader,
    build_mt,
    parse_mt,
)
from messages.mt.fields import FORMATS, compile_format, decode, encode
from messages.mt.specs import FIELD_FORMATS, MESSAGE_SPECS

UETR = "8e0f1c2a-1b2c-4d3e-8f40-5a6b7c8d9e0f"
ENV = Envelope(sender="BANKBEBBAXXX", receiver="BANKDEFFXXXX", priority="N")
HEAD = "{1:F01BANKBEBBAXXX0000000000}{2:I103BANKDEFFXXXXN}"

MT103_TEXT = (
    HEAD + "{3:{108:MUR1}{121:" + UETR + "}}{4:\r\n"
    ":20:REF-1\r\n:23B:CRED\r\n:32A:240506EUR1234,56\r\n:33B:EUR1234,56\r\n"
    ":50K:/BE62510007547061\r\nJOHN DOE\r\n1 MAIN STREET\r\n"
    ":52A:BANKBEBB\r\n:57A:/AT123\r\nBANKATWWXXX\r\n"
    ":59:/DE89370400440532013000\r\nJANE ROE\r\n:70:INVOICE 42\r\n:71A:SHA\r\n"
    ":71F:EUR2,50\r\n:71F:JPY100,\r\n-}{5:{CHK:123456789ABC}}"
)


def with_block4(body: str, head: str = HEAD, block3: str = "{3:{121:" + UETR + "}}") -> str:
    return head + block3 + "{4:\r\n" + body + "-}"


# --- MT103 --------------------------------------------------------------------------------


def test_parse_mt103() -> None:
    msg = parse_mt(MT103_TEXT)
    assert isinstance(msg, MT103)
    assert (msg.sender_ref, msg.bank_operation_code, msg.value_date, msg.currency, msg.amount) == (
        "REF-1", "CRED", datetime.date(2024, 5, 6), "EUR", 123456)
    assert msg.uetr == UETR
    assert msg.envelope.user_header.mur == "MUR1"
    assert msg.envelope.trailer == (("CHK", "123456789ABC"),)
    assert (msg.envelope.sender, msg.envelope.receiver, msg.envelope.priority) == (
        "BANKBEBBAXXX", "BANKDEFFXXXX", "N")
    assert msg.ordering_customer == Party(option="K", account="BE62510007547061",
                                          lines=("JOHN DOE", "1 MAIN STREET"))
    assert msg.ordering_institution == Party(option="A", bic="BANKBEBB")
    assert msg.account_with_institution == Party(option="A", account="AT123", bic="BANKATWWXXX")
    assert msg.beneficiary == Party(option="", account="DE89370400440532013000",
                                    lines=("JANE ROE",))
    assert msg.remittance_info == ("INVOICE 42",)
    assert msg.charges == "SHA"
    assert [(m.currency, m.amount) for m in msg.sender_charges] == [("EUR", 250), ("JPY", 100)]
    assert type(msg.amount) is int


def test_mt103_builds_back_to_the_same_text() -> None:
    assert build_mt(parse_mt(MT103_TEXT)) == MT103_TEXT


def test_amount_minor_units_follow_the_currency() -> None:
    for amount, currency, minor in [("1,", "JPY", 1), ("0,005", "BHD", 5), ("12,3", "EUR", 1230),
                                    ("99999999999999,", "JPY", 99999999999999)]:
        text = MT103_TEXT.replace("32A:240506EUR1234,56", f"32A:240506{currency}{amount}")
        msg = parse_mt(text)
        assert (msg.currency, msg.amount) == (currency, minor)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("bad", "code", "tag", "line"), [
    (":32A:240506EUR1234,567", "MT_BAD_FIELD", "32A", 3),  # too many decimals for EUR
    (":32A:240506EUR1234.56", "MT_BAD_FIELD", "32A", 3),  # a dot is not the decimal comma
    (":32A:240506EUR1234", "MT_BAD_FIELD", "32A", 3),  # no comma
    (":32A:240231EUR1,", "MT_BAD_FIELD", "32A", 3),  # 31 February
    (":32A:240506XXX1,", "MT_BAD_FIELD", "32A", 3),  # no such currency
    (":32A:240506eur1,", "MT_BAD_FIELD", "32A", 3),
    (":32A:240506EUR12345678901234,5", "MT_BAD_FIELD", "32A", 3),  # 16 characters
])
def test_bad_32a(bad: str, code: str, tag: str, line: int) -> None:
    text = MT103_TEXT.replace(":32A:240506EUR1234,56", bad)
    with pytest.raises(MtError) as info:
        parse_mt(text)
    err = info.value
    assert (err.code, err.tag, err.line) == (code, tag, line)
    assert f"block 4 line {line} field :{tag}:" in str(err)
    assert isinstance(err, MessageError)


def test_missing_mandatory_field_names_tag_and_where() -> None:
    text = MT103_TEXT.replace(":71A:SHA\r\n", "")
    with pytest.raises(MtMissingField) as info:
        parse_mt(text)
    assert (info.value.code, info.value.tag, info.value.line) == ("MT_MISSING_FIELD", "71A", 14)


def test_out_of_sequence_field() -> None:
    text = MT103_TEXT.replace(":23B:CRED\r\n:32A:240506EUR1234,56",
                              ":32A:240506EUR1234,56\r\n:23B:CRED")
    with pytest.raises(MtError) as info:
        parse_mt(text)
    assert (info.value.code, info.value.tag, info.value.line) == ("MT_MISSING_FIELD", "23B", 2)
    text = MT103_TEXT.replace(":71F:JPY100,\r\n", ":71F:JPY100,\r\n:99:X\r\n")
    with pytest.raises(MtBadField) as bad:
        parse_mt(text)
    assert (bad.value.tag, bad.value.line) == ("99", 17)


def test_option_letter_not_allowed() -> None:
    text = MT103_TEXT.replace(":50K:", ":50D:")
    with pytest.raises(MtError) as info:
        parse_mt(text)
    assert info.value.code == "MT_MISSING_FIELD" and info.value.tag == "50a"


def test_line_count_and_width_limits() -> None:
    five = "\r\n".join(["L"] * 5)
    with pytest.raises(MtBadField) as info:
        parse_mt(MT103_TEXT.replace("JOHN DOE\r\n1 MAIN STREET", five))
    assert info.value.tag == "50K"
    with pytest.raises(MtBadField):
        parse_mt(MT103_TEXT.replace("INVOICE 42", "X" * 36))


def test_charset_error_carries_tag_and_line() -> None:
    with pytest.raises(MtBadCharset) as info:
        parse_mt(MT103_TEXT.replace("JANE ROE", "JANE_ROE"))
    assert (info.value.code, info.value.tag, info.value.line) == ("MT_BAD_CHARSET", "59", 12)


def test_reference_slash_rules() -> None:
    for ref in ("/REF", "REF/", "RE//F"):
        with pytest.raises(MtBadField) as info:
            parse_mt(MT103_TEXT.replace(":20:REF-1", f":20:{ref}"))
        assert (info.value.tag, info.value.line) == ("20", 1)


@pytest.mark.parametrize(("old", "new", "tag", "line"), [
    (":23B:CRED", ":23B:XXXX", "23B", 2), (":71A:SHA", ":71A:ABC", "71A", 14)])
def test_code_lists(old: str, new: str, tag: str, line: int) -> None:
    with pytest.raises(MtBadField) as info:
        parse_mt(MT103_TEXT.replace(old, new))
    assert (info.value.tag, info.value.line) == (tag, line)


def test_uetr_required_and_checked() -> None:
    with pytest.raises(MtMissingField) as info:
        parse_mt(MT103_TEXT.replace("{121:" + UETR + "}", ""))
    assert info.value.tag == "121"
    with pytest.raises(MtBadBlock):
        parse_mt(MT103_TEXT.replace(UETR, UETR.upper()))
    with pytest.raises(MtBadBlock):  # not version 4
        parse_mt(MT103_TEXT.replace(UETR, UETR.replace("-4d3e-", "-1d3e-")))


# --- block structure --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "error"), [
    (MT103_TEXT.replace("{1:F01BANKBEBBAXXX0000000000}", ""), MtBadBlock),
    (MT103_TEXT.replace("F01BANKBEBBAXXX", "F01BANKBEBBAXX"), MtBadBlock),
    (MT103_TEXT.replace("I103BANKDEFFXXXXN", "X103BANKDEFFXXXXN"), MtBadBlock),
    (MT103_TEXT.replace("{5:{CHK:123456789ABC}}", "{5:{CHK:1}}{3:{108:X}}"), MtBadBlock),
    (MT103_TEXT.replace("{3:{108:MUR1}", "{3:{999:X}{108:MUR1}"), MtBadBlock),
    (MT103_TEXT.replace("{108:MUR1}{121:" + UETR + "}", "{121:" + UETR + "}{108:MUR1}"),
     MtBadBlock),
    (MT103_TEXT.replace("I103", "I101"), MtUnsupportedType),
    (MT103_TEXT + "{7:x}", MtBadBlock),
    (MT103_TEXT + "\r\n", MtBadBlock),  # nothing may follow the last block
])
def test_bad_blocks(text: str, error: type[MtError]) -> None:
    with pytest.raises(error):
        parse_mt(text)


def test_output_message_header() -> None:
    text = MT103_TEXT.replace(
        "{1:F01BANKBEBBAXXX0000000000}{2:I103BANKDEFFXXXXN}",
        "{1:F01BANKDEFFAXXX1234567890}{2:O1031200240506BANKBEBBAXXX00011234562405061201N}")
    msg = parse_mt(text)
    env = msg.envelope
    assert (env.direction, env.sender, env.receiver, env.session, env.sequence) == (
        "O", "BANKBEBBAXXX", "BANKDEFFAXXX", "1234", "567890")
    assert (env.input_time, env.mir_date, env.mir_session, env.mir_sequence) == (
        "1200", "240506", "0001", "123456")
    assert (env.output_date, env.output_time, env.priority) == ("240506", "1201", "N")
    assert build_mt(msg) == text


def test_errors_pickle() -> None:
    err = MtBadField("x", tag="32A", line=3)
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), copy.code, copy.tag, copy.line, str(copy)) == (
        MtBadField, "MT_BAD_FIELD", "32A", 3, str(err))


# --- other message types ----------------------------------------------------------------------

BANK = Party(option="A", bic="BANKUS33XXX")


def cov() -> MT202COV:
    return MT202COV(
        envelope=ENV, uetr=UETR, sender_ref="COV-1", related_ref="REF-1",
        value_date=datetime.date(2025, 1, 2), currency="USD", amount=100000,
        beneficiary_institution=Party(option="A", bic="BANKDEFF"),
        intermediary=Party(option="A", account="123456", bic="BANKUS33"),
        underlying_ordering_customer=Party(option="K", account="111", lines=("A CORP",)),
        underlying_beneficiary=Party(option="", account="222", lines=("B LTD", "BERLIN")),
        underlying_remittance_info=("INV 1",),
        underlying_instructed_amount=None,
    )


def test_mt202cov_text_and_dispatch() -> None:
    text = build_mt(cov())
    assert "{3:{119:COV}{121:" + UETR + "}}" in text
    assert text.index(":58A:") < text.index(":50K:") < text.index(":59:")
    assert parse_mt(text) == cov()
    plain = MT202(envelope=ENV, uetr=UETR, sender_ref="B-1", related_ref="NONREF",
                  value_date=datetime.date(2025, 1, 2), currency="USD", amount=5,
                  beneficiary_institution=BANK)
    assert "{119:" not in build_mt(plain)
    assert parse_mt(build_mt(plain)) == plain
    with pytest.raises(MtBadBlock):
        build_mt(MT202(envelope=Envelope(sender="BANKBEBBAXXX", receiver="BANKDEFFXXXX",
                                         user_header=UserHeader(validation_flag="COV")),
                       uetr=UETR, sender_ref="B-1", related_ref="NONREF",
                       value_date=datetime.date(2025, 1, 2), currency="USD", amount=5,
                       beneficiary_institution=BANK))


def test_mt202cov_missing_sequence_b() -> None:
    text = build_mt(cov())
    body_end = text.index(":50K:")
    with pytest.raises(MtMissingField) as info:
        parse_mt(text[:body_end] + "-}")
    assert info.value.tag == "50a"


def statement(cls: type[MT940] | type[MT950]) -> MT940 | MT950:
    entries = (
        StatementLine(value_date=datetime.date(2024, 5, 6), entry_date="0506", mark="C",
                      amount=50000, transaction_type="NTRF", customer_ref="NONREF",
                      bank_ref="B1", info=("PAYMENT A",) if cls is MT940 else None),
        StatementLine(value_date=datetime.date(2024, 5, 6), mark="RD", funds_code="R",
                      amount=125, transaction_type="NCHG", customer_ref="FEE",
                      details="CHARGES MAY"),
    )
    common = {
        "envelope": ENV, "sender_ref": "STMT-1", "statement_number": "00001/001",
        "opening_balance": Balance(mark="C", date=datetime.date(2024, 5, 5), currency="EUR",
                                   amount=100000, option="F"),
        "closing_balance": Balance(mark="C", date=datetime.date(2024, 5, 6), currency="EUR",
                                   amount=149875, option="F"),
        "entries": entries,
        "closing_available_balance": Balance(mark="C", date=datetime.date(2024, 5, 6),
                                             currency="EUR", amount=149875),
    }
    if cls is MT940:
        return MT940(account=Party(option="", account="NL00BANK0123456789"),
                     information=("END OF STATEMENT",), **common)
    return MT950(account=Party(option="", account="NL00BANK0123456789"), **common)


@pytest.mark.parametrize("cls", [MT940, MT950])
def test_statements(cls: type[MT940] | type[MT950]) -> None:
    msg = statement(cls)
    text = build_mt(msg)
    assert ":61:2405060506C500,00NTRFNONREF//B1\r\n" in text
    assert ":61:240506RDR1,25NCHGFEE\r\nCHARGES MAY\r\n" in text
    assert (":86:PAYMENT A\r\n" in text) is (cls is MT940)
    assert parse_mt(text) == msg


def test_statement_currency_must_agree() -> None:
    text = build_mt(statement(MT940)).replace(":62F:C240506EUR", ":62F:C240506USD")
    with pytest.raises(MtBadField) as info:
        parse_mt(text)
    assert info.value.tag == "62F"


def test_mt199_gpi_confirmation() -> None:
    msg = MT199(envelope=ENV, uetr=UETR, sender_ref="GPI-1", related_ref="REF-1",
                narrative=("//1505+0100", "//ACCC", "//EUR1234,56"))
    text = build_mt(msg)
    assert ":79://1505+0100\r\n//ACCC\r\n//EUR1234,56\r\n" in text
    assert parse_mt(text) == msg


def test_mt192_and_mt196() -> None:
    cancel = MT192(envelope=ENV, sender_ref="CXL-1", related_ref="REF-1",
                   original_message=("103", "240506"), narrative=("DUPLICATE",))
    assert parse_mt(build_mt(cancel)) == cancel
    answer = MT196(envelope=ENV, sender_ref="ANS-1", related_ref="CXL-1",
                   answers=("/CNCL/",), original_message=("103", "240506"),
                   original_message_option="R")
    text = build_mt(answer)
    assert ":11R:103\r\n240506\r\n" in text
    assert parse_mt(text) == answer


def test_mt900_and_mt910() -> None:
    debit = MT900(envelope=ENV, sender_ref="D-1", related_ref="REF-1",
                  account=Party(option="", account="12345"), debit_time="2405061200+0100",
                  value_date=datetime.date(2024, 5, 6), currency="EUR", amount=1)
    assert ":25:12345\r\n:13D:2405061200+0100\r\n:32A:240506EUR0,01\r\n" in build_mt(debit)
    assert parse_mt(build_mt(debit)) == debit
    credit = MT910(envelope=ENV, sender_ref="C-1", related_ref="REF-1",
                   account=Party(option="P", account="12345", bic="BANKDEFF"),
                   value_date=datetime.date(2024, 5, 6), currency="EUR", amount=100,
                   ordering_customer=Party(option="K", lines=("ACME",)))
    assert ":25P:12345\r\nBANKDEFF\r\n" in build_mt(credit)
    assert parse_mt(build_mt(credit)) == credit


# --- build refuses what it could not parse back ---------------------------------------------------


def base103(**changes: object) -> MT103:
    values: dict[str, object] = {
        "envelope": ENV, "uetr": UETR, "sender_ref": "REF-1", "bank_operation_code": "CRED",
        "value_date": datetime.date(2024, 5, 6), "currency": "EUR", "amount": 123456,
        "ordering_customer": Party(option="K", lines=("JOHN",)),
        "beneficiary": Party(option="", lines=("JANE",)), "charges": "SHA"}
    values.update(changes)
    return MT103(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "error", "tag"), [
    ({"uetr": None}, MtMissingField, "121"),
    ({"amount": -1}, MtBadField, "32A"),
    ({"currency": "XAU"}, MtBadField, "32A"),
    ({"sender_ref": "A" * 17}, MtBadField, "20"),
    ({"sender_ref": "A{B"}, MtBadField, "20"),
    ({"charges": "sha"}, MtBadField, "71A"),
    ({"beneficiary": Party(option="B", lines=("JANE",))}, MtBadField, "59a"),
    ({"beneficiary": Party(option="", lines=("JANE", ":20:X"))}, MtBadField, "59"),
    ({"beneficiary": Party(option="", lines=("JA\r\nNE",))}, MtBadField, "59"),
    ({"beneficiary": Party(option="A", bic="BANK")}, MtBadField, "59A"),
    ({"remittance_info": ("X",) * 5}, MtBadField, "70"),
    ({"value_date": datetime.date(1999, 1, 1)}, MtBadField, "32A"),
])
def test_build_rejects(changes: dict[str, object], error: type[MtError], tag: str) -> None:
    with pytest.raises(error) as info:
        build_mt(base103(**changes))
    assert info.value.tag == tag


def test_build_rejects_bad_envelope() -> None:
    with pytest.raises(MtBadBlock):
        build_mt(base103(envelope=Envelope(sender="SHORT", receiver="BANKDEFFXXXX")))
    with pytest.raises(MtBadBlock):
        build_mt(base103(envelope=Envelope(sender="BANKBEBBAXXX", receiver="BANKDEFFXXXX",
                                           trailer=(("CHK", "}"),))))


# --- the tables ---------------------------------------------------------------------------------


def test_every_spec_tag_has_a_format_and_every_attr_a_struct_field() -> None:
    for mt, entries in MESSAGE_SPECS.items():
        fields = set(MESSAGE_CLASSES[mt].__struct_fields__)
        for attr, tag, _, _ in entries:
            assert set(attr.split()) <= fields, (mt, attr)
            subs = tag if isinstance(tag, tuple) else ((attr, tag, "", ""),)
            for _, sub_tag, _, _ in subs:
                assert isinstance(sub_tag, str)
                if ":" in sub_tag:
                    base, options = sub_tag.split(":")
                    tags = [base[:-1] + ("" if c == "_" else c) for c in options]
                else:
                    tags = [sub_tag]
                assert all(t in FIELD_FORMATS for t in tags), (mt, sub_tag)


def test_format_compiler() -> None:
    fmt = compile_format("6!n[4!n]2a", "a b c")
    assert fmt.regex.fullmatch("2405060506C").groups() == ("240506", "0506", "C")
    assert fmt.regex.fullmatch("240506C").groups() == ("240506", None, "C")
    assert FORMATS["79"].regex.fullmatch("\r\n".join(["X" * 50] * 35))
    assert not FORMATS["79"].regex.fullmatch("\r\n".join(["X" * 50] * 36))
    assert decode("61", "240506C1,NTRFREF") == {  # absent optional parts are None
        "date": "240506", "entry_date": None, "mark": "C", "funds_code": None, "amount": "1,",
        "type": "NTRF", "customer_ref": "REF", "bank_ref": None, "details": None}
    assert encode("52A", {"mark": "C", "account": "9", "bic": "BANKBEBB"}) == "/C/9\r\nBANKBEBB"
    with pytest.raises(ValueError, match="unbalanced"):
        compile_format("[3!a", "x")
