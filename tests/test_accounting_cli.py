"""`payswitch ledger ...` / `payswitch accounting run` as functions and through argparse."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path

import pytest

from accounting.cli import (
    accounting_run,
    ledger_account,
    ledger_payment,
    ledger_trial_balance,
    main,
)
from accounting.ledger import open_ledger
from switch.order import Payment
from switch.store import Event, NewPayment, Transition, WriteBatch, open_store
from tests.orders import order
from tests.test_accounting_support import Events, T


def _ledger_url(tmp_path: Path) -> str:
    url = f"sqlite://{tmp_path / 'books.db'}"

    async def fill() -> None:
        ledger = open_ledger(url)
        await ledger.open()
        ev = Events()
        await ledger.post_events([ev.make("payment.accepted", "p1", 1_000),
                                  ev.make("payment.settled", "p1", 1_000, fee=30),
                                  ev.make("payment.accepted", "p2", 5, currency="USD",
                                          channel="SWIFT")], T)
        await ledger.close()

    asyncio.run(fill())
    return url


def test_trial_balance_json_and_table(tmp_path: Path) -> None:
    url = _ledger_url(tmp_path)
    out = io.StringIO()
    assert ledger_trial_balance(url, as_json=True, out=out) == 0
    doc = json.loads(out.getvalue())
    assert doc["balanced"] is True
    assert doc["totals"] == {"CNY": {"debit": 1_030, "credit": 1_030},
                             "USD": {"debit": 0, "credit": 0}}
    table = io.StringIO()
    assert ledger_trial_balance(url, out=table) == 0
    assert "customer:6217000000000001" in table.getvalue() and "TOTAL" in table.getvalue()


def test_trial_balance_fails_when_the_books_do_not_balance(tmp_path: Path) -> None:
    url = _ledger_url(tmp_path)

    async def corrupt() -> None:
        ledger = open_ledger(url)
        await ledger.open()
        await ledger._execute_script("UPDATE acct_balances SET credits_posted = "
                                     "credits_posted + 1 WHERE account_id = 1")
        await ledger.close()

    asyncio.run(corrupt())
    out = io.StringIO()
    assert ledger_trial_balance(url, as_json=True, out=out) == 1
    assert json.loads(out.getvalue())["balanced"] is False


def test_account_statement_and_payment_entries(tmp_path: Path) -> None:
    url = _ledger_url(tmp_path)
    out = io.StringIO()
    assert ledger_account("customer:6217000000000001", url, as_json=True, out=out) == 0
    doc = json.loads(out.getvalue())
    assert [ln["balance"] for ln in doc["lines"]] == [-1_000, -1_028, -1_030]
    out = io.StringIO()
    assert ledger_payment("p1", url, as_json=True, out=out) == 0
    entries = json.loads(out.getvalue())
    assert [e["event_type"] for e in entries] == ["payment.accepted", "payment.settled"]
    table = io.StringIO()
    assert ledger_payment("p1", url, out=table) == 0
    assert "vat-payable" in table.getvalue()
    assert ledger_payment("nope", url, out=io.StringIO()) == 1
    assert ledger_account("nope", url, out=io.StringIO()) == 1


def test_bad_books_exit_2_and_bad_url_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "books.toml"
    bad.write_text("accounts = 3\n", encoding="utf-8")
    assert ledger_trial_balance(f"sqlite://{tmp_path / 'x.db'}", books_path=str(bad)) == 2
    assert ledger_trial_balance("mysql://nowhere") == 1


def test_accounting_run_once_posts_the_switch_outbox(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite://{tmp_path / 'switch.db'}"

    async def flow() -> None:
        store = open_store(url)
        await store.open()
        pid = uuid.uuid4().hex
        o = order(amount=700)
        p = Payment(payment_id=pid, client_id="C", order=o, state="ACCEPTED", end_to_end_id=pid,
                    uetr=str(uuid.uuid4()), created_at=T, updated_at=T)
        body = {"amount": 700, "currency": "CNY", "debtor_account": o.debtor.account,
                "product": o.product}
        await store.commit(WriteBatch(accepts=[NewPayment(p, (Event("payment.accepted",
                                                                    body),))]))
        await store.commit(WriteBatch(transitions=[Transition(
            payment_id=pid, from_state="ACCEPTED", to_state="SETTLED", at=T, cause="test",
            events=(Event("payment.settled", {**body, "channel": "IBPS", "fee": 30}),))]))
        await store.close()

    asyncio.run(flow())
    out = io.StringIO()
    assert accounting_run(url, once=True, out=out) == 0
    assert out.getvalue().strip() == "posted 2 events, lag 0"
    assert main(["ledger", "trial-balance", "--store", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["CNY"] == {"debit": 730,
                                                                     "credit": 730}
    assert main(["accounting", "run", "--store", url, "--once"]) == 0
    assert "posted 0 events, lag 0" in capsys.readouterr().out
