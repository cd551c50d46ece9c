"""Round trips of every supported MT type: typed -> FIN text -> typed is the identity."""

from __future__ import annotations

import datetime
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from messages.mt import (
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
    Money,
    Party,
    StatementLine,
    UserHeader,
    build_mt,
    parse_mt,
)
from messages.mt.specs import FIELD_FORMATS

X = string.ascii_letters + string.digits + "/-?:().,'+ "
UPPER = string.ascii_uppercase
ALNUM = UPPER + string.digits


def text(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


def fixed(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return text(alphabet, size, size)


def line(max_size: int) -> st.SearchStrategy[str]:
    # a line may not begin with ':' or '-' (a new field, the end of block 4); '/' would read
    # as an account line, so the strategy leaves it out at the start
    return text(X, 1, max_size).filter(lambda s: s[0] not in ":-/")


def lines(count: int, width: int) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(line(width), min_size=1, max_size=count).map(tuple)


reference = text(ALNUM + "-.?+", 1, 16)
dates = st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31))
CURRENCIES = ["EUR", "USD", "JPY", "BHD", "CNY", "GBP"]
currencies = st.sampled_from(CURRENCIES)
minor = st.integers(0, 10**13 - 1)
uetrs = st.uuids(version=4).map(str)
bics = st.builds(lambda a, b, c, d: a + b + c + d, fixed(UPPER, 4), fixed(UPPER, 2),
                 fixed(ALNUM, 2), st.one_of(st.just(""), fixed(ALNUM, 3)))
accounts = text(ALNUM, 2, 34)
addresses = st.builds(lambda bic, lt: bic[:8] + lt + (bic[8:] or "XXX"), bics, fixed(ALNUM, 1))


def party(tag: str, option: str) -> st.SearchStrategy[Party]:
    full = tag + option
    roles = set(FIELD_FORMATS[full][1].split())
    notation = FIELD_FORMATS[full][0]
    kw: dict[str, st.SearchStrategy[Any]] = {"option": st.just(option)}
    if "mark" in roles:
        kw["mark"] = st.one_of(st.none(), st.sampled_from("CD"))
    if "bic" in roles:
        kw["bic"] = bics
    if option == "B":
        kw["account"] = accounts
        kw["lines"] = st.one_of(st.just(()), lines(1, 35))
    elif notation.startswith(("35x", "/34x")):  # 50F, 25, 25P, C: the identifier is required
        kw["account"] = accounts
    elif "account" in roles:
        kw["account"] = st.one_of(st.none(), accounts)
    if "lines" in roles and option != "B":
        kw["lines"] = lines(4, 35)
    strategy = st.builds(Party, **kw)
    if "mark" in roles:  # a mark is written only before an account
        strategy = strategy.filter(lambda p: p.mark is None or p.account is not None)
    return strategy


def parties(tag: str, options: str) -> st.SearchStrategy[Party]:
    return st.one_of(*(party(tag, "" if o == "_" else o) for o in options))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


money = st.builds(Money, currencies, minor)
narrow = st.integers(0, 10**10)  # 61 amounts stay inside 15d for every currency

envelopes = st.builds(
    Envelope, sender=addresses, receiver=addresses,
    session=fixed(string.digits, 4), sequence=fixed(string.digits, 6),
    priority=st.sampled_from([None, "N", "U"]),
    user_header=st.builds(UserHeader, mur=optional(text(ALNUM, 1, 16)),
                          service_type=optional(st.just("001"))),
    trailer=st.lists(st.tuples(st.sampled_from(["CHK", "PDE", "MAC"]), text(ALNUM, 0, 12)),
                     max_size=2).map(tuple),
)
output_envelopes = st.builds(
    Envelope, sender=addresses, receiver=addresses, direction=st.just("O"),
    input_time=fixed(string.digits, 4), mir_date=fixed(string.digits, 6),
    mir_session=fixed(string.digits, 4), mir_sequence=fixed(string.digits, 6),
    output_date=fixed(string.digits, 6), output_time=fixed(string.digits, 4),
    priority=st.sampled_from([None, "N"]),
)
any_envelope = st.one_of(envelopes, output_envelopes)

