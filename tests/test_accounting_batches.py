"""Micro-payment batches and position funding: events and rules from the books, on both stores."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.config import Books, parse_books, split_fee
from accounting.core import pro_rata, vat_shares
from accounting.errors import BooksConfigError, Code
from accounting.ledger import Ledger, open_ledger
from tests.test_accounting_support import RAW, Events, T, assert_books_sound, by_account

MEMBERS = [("m1", "6217000000000011", 500), ("m2", "6217000000000012", 250),
           ("m3", "6217000000000013", 200)]


def _members(amounts: list[int] | None = None) -> list[dict[str, Any]]:
    return [{"payment_id": pid, "debtor_account": debtor, "amount": amount}
            for (pid, debtor, _), amount in zip(MEMBERS, amounts or [m[2] for m in MEMBERS],
                                                strict=True)]


def _payee_books() -> Books:
    """The shipped books, with the batch fee charged once to the batch's payee instead."""
    raw = copy.deepcopy(RAW)
    raw["events"]["batch.settled"]["fields"].append("payee_account")
    raw["rules"] = [r for r in raw["rules"] if r["name"] != "batch-fee-pro-rata"] + [{
        "name": "batch-fee-to-payee", "event": "batch.settled", "amount": "fee",
        "legs": [{"debit": "customer:{payee_account}", "credit": "fee-income:{channel}",
                  "part": "net"},
                 {"debit": "customer:{payee_account}", "credit": "vat-payable",
                  "part": "vat"}]}]
    return parse_books(raw)


async def _open(url: str, books: Books | None = None) -> Ledger:
    ledger = open_ledger(url, books)
    await ledger.open()
    return ledger


@pytest.fixture
async def ledger(store_url: str) -> AsyncIterator[Ledger]:
    led = await _open(store_url)
    try:
        yield led
    finally:
        await led.close()


async def _accept_members(ledger: Ledger, ev: Events) -> None:
    results = await ledger.post_events(
        [ev.make("payment.accepted", pid, amount, debtor=debtor) for pid, debtor, amount
         in MEMBERS], T)
    assert [r.status for r in results] == ["posted"] * 3


# -- the allocation: integer shares that add up exactly -------------------------------------------
@given(st.integers(0, 10**12), st.lists(st.integers(0, 10**9), min_size=1, max_size=50))
def test_pro_rata_shares_add_up_exactly_and_the_remainder_goes_to_the_largest(
        total: int, weights: list[int]) -> None:
    shares = pro_rata(total, weights)
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)
    largest = weights.index(max(weights))
    whole = sum(weights)
    if not whole:  # nothing to weigh by: all of it to the first member
        assert shares == [total] + [0] * (len(weights) - 1)
        return
    for i, (share, w) in enumerate(zip(shares, weights, strict=True)):
        exact = Fraction(total * w, whole)
        if i == largest:
            assert exact <= share < exact + len(weights)  # rounded down, plus the remainder
        else:
            assert share == int(exact)  # rounded down


@given(st.integers(0, 10**9), st.lists(st.integers(1, 10**7), min_size=1, max_size=40),
       st.sampled_from(["0.06", "0.13", "0"]))
def test_vat_spreads_over_fee_shares_within_each_share(fee: int, weights: list[int],
                                                       rate: str) -> None:
    shares = pro_rata(fee, weights)
    _, vat = split_fee(fee, Fraction(rate), True)
    vats = vat_shares(vat, shares)
    assert sum(vats) == vat  # the batch's VAT, computed once on the whole fee
    assert all(0 <= v <= s for v, s in zip(vats, shares, strict=True))  # net share >= 0
    assert sum(s - v for s, v in zip(shares, vats, strict=True)) == fee - vat


def test_allocation_examples() -> None:
    assert pro_rata(100, [500, 250, 200]) == [53, 26, 21]  # 52.6, 26.3, 21.05: 1 left over
    assert pro_rata(7, [0, 0]) == [7, 0]  # nothing to weigh by: all to the first
    assert vat_shares(6, [53, 26, 21]) == [4, 1, 1]
    assert vat_shares(6, [1] * 8) == [1, 1, 1, 1, 1, 1, 0, 0]


