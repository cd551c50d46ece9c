"""`payswitch demo` as a user runs it: a child process, JSON summary, exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _demo(tmp_path: Path, orders: int, *extra: str) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "switch.cli", "demo", "--orders", str(orders), "--json",
         "--store", f"sqlite://{tmp_path / 'demo.db'}", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def _check(summary: dict[str, object], orders: int) -> None:
    assert summary["orders"] == summary["final"] == summary["acknowledged"] == orders
    assert summary["ledger_balanced"] is True
    # The books split every fee the switch charged into net income and VAT, to the fen.
    assert summary["fee_income_net_fen"] + summary["vat_payable_fen"] == summary["fees_fen"]  # type: ignore[operator]
    trial = summary["trial_balance"]
    assert isinstance(trial, dict) and trial["CNY"]["debits"] == trial["CNY"]["credits"] > 0
    by_state = summary["by_state"]
    assert isinstance(by_state, dict) and sum(by_state.values()) == orders
    assert set(by_state) <= {"SETTLED", "REJECTED"} and by_state["SETTLED"] > 0
    by_channel = summary["by_channel"]
    assert isinstance(by_channel, dict) and sum(by_channel.values()) == orders
    # The mix has over-cap orders (AM02), closed accounts (AC04) and bad input (AC02).
    assert set(summary["reject_reasons"]) == {"AM02", "AC04", "AC02"}  # type: ignore[arg-type]


def test_demo_reports_every_order_final_and_ledger_balanced(tmp_path: Path) -> None:
    code, summary = _demo(tmp_path, 400, "--seed", "5")
    assert code == 0
    _check(summary, 400)


@pytest.mark.slow
def test_demo_with_ten_thousand_orders(tmp_path: Path) -> None:
    code, summary = _demo(tmp_path, 10_000)
    assert code == 0
    _check(summary, 10_000)