common = {"envelope": any_envelope, "sender_ref": reference}
value_amount = {"value_date": dates, "currency": currencies, "amount": minor}




mt103 = st.builds(
    MT103, uetr=uetrs, bank_operation_code=st.sampled_from(["CRED", "SPAY", "SSTD"]),
    ordering_customer=parties("50", "AFK"), beneficiary=parties("59", "_AF"),
    charges=st.sampled_from(["OUR", "SHA", "BEN"]),
    time_indications=st.lists(st.just("/SNDTIME/1249+0200"), max_size=2).map(tuple),
    instruction_codes=st.lists(st.sampled_from(["SDVA", "INTC", "PHOB/0049 123"]),
                               max_size=2).map(tuple),
    transaction_type=optional(fixed(ALNUM, 3)), instructed_amount=optional(money),
    exchange_rate=optional(st.just("0,9236")),
    sending_institution=optional(party("51", "A")),
    ordering_institution=optional(parties("52", "AD")),
    senders_correspondent=optional(parties("53", "ABD")),
    receivers_correspondent=optional(parties("54", "ABD")),
    third_reimbursement_institution=optional(parties("55", "ABD")),
    intermediary=optional(parties("56", "ACD")),
    account_with_institution=optional(parties("57", "ABCD")),
    remittance_info=optional(lines(4, 35)),
    sender_charges=st.lists(money, max_size=3).map(tuple), receiver_charges=optional(money),
    sender_to_receiver_info=optional(lines(6, 35)), regulatory_reporting=optional(lines(3, 35)),
    **common, **value_amount,
)
mt202_fields: dict[str, st.SearchStrategy[Any]] = {
    "uetr": uetrs, "related_ref": reference,
    "beneficiary_institution": parties("58", "AD"),
    "time_indications": st.lists(st.just("/CLSTIME/0915+0100"), max_size=1).map(tuple),
    "ordering_institution": optional(parties("52", "AD")),
    "senders_correspondent": optional(parties("53", "ABD")),
    "receivers_correspondent": optional(parties("54", "ABD")),
    "intermediary": optional(parties("56", "AD")),
    "account_with_institution": optional(parties("57", "ABD")),
    "sender_to_receiver_info": optional(lines(6, 35)),
    **common, **value_amount,
}
mt202 = st.builds(MT202, **mt202_fields)
mt202cov = st.builds(
    MT202COV, underlying_ordering_customer=parties("50", "AFK"),
    underlying_beneficiary=parties("59", "_AF"),
    underlying_ordering_institution=optional(parties("52", "AD")),
    underlying_intermediary=optional(parties("56", "ACD")),
    underlying_account_with_institution=optional(parties("57", "ABCD")),
    underlying_remittance_info=optional(lines(4, 35)),
    underlying_sender_to_receiver_info=optional(lines(6, 35)),
    underlying_instructed_amount=optional(money), **mt202_fields,
)
mt199 = st.builds(MT199, uetr=optional(uetrs), related_ref=optional(reference),
                  narrative=lines(35, 50), **common)
mt192 = st.builds(MT192, related_ref=reference,
                  original_message=st.tuples(fixed(string.digits, 3), fixed(string.digits, 6)),
                  narrative=optional(lines(35, 50)), **common)
mt196 = st.builds(
    MT196, related_ref=reference, answers=lines(6, 35), narrative_answer=optional(lines(20, 35)),
    original_message=st.tuples(fixed(string.digits, 3), fixed(string.digits, 6)),
    original_message_option=st.sampled_from("RS"), narrative=optional(lines(35, 50)), **common)
times = fixed(string.digits, 10).map(lambda s: s + "+0100")
mt900 = st.builds(MT900, related_ref=reference, account=parties("25", "_P"),
                  debit_time=optional(times), ordering_institution=optional(parties("52", "AD")),
                  sender_to_receiver_info=optional(lines(6, 35)), **common, **value_amount)