# -- a batch on the ledger ------------------------------------------------------------------------
async def test_a_batch_posts_each_members_hold_and_allocates_the_fee_once(ledger: Ledger
                                                                          ) -> None:
    ev = Events()
    await _accept_members(ledger, ev)
    batched = await ledger.post_events([ev.make("payment.batched", pid, amount, batch_id="B1")
                                        for pid, _, amount in MEMBERS], T)
    assert {r.status for r in batched} == {"no_entry"}  # joining a batch moves nothing
    # m2 was held 250 and settles 200 in the batch (a partial settlement: 50 released)
    settled = await ledger.post_events([ev.make("batch.settled", "B1", 900, channel="BEPS",
                                                fee=100, members=_members([500, 200, 200]))],
                                       T)
    assert (settled[0].status, settled[0].code) == ("posted", Code.OK)
    b = by_account(await ledger.balances())
    fees = {pid: b[f"customer:{debtor}"].debits_posted - paid
            for (pid, debtor, _), paid in zip(MEMBERS, [500, 200, 200], strict=True)}
    assert fees == {"m1": 56, "m2": 22, "m3": 22}  # 55.5, 22.2, 22.2: the 1 left to m1
    assert sum(fees.values()) == 100  # the members' allocations are exactly the batch fee
    assert b["fee-income:BEPS"].credits_posted + b["vat-payable"].credits_posted == 100
    assert b["vat-payable"].credits_posted == split_fee(100, Fraction("0.06"), True)[1] == 6
    assert b["clearing:BEPS"].credits_posted == 900  # one channel payment for the batch
    assert all(b[f"customer:{d}"].debits_pending == 0 for _, d, _ in MEMBERS)  # rest released
    assert b["in-transit"].credits_pending == 0 and b["in-transit"].net == 0
    # a member's entries include the batch's, which posted its hold
    m2 = await ledger.entries_for_payment("m2")
    assert [e.event_type for e in m2] == ["payment.accepted", "batch.settled"]
    assert [e.payment_id for e in m2] == ["m2", "B1"]
    await assert_books_sound(ledger)


async def test_the_fee_allocation_follows_the_members_amounts(ledger: Ledger) -> None:
    ev = Events()
    await _accept_members(ledger, ev)
    await ledger.post_events([ev.make("batch.settled", "B1", 950, channel="BEPS", fee=100,
                                      members=_members())], T)
    b = by_account(await ledger.balances())
    fees = [b[f"customer:{debtor}"].debits_posted - amount for _, debtor, amount in MEMBERS]
    assert fees == pro_rata(100, [500, 250, 200]) == [53, 26, 21]
    [entry] = await ledger.entries_for_payment("B1")
    posted = [p for p in entry.postings if p[2] == "P"]
    legs = list(zip(posted[::2], posted[1::2], strict=True))  # (debit, credit) pairs in order
    member_vat = [sum(dr[3] for dr, cr in legs if dr[0] == f"customer:{debtor}"
                      and cr[0] == "vat-payable") for _, debtor, _ in MEMBERS]
    assert member_vat == vat_shares(6, [53, 26, 21]) == [4, 1, 1]
    await assert_books_sound(ledger)


async def test_a_batch_is_all_or_nothing_and_idempotent(ledger: Ledger) -> None:
    ev = Events()
    await _accept_members(ledger, ev)
    before = await ledger.balances()
    stranger = [*_members(), {"payment_id": "never-accepted", "debtor_account": "6217",
                              "amount": 5}]
    twice = [*_members(), _members()[0]]
    over = _members([501, 250, 200])
    results = await ledger.post_events([
        ev.make("batch.settled", "B1", 955, channel="BEPS", fee=10, members=stranger),
        ev.make("batch.settled", "B2", 1450, channel="BEPS", fee=10, members=twice),
        ev.make("batch.settled", "B3", 951, channel="BEPS", fee=10, members=over),
        ev.make("batch.settled", "B4", 1, channel="BEPS", fee=10, members=_members()),
        ev.make("batch.settled", "B5", 950, channel="BEPS", fee=10, members=[]),
    ], T)
    assert [(r.status, r.code) for r in results] == [
        ("rejected", Code.PENDING_TRANSFER_NOT_FOUND),
        ("rejected", Code.PENDING_TRANSFER_ALREADY_POSTED),
        ("rejected", Code.EXCEEDS_PENDING_TRANSFER_AMOUNT),
        ("rejected", Code.INVALID_AMOUNT),  # the batch total is not its members' sum
        ("rejected", Code.MISSING_FIELD)]
    assert await ledger.balances() == before  # no member was touched by a refused batch
    good = ev.make("batch.settled", "B6", 950, channel="BEPS", fee=10, members=_members())
    first = await ledger.post_events([good], T)
    assert first[0].status == "posted"
    booked = await ledger.balances()
    again = await ledger.post_events([good], T)
    assert (again[0].status, again[0].entry_id) == ("exists", first[0].entry_id)
    other = good.__class__(good.event_id, "B6", "batch.settled",
                           {**good.body, "members": _members([500, 250, 199]), "amount": 949},
                           T)
    conflict = await ledger.post_events([other], T)
    assert (conflict[0].status, conflict[0].code) == ("conflict",
                                                      Code.EXISTS_WITH_DIFFERENT_AMOUNT)
    # settled members cannot be settled again, by a batch or alone
    late = await ledger.post_events([
        ev.make("batch.settled", "B7", 950, channel="BEPS", fee=10, members=_members()),
        ev.make("payment.rejected", "m1", 500)], T)
    assert [r.code for r in late] == [Code.PENDING_TRANSFER_ALREADY_POSTED] * 2
    assert await ledger.balances() == booked
    await assert_books_sound(ledger)


