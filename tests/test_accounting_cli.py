"""`payswitch ledger ...` / `payswitch accounting run` as functions and through argparse."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
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
from accounting.config import DEFAULT_BOOKS
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


# -- the real command in a subprocess: adjustments and positions --------------------------------
def _payswitch(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("payswitch")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "switch.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60)


def _state(url: str) -> tuple[object, ...]:
    """Everything an adjustment could change."""

    async def read() -> tuple[object, ...]:
        ledger = open_ledger(url)
        await ledger.open()
        try:
            return (await ledger.balances(),
                    await ledger._fetch("SELECT * FROM acct_entries ORDER BY entry_id"))
        finally:
            await ledger.close()

    return asyncio.run(read())


def test_adjust_reverse_makeup_and_credit_through_the_command(tmp_path: Path) -> None:
    url = _ledger_url(tmp_path)
    settled = 2  # the settlement's entry (accept is 1)
    r = _payswitch("ledger", "adjust", "reverse", str(settled), "--operator", "ops-7",
                   "--reason", "duplicate at bank", "--store", url)
    assert (r.returncode, r.stdout.strip()) == (0, "posted entry 4 (key reverse:2)"), r.stderr
    before = _state(url)
    again = _payswitch("ledger", "adjust", "reverse", str(settled), "--operator", "ops-7",
                       "--reason", "duplicate at bank", "--store", url)
    assert again.returncode == 0 and "already posted as entry 4" in again.stdout
    assert _state(url) == before  # running the command twice booked once
    twice = _payswitch("ledger", "adjust", "reverse", str(settled), "--operator", "ops-8",
                       "--reason", "again", "--key", "second-try", "--store", url)
    assert twice.returncode == 1 and "already_reversed" in twice.stderr
    makeup = _payswitch("ledger", "adjust", "makeup", "--leg", "customer:6217000000000001",
                        "clearing:IBPS", "1000", "--currency", "CNY", "--links-to",
                        str(settled), "--payment", "p1", "--operator", "ops-7", "--reason",
                        "re-book the principal", "--store", url, "--json")
    assert makeup.returncode == 0, makeup.stderr
    doc = json.loads(makeup.stdout)
    assert (doc["status"], doc["code"], doc["entry_id"]) == ("posted", "ok", 6)
    credit = _payswitch("ledger", "adjust", "credit", "--leg", "suspense",
                        "customer:6217000000000001", "15", "--leg", "suspense",
                        "customer:6217000000000001", "5", "--currency", "CNY", "--operator",
                        "ops-9", "--reason", "goodwill", "--store", url, "--json")
    assert credit.returncode == 0 and json.loads(credit.stdout)["entry_id"] == 7
    entries = json.loads(_payswitch("ledger", "payment", "p1", "--store", url,
                                    "--json").stdout)
    corrections = [(e["entry_id"], e["link_kind"], e["link_entry_id"], e["operator"],
                    e["reason"], e["status"]) for e in entries if e["operator"]]
    assert corrections == [
        (4, "reversal", 2, "ops-7", "duplicate at bank", "posted"),
        (5, "reversal", 2, "ops-8", "again", "rejected"),  # the refusal is recorded too
        (6, "makeup", 2, "ops-7", "re-book the principal", "posted")]
    table = _payswitch("ledger", "payment", "p1", "--store", url)
    assert "by ops-7: duplicate at bank" in table.stdout
    tb = json.loads(_payswitch("ledger", "trial-balance", "--store", url, "--json").stdout)
    assert tb["balanced"] is True


def test_a_refused_adjustment_exits_1_and_is_recorded(tmp_path: Path) -> None:
    url = _ledger_url(tmp_path)
    # the shipped books with customers that may not overdraw
    blocks = DEFAULT_BOOKS.read_text(encoding="utf-8").split("[[accounts]]")
    blocks = [b.replace('constraint = "free"', 'constraint = "non_negative"')
              if 'code = "customer:{debtor_account}"' in b else b for b in blocks]
    books = tmp_path / "strict.toml"
    books.write_text("[[accounts]]".join(blocks), encoding="utf-8")
    r = _payswitch("ledger", "adjust", "credit", "--leg", "customer:6217000000000001",
                   "suspense", "50", "--currency", "CNY", "--operator", "ops-1", "--reason",
                   "fee refund reversed", "--books", str(books), "--store", url)
    assert r.returncode == 1 and "exceeds_credits" in r.stderr, (r.stdout, r.stderr)
    doc = json.loads(_payswitch("ledger", "trial-balance", "--store", url, "--json").stdout)
    assert doc["balanced"] is True


@pytest.mark.parametrize("args", [
    ["reverse", "2", "--reason", "r"],  # no operator
    ["reverse", "2", "--operator", " ", "--reason", "r"],  # a blank one
    ["reverse", "two", "--operator", "o", "--reason", "r"],
    ["reverse", "0", "--operator", "o", "--reason", "r"],
    ["makeup", "--leg", "suspense", "treasury", "5", "--currency", "CNY", "--operator", "o",
     "--reason", "r"],  # a make-up names the entry it makes up for
    ["credit", "--leg", "suspense", "treasury", "0", "--currency", "CNY", "--operator", "o",
     "--reason", "r"],
    ["credit", "--leg", "suspense", "treasury", "1.5", "--currency", "CNY", "--operator", "o",
     "--reason", "r"],
    ["credit", "--leg", "suspense", "treasury", "-5", "--currency", "CNY", "--operator", "o",
     "--reason", "r"],
    ["credit", "--leg", "nowhere", "treasury", "5", "--currency", "CNY", "--operator", "o",
     "--reason", "r"],
    ["credit", "--leg", "suspense", "clearing:IBPS", "5", "--currency", "USD", "--operator",
     "o", "--reason", "r"],  # the IBPS position is kept in CNY
    ["credit", "--leg", "suspense", "treasury", "5", "--currency", "XXX", "--operator", "o",
     "--reason", "r"],
    ["credit", "--leg", "suspense", "suspense", "5", "--currency", "CNY", "--operator", "o",
     "--reason", "r"],
    ["refund", "--operator", "o", "--reason", "r"],
])
def test_bad_adjustment_arguments_exit_2_and_change_nothing(tmp_path: Path,
                                                            args: list[str]) -> None:
    url = _ledger_url(tmp_path)
    before = _state(url)
    r = _payswitch("ledger", "adjust", *args, "--store", url)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.strip() and not r.stdout.strip()
    assert _state(url) == before


def test_positions_through_the_command(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'books.db'}"

    async def fill() -> None:
        ledger = open_ledger(url)
        await ledger.open()
        ev = Events()
        await ledger.post_events([
            ev.make("position.funded", "TR-1", 0, channel="IBPS", **{"in": 900_000}),
            ev.make("payment.accepted", "p1", 1_000),
            ev.make("payment.settled", "p1", 1_000, fee=30),
            ev.make("payment.accepted", "p2", 400, channel="BEPS"),
            ev.make("payment.settled", "p2", 400, channel="BEPS")], T)
        await ledger.close()

    asyncio.run(fill())
    r = _payswitch("ledger", "positions", "--store", url, "--json")
    assert r.returncode == 0, r.stderr
    assert [(p["channel"], p["currency"], p["balance"], p["available"], p["alert_below"],
             p["alert"]) for p in json.loads(r.stdout)] == [
        ("BEPS", "CNY", -400, -400, None, None),
        ("IBPS", "CNY", 899_000, 899_000, -500_000_000_000, None)]
    table = _payswitch("ledger", "positions", "--store", url)
    assert table.returncode == 0 and "899,000" in table.stdout and "IBPS" in table.stdout
    # a threshold the position is past shows as the alert state
    books = tmp_path / "books.toml"
    books.write_text(DEFAULT_BOOKS.read_text(encoding="utf-8").replace(
        "alert_below = -5_000_000_000_00", "alert_below = 1_000_000"), encoding="utf-8")
    low = _payswitch("ledger", "positions", "--store", url, "--json", "--books", str(books))
    assert [p["alert"] for p in json.loads(low.stdout)] == [None, "below"]