mt910 = st.builds(MT910, related_ref=reference, account=parties("25", "_P"),
                  credit_time=optional(times), ordering_customer=optional(parties("50", "AFK")),
                  ordering_institution=optional(parties("52", "AD")),
                  intermediary=optional(parties("56", "AD")),
                  sender_to_receiver_info=optional(lines(6, 35)), **common, **value_amount)


def entries(with_info: bool) -> st.SearchStrategy[tuple[StatementLine, ...]]:
    entry = st.builds(
        StatementLine, value_date=dates, mark=st.sampled_from(["C", "D", "RC", "RD"]),
        amount=narrow, transaction_type=st.builds(lambda a, b: a + b, st.sampled_from("NSF"),
                                                  fixed(ALNUM, 3)),
        customer_ref=text(ALNUM + "-.", 1, 16),
        entry_date=optional(dates.map(lambda d: d.strftime("%m%d"))),
        funds_code=optional(fixed(UPPER, 1)), bank_ref=optional(text(ALNUM, 1, 16)),
        details=optional(line(34)),
        info=optional(lines(6, 65)) if with_info else st.none())
    return st.lists(entry, max_size=5).map(tuple)


def statement(cls: type[Any], with_info: bool) -> st.SearchStrategy[Any]:
    def build(currency: str, values: dict[str, Any]) -> Any:
        def bal(b: tuple[str, datetime.date, int, str]) -> Balance:
            return Balance(mark=b[0], date=b[1], currency=currency, amount=b[2], option=b[3])

        for key in ("opening_balance", "closing_balance", "closing_available_balance"):
            if values.get(key) is not None:
                values[key] = bal(values[key])
        if "forward_available_balances" in values:
            values["forward_available_balances"] = tuple(
                bal(b) for b in values["forward_available_balances"])
        return cls(**values)

    raw = st.tuples(st.sampled_from("CD"), dates, minor, st.sampled_from("FM"))
    plain = st.tuples(st.sampled_from("CD"), dates, minor, st.just(""))
    kw: dict[str, st.SearchStrategy[Any]] = {
        "account": parties("25", "_P") if cls is MT940 else party("25", ""),
        "statement_number": st.sampled_from(["1", "00001/001", "12345/99999"]),
        "opening_balance": raw, "closing_balance": raw,
        "closing_available_balance": optional(plain), "entries": entries(with_info), **common}
    if cls is MT940:
        kw.update(related_ref=optional(reference),
                  forward_available_balances=st.lists(plain, max_size=2).map(tuple),
                  information=optional(lines(6, 65)))
    return st.builds(build, currencies, st.fixed_dictionaries(kw))


ALL = {
    "103": mt103, "202": mt202, "202COV": mt202cov, "199": mt199, "192": mt192, "196": mt196,
    "900": mt900, "910": mt910, "940": statement(MT940, True), "950": statement(MT950, False),
}


def round_trip(msg: Any) -> None:
    text = build_mt(msg)
    assert parse_mt(text) == msg
    assert build_mt(parse_mt(text)) == text


@settings(max_examples=150, deadline=None)
@given(msg=mt103)
def test_mt103_round_trip(msg: MT103) -> None:
    round_trip(msg)


@settings(max_examples=100, deadline=None)
@given(msg=st.one_of(mt202, mt202cov))
def test_mt202_and_cov_round_trip(msg: MT202) -> None:
    round_trip(msg)


@settings(max_examples=100, deadline=None)
@given(msg=st.one_of(ALL["940"], ALL["950"]))
def test_statement_round_trip(msg: MT940 | MT950) -> None:
    round_trip(msg)


@settings(max_examples=100, deadline=None)
@given(msg=st.one_of(mt199, mt192, mt196, mt900, mt910))
def test_other_types_round_trip(msg: Any) -> None:
    round_trip(msg)


def test_every_supported_type_has_a_strategy() -> None:
    from messages.mt import MESSAGE_CLASSES

    assert set(ALL) == set(MESSAGE_CLASSES)
