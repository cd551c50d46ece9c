"""Hypothesis strategies shared by the MX codec tests after pacs.008, and checks of the
strategies themselves (a strategy that never draws a KWD amount tests nothing about it)."""

from __future__ import annotations

import datetime
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages.currency import CURRENCIES, exponent
from messages.iso20022 import (
    Agent,
    BankTransactionCode,
    Charge,
    Entry,
    EntryTransaction,
    NextAgentInstruction,
    PartyAccount,
)

R = TypeVar("R")

# Free text: any XML character, plus the ones that need escaping, CR, and Chinese.
_chars = st.one_of(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"),
    st.sampled_from("<&>\"'\r\n\t]]张三李四银行有限公司"),
)


def text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_chars, min_size=1, max_size=max_size)


ids = text(35)
bics = st.from_regex(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?", fullmatch=True)
cnaps = st.from_regex(r"[0-9]{12}", fullmatch=True)
leis = st.from_regex(r"[A-Z0-9]{18}[0-9]{2}", fullmatch=True)
uetrs = st.uuids(version=4).map(str)
codes4 = st.from_regex(r"[A-Z0-9]{4}", fullmatch=True)
# Exponents 0 (JPY, KRW), 2 (CNY), 3 (KWD, BHD) and 4 (CLF) drawn often; any payable code too.
_payable = sorted(c for c, row in CURRENCIES.items() if row.exponent is not None)
currencies = st.sampled_from(["JPY", "KRW", "CNY", "USD", "KWD", "BHD", "CLF"]) | \
    st.sampled_from(_payable)
amounts = st.integers(1, 10**15)
dates = st.dates(datetime.date(2000, 1, 1), datetime.date(2199, 12, 31))
aware = st.datetimes(
    min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2200, 1, 1),
    timezones=st.integers(-14 * 60, 14 * 60).map(
        lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
    ),
)
accounts = st.one_of(
    cnaps, text(34), st.sampled_from(["GB82WEST12345698765432", "DE89370400440532013000"])
)


@st.composite
def agents(draw: st.DrawFn, systems: tuple[str, ...] = ("CNAPS", "USABA", "HVPS", "CIPS")
           ) -> Agent:
    member_id = draw(st.none() | cnaps | ids)
    return Agent(
        bic=draw(st.none() | bics),
        member_id=member_id,
        clearing_system=None if member_id is None else draw(
            st.none() | st.sampled_from(systems) | ids
        ),
        lei=draw(st.none() | leis),
        name=draw(st.none() | text(140)),
    )


# CBPR+: a party has a name, a BIC (AnyBIC), or both.
_named = st.tuples(text(140), st.none() | bics) | st.tuples(st.none(), bics)
parties = _named.flatmap(lambda named: st.builds(
    PartyAccount,
    name=st.just(named[0]),
    account=st.none() | accounts,
    country=st.none() | st.from_regex(r"[A-Z]{2}", fullmatch=True),
    address_lines=st.lists(text(70), max_size=7).map(tuple),
    bic=st.just(named[1]),
))

# Charges (zero is a valid charge), next-agent instructions and an instructed amount.
charges = st.lists(st.builds(Charge, amount=st.integers(0, 10**12), currency=currencies,
                             agent=agents()), max_size=3).map(tuple)
next_agent_instructions = st.lists(
    st.builds(NextAgentInstruction, code=st.none() | st.sampled_from(["PHOA", "TELA"]),
              info=st.none() | text(140)).filter(lambda i: i.code or i.info),
    max_size=3).map(tuple)
instructed_amounts = st.none() | st.tuples(amounts, currencies)

indicators = st.sampled_from(["CRDT", "DBIT"])
# A Dt or, as a tz-aware datetime, a DtTm.
dates_or_times = dates | aware


@st.composite
def bank_tx_codes(draw: st.DrawFn) -> BankTransactionCode:
    domain = draw(st.booleans())
    proprietary = draw(ids) if not domain else draw(st.none() | ids)
    return BankTransactionCode(
        domain=draw(codes4) if domain else None,
        family=draw(codes4) if domain else None,
        sub_family=draw(codes4) if domain else None,
        proprietary=proprietary,
        issuer=None if proprietary is None else draw(st.none() | ids),
    )


@st.composite
def entry_transactions(draw: st.DrawFn) -> EntryTransaction:
    with_amount = draw(st.booleans())
    return EntryTransaction(
        end_to_end_id=draw(st.none() | ids), uetr=draw(st.none() | uetrs),
        tx_id=draw(st.none() | ids), instr_id=draw(st.none() | ids),
        msg_id=draw(st.none() | ids), servicer_ref=draw(st.none() | ids),
        amount=draw(amounts) if with_amount else None,
        currency=draw(currencies) if with_amount else None,
        credit_debit=draw(st.none() | indicators),
        debtor=draw(st.none() | parties), creditor=draw(st.none() | parties),
        debtor_agent=draw(st.none() | agents()), creditor_agent=draw(st.none() | agents()),
        remittance_info=draw(st.none() | text(140)),
        additional_info=draw(st.none() | text(500)),
    )


entries = st.builds(
    Entry,
    amount=amounts, currency=currencies, credit_debit=indicators,
    booking_date=st.none() | dates_or_times, value_date=st.none() | dates_or_times,
    status=st.sampled_from(["BOOK", "PDNG", "INFO", "FUTR"]),
    reference=st.none() | ids, servicer_ref=st.none() | ids, reversal=st.booleans(),
    bank_tx_code=st.none() | bank_tx_codes(),
    transactions=st.lists(entry_transactions(), max_size=3).map(tuple),
    additional_info=st.none() | text(500),
)

def report(draw: st.DrawFn, kind: type[R], **items: st.SearchStrategy[Any]) -> R:
    """A camt.053 Stmt or camt.054 Ntfctn (`kind`): the report head drawn here, `items` (the
    report's own tuples) drawn in the order given, after its id and account."""
    paged = draw(st.booleans())
    period = draw(st.booleans())
    head = {"id": draw(ids), "account": draw(accounts)}
    head.update({name: draw(items[name]) for name in items})
    return kind(
        **head,
        account_currency=draw(st.none() | currencies),
        account_name=draw(st.none() | text(70)),
        account_servicer=draw(st.none() | agents()),
        sequence_number=draw(st.none() | st.integers(0, 10**18 - 1)),
        page_number=draw(st.integers(0, 99999)) if paged else None,
        last_page=draw(st.booleans()) if paged else True,
        created_at=draw(st.none() | aware),
        from_time=draw(aware) if period else None,
        to_time=draw(aware) if period else None,
        additional_info=draw(st.none() | text(500)),
    )


settings_ = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


def test_currencies_cover_every_exponent_in_use() -> None:
    seen: set[int] = set()

    @settings(max_examples=200, database=None)
    @given(currencies)
    def draw(code: str) -> None:
        seen.add(exponent(code))

    draw()
    assert {0, 2, 3} <= seen