async def test_the_batch_fee_can_be_charged_to_the_payee(store_url: str) -> None:
    ledger = await _open(store_url, _payee_books())
    try:
        ev = Events()
        await _accept_members(ledger, ev)
        r = await ledger.post_events([ev.make("batch.settled", "B1", 950, channel="BEPS",
                                              fee=100, payee_account="6217999",
                                              members=_members())], T)
        assert r[0].status == "posted"
        b = by_account(await ledger.balances())
        assert b["customer:6217999"].debits_posted == 100  # the payee pays the fee once
        assert [b[f"customer:{d}"].debits_posted for _, d, _ in MEMBERS] == [500, 250, 200]
        assert (b["fee-income:BEPS"].credits_posted, b["vat-payable"].credits_posted) == (94, 6)
        await assert_books_sound(ledger)
    finally:
        await ledger.close()


# -- funding a position ---------------------------------------------------------------------------
async def test_treasury_funds_and_sweeps_a_channel_position(ledger: Ledger) -> None:
    ev = Events()
    funded = await ledger.post_events([
        ev.make("position.funded", "TR-1", 0, channel="IBPS", **{"in": 1_000_000}),
        ev.make("position.funded", "TR-2", 0, channel="IBPS", out=250_000),
        ev.make("position.funded", "TR-3", 0, channel="IBPS", out=-5),
    ], T)
    assert [(r.status, r.code) for r in funded] == [
        ("posted", Code.OK), ("posted", Code.OK), ("rejected", Code.INVALID_AMOUNT)]
    assert await ledger.available_position("IBPS", "CNY") == 750_000
    b = by_account(await ledger.balances())
    assert (b["treasury"].debits_posted, b["treasury"].credits_posted) == (250_000, 1_000_000)
    # a payment settled through IBPS draws on the funded position
    await ledger.post_events([ev.make("payment.accepted", "p1", 100_000),
                              ev.make("payment.settled", "p1", 100_000)], T)
    assert await ledger.available_position("IBPS", "CNY") == 650_000
    [ibps] = [p for p in await ledger.position_report() if p.channel == "IBPS"]
    assert (ibps.balance, ibps.available, ibps.alert) == (650_000, 650_000, None)
    # the stored amount of a funding entry is what it moved, so a changed replay says so
    original = ev.make("position.funded", "TR-4", 0, channel="IBPS", **{"in": 10})
    await ledger.post_events([original], T)
    changed = original.__class__(original.event_id, "TR-4", "position.funded",
                                 {**original.body, "in": 11}, T)
    again = await ledger.post_events([changed], T)
    assert (again[0].status, again[0].code) == ("conflict", Code.EXISTS_WITH_DIFFERENT_AMOUNT)
    await assert_books_sound(ledger)


# -- the rules are checked at start-up ------------------------------------------------------------
def _with_rules(*rules: dict[str, Any], drop: str | None = None,
                events: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    raw["rules"] = [r for r in raw["rules"] if r["name"] != drop] + list(rules)
    raw["events"].update(events or {})
    return raw


@pytest.mark.parametrize(("raw", "where", "words"), [
    (_with_rules({"name": "fee-split-per-member", "event": "fee.charged", "amount": "fee",
                  "product": "X", "allocate": "pro_rata",
                  "legs": [{"debit": "customer:{debtor_account}", "credit": "vat-payable"}]}),
     "rules.fee-split-per-member.allocate", "batch"),
    (_with_rules({"name": "batch-fee-to-nobody", "event": "batch.settled", "amount": "fee",
                  "legs": [{"debit": "customer:{debtor_account}", "credit": "vat-payable"}]},
                 drop="batch-fee-pro-rata"),
     "rules.batch-fee-to-nobody.legs[0].debit", "booked once for the batch"),
    (_with_rules({"name": "batch-fee-to-members-payee", "event": "batch.settled",
                  "amount": "fee", "allocate": "pro_rata",
                  "legs": [{"debit": "customer:{payee_account}", "credit": "vat-payable"}]},
                 drop="batch-fee-pro-rata"),
     "rules.batch-fee-to-members-payee.legs[0].debit", "each member of batch.settled"),
    (_with_rules({"name": "batch-holds", "event": "batch.settled", "amount": "principal",
                  "product": "X", "action": "hold",
                  "legs": [{"debit": "customer:{debtor_account}", "credit": "in-transit"}]}),
     "rules.batch-holds", "placed when it is accepted"),
    (_with_rules({"name": "bf", "event": "batch.fee", "amount": "fee", "allocate": "pro_rata",
                  "legs": [{"debit": "suspense", "credit": "vat-payable"}]},
                 events={"batch.fee": {"fields": [], "members": [], "amounts": ["fee"]}}),
     "events.batch.fee.members", "principal"),
    (_with_rules(events={"x.moved": {"fields": [], "amounts": ["amount"]}}),
     "events.x.moved.amounts", "reserved"),
])
def test_bad_batch_and_funding_rules_fail_naming_the_rule(raw: dict[str, Any], where: str,
                                                          words: str) -> None:
    with pytest.raises(BooksConfigError) as info:
        parse_books(raw)
    assert where in info.value.where, info.value
    assert words in str(info.value)
