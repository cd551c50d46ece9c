"""MT950 nostro statements of the SWIFT simulator: per currency and business day, read back with
`messages.mt`, cross-checked with the independent ``mt-940`` parser, and translated to a camt.053
that the official XSD accepts."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, date, datetime

import pytest

from adapters.base import Outcome
from messages.mt import MT950, parse_mt
from messages.translate import mt_to_mx
from simulators.faults import FaultPlan, StatementFaults
from simulators.link import admin_request
from simulators.swift import SwiftConfig
from tests.swift_pair import BOFA, DAY, US, Pair, dispose, make_pair, payment
from tests.xsd_oracle import assert_valid

if os.environ.get("CI") == "true":
    import mt940 as mt940_pkg
else:
    mt940_pkg = pytest.importorskip("mt940", reason="pip install mt-940 for the MT950 cross-check")

OPENING = 10**12
TUESDAY = date(2026, 3, 3)


async def _statement(pair: Pair, day: date, currency: str) -> list[MT950]:
    answer = await admin_request("127.0.0.1", pair.port, {
        "op": "statement", "date": day.isoformat(), "currency": currency})
    assert answer["ok"] and answer["format"] == "MT950", answer
    pages = [parse_mt(text) for text in answer["data"].split("$")]
    assert all(isinstance(page, MT950) for page in pages)
    return pages  # type: ignore[return-value]


async def _day_of_payments(pair: Pair) -> list[str]:
    """GBP transfers (one returned, one after the cut-off), a USD cover payment, a funding."""
    gbp = [payment(i, "GBP", a) for i, a in enumerate([100_00, 2_500_00, 40_00], start=1)]
    usd = payment(4, "USD", 7_000_00)
    for p in (*gbp, usd):
        await pair.adapter.submit(p)
    await pair.until(lambda: len([s for s in pair.seen if s.outcome is Outcome.SETTLED]) == 4)
    pair.sim.return_item(pair.item(gbp[1]), "AC04")
    funded = await admin_request("127.0.0.1", pair.port, {
        "op": "fund", "participant": US, "amount": 5_000_00, "ref": "TOPUP 2 MARCH",
        "currency": "GBP"})
    assert funded["ok"]
    pair.clock.set(datetime(2026, 3, 2, 17, 0, tzinfo=UTC))  # 18:00 CET: after the GBP cut-off
    late = payment(5, "GBP", 1_00)
    await pair.adapter.submit(late)
    await pair.until(lambda: len(pair.of(late)) == 2)
    pair.clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    await pair.final(late)
    return [p.end_to_end_id for p in (*gbp, usd, late)]


@pytest.mark.parametrize("fmt", ["mx", "mt"])
async def test_mt950_states_the_nostro_of_one_currency_and_day(fmt: str) -> None:
    pair = await make_pair(fmt)
    try:
        e2e = await _day_of_payments(pair)
        (monday,) = await _statement(pair, DAY, "GBP")
        assert monday.envelope.sender == "BARCGB22XXXX"  # the GBP correspondent sends it
        assert monday.envelope.receiver == "PYSWCNSHXXXX"
        assert (monday.sender_ref, monday.account.account, monday.statement_number) == (
            "GBP2603020001", "PYSWCNSHXXXGBP", "61/1")
        assert (monday.opening_balance.mark, monday.opening_balance.amount,
                monday.opening_balance.option, monday.opening_balance.date) == (
            "C", OPENING, "F", DAY)
        lines = [(e.mark, e.amount, e.transaction_type, e.customer_ref, e.details)
                 for e in monday.entries]
        field_20 = [e[:15] + "+" for e in e2e]  # CBPR+ fits the end-to-end id into 16x
        # an MT103 carries no end-to-end id: only an MX transfer's is stated in full
        full = e2e if fmt == "mx" else [None] * len(e2e)
        assert lines == [
            ("D", 100_00, "S103", field_20[0], full[0]),
            ("D", 2_500_00, "S103", field_20[1], full[1]),
            ("D", 40_00, "S103", field_20[2], full[2]),
            ("C", 2_500_00, "S103", field_20[1], full[1]),  # the return comes back on Monday
            ("C", 5_000_00, "NTRF", "TOPUP 2 MARCH", None),
        ]
        assert all(e.bank_ref for e in monday.entries[:4]) and monday.entries[4].bank_ref is None
        closing = OPENING - 140_00 + 5_000_00
        assert (monday.closing_balance.amount, monday.closing_balance.option) == (closing, "F")
        assert monday.closing_available_balance is not None
        assert monday.closing_available_balance.amount == closing
        (tuesday,) = await _statement(pair, TUESDAY, "GBP")  # the late one is valued Tuesday
        assert tuesday.opening_balance.amount == closing
        assert [(e.amount, e.value_date) for e in tuesday.entries] == [(1_00, TUESDAY)]
        assert tuesday.closing_balance.amount == pair.sim.balances("GBP")[US]
        (usd,) = await _statement(pair, DAY, "USD")
        assert usd.envelope.sender == "CHASUS33XXXX"
        assert [(e.mark, e.amount, e.transaction_type) for e in usd.entries] == [
            ("D", 7_000_00, "S202")]  # the money of a cover payment left by its MT202 COV
    finally:
        await dispose(pair)


def _block4(text: str) -> str:
    return text[text.index("{4:\r\n") + 5 : text.index("\r\n-}")]


async def test_the_mt_940_package_reads_our_mt950_the_same() -> None:
    pair = await make_pair("mx")
    try:
        await _day_of_payments(pair)
        answer = await admin_request("127.0.0.1", pair.port, {
            "op": "statement", "date": DAY.isoformat(), "currency": "GBP"})
        ours = parse_mt(answer["data"])
        assert isinstance(ours, MT950)
        theirs = mt940_pkg.parse(_block4(answer["data"]))
        data = theirs.data
        assert data["transaction_reference"] == ours.sender_ref
        assert data["statement_number"] == "61" and data["sequence_number"] == "1"
        for key, balance in (("final_opening_balance", ours.opening_balance),
                             ("final_closing_balance", ours.closing_balance)):
            assert data[key].status == balance.mark and data[key].date == balance.date
            assert int(data[key].amount.amount * 100) == balance.amount
            assert data[key].amount.currency == "GBP"
        assert len(theirs) == len(ours.entries) == 5
        for mine, tx in zip(ours.entries, theirs, strict=True):
            assert tx.data["status"] == mine.mark
            assert int(abs(tx.data["amount"].amount) * 100) == mine.amount
            assert tx.data["id"] == mine.transaction_type
            assert tx.data["customer_reference"] == mine.customer_ref
            assert tx.data["bank_reference"] == mine.bank_ref
    finally:
        await dispose(pair)


async def test_statement_translates_to_a_camt053_the_xsd_accepts() -> None:
    pair = await make_pair("mt")
    try:
        await _day_of_payments(pair)
        answer = await admin_request("127.0.0.1", pair.port, {
            "op": "statement", "date": DAY.isoformat(), "currency": "GBP"})
        camt = mt_to_mx(answer["data"], created_at=datetime(2026, 3, 3, 6, 0, tzinfo=UTC))
        # MX has no element for the MT receiver: the one loss the translation reports
        assert [w.field for w in camt.warnings] == ["block 2"]
        assert_valid(camt.message, "camt.053.001.08")
    finally:
        await dispose(pair)


async def test_the_adapter_fetches_every_currency_in_one_file() -> None:
    pair = await make_pair("mx")
    try:
        await _day_of_payments(pair)
        stmt = await pair.adapter.fetch_statement(DAY)
        assert (stmt.channel, stmt.format, stmt.business_date) == ("SWIFT", "MT950", DAY)
        pages = [parse_mt(text) for text in stmt.data.decode("ascii").split("$")]
        currencies = [p.opening_balance.currency for p in pages if isinstance(p, MT950)]
        assert currencies == ["USD", "EUR", "GBP", "JPY", "HKD", "CNY"]
        for page in pages:
            assert isinstance(page, MT950)
            ccy = page.opening_balance.currency
            expected = pair.sim.balances(ccy)[US] + (1_00 if ccy == "GBP" else 0)  # Tuesday's
            assert page.closing_balance.amount == expected
    finally:
        await dispose(pair)


async def test_long_statements_go_in_pages_that_chain() -> None:
    pair = await make_pair("mx", config=SwiftConfig(participants={US: 10**12},
                                                    statement_page_lines=2))
    try:
        ps = [payment(10 + i, "GBP", 1_000 + i) for i in range(5)]
        for p in ps:
            await pair.adapter.submit(p)
        await pair.until(lambda: len([s for s in pair.seen if s.outcome is Outcome.SETTLED]) == 5)
        pages = await _statement(pair, DAY, "GBP")
        assert [p.statement_number for p in pages] == ["61/1", "61/2", "61/3"]
        assert [(p.opening_balance.option, p.closing_balance.option) for p in pages] == [
            ("F", "M"), ("M", "M"), ("M", "F")]
        assert [len(p.entries) for p in pages] == [2, 2, 1]
        for before, after in itertools.pairwise(pages):
            assert after.opening_balance.amount == before.closing_balance.amount
        assert [p.closing_available_balance is not None for p in pages] == [False, False, True]
        assert pages[-1].closing_balance.amount == 10**12 - sum(1_000 + i for i in range(5))
    finally:
        await dispose(pair)


async def test_statement_faults_show_in_the_mt950_and_are_recorded() -> None:
    plan = FaultPlan(statement=StatementFaults(omit=0.3, amount=0.3, amount_delta=7, extra=2,
                                               extra_amount=999))
    pair = await make_pair("mx", faults=plan, seed=5)
    try:
        ps = [payment(30 + i, "GBP", 1_000 + i) for i in range(20)]
        for p in ps:
            await pair.adapter.submit(p)
        await pair.until(lambda: len([s for s in pair.seen if s.outcome is Outcome.SETTLED]) == 20)
        (page,) = await _statement(pair, DAY, "GBP")
        injected = {d.end_to_end_id: d for d in pair.sim.books.injected(US)}
        assert {d.kind for d in injected.values()} == {"omitted", "amount", "extra"}
        stated = {(e.details or e.customer_ref): e.amount for e in page.entries}
        for p in ps:
            diff = injected.get(p.end_to_end_id)
            if diff is None:
                assert stated[p.end_to_end_id] == p.order.amount
            elif diff.kind == "omitted":
                assert p.end_to_end_id not in stated
            else:
                assert stated[p.end_to_end_id] == p.order.amount + 7
        assert sorted(a for r, a in stated.items() if r.startswith("XTRA")) == [999, 999]
        assert page.closing_balance.amount == page.opening_balance.amount - sum(
            e.amount if e.mark == "D" else -e.amount for e in page.entries)
        assert pair.sim.balances("GBP")[BOFA] == sum(p.order.amount for p in ps)
    finally:
        await dispose(pair)


async def test_unknown_statement_currency_is_a_bad_request() -> None:
    pair = await make_pair("mx")
    try:
        answer = await admin_request("127.0.0.1", pair.port, {
            "op": "statement", "date": DAY.isoformat(), "currency": "SGD"})
        assert (answer["ok"], answer["error"]) == (False, "ADMIN_BAD_REQUEST")
    finally:
        await dispose(pair)
