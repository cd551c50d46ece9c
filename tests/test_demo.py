"""`payswitch demo` as a user runs it: a child process, JSON summary, exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _demo(tmp_path: Path, orders: int, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "switch.cli", "demo", "--orders", str(orders), "--json",
         "--store", f"sqlite://{tmp_path / 'demo.db'}", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


CHANNELS = {"HVPS", "BEPS", "IBPS", "UnionPay", "CIPS", "SWIFT"}


def _check(summary: dict[str, Any], orders: int) -> None:
    assert summary["orders"] == summary["final"] == summary["acknowledged"] == orders
    assert summary["ledger_balanced"] is True
    # every channel's own books settled exactly what the switch's ledger says went out
    assert summary["books_match_channels"] is True, summary["channels"]
    assert summary["channel_duplicates"] == 0
    assert set(summary["channels"]) == CHANNELS
    # The books split every fee the switch charged into net income and VAT, to the cent.
    for ccy, fee in summary["fees"].items():
        assert summary["fee_income_net"][ccy] + summary["vat_payable"][ccy] == fee
    for sides in summary["trial_balance"].values():
        assert sides["debits"] == sides["credits"] > 0
    assert set(summary["trial_balance"]) == {"CNY", "USD", "EUR"}
    by_state = summary["by_state"]
    assert sum(by_state.values()) == orders and by_state["SETTLED"] > 0
    by_channel = summary["by_channel"]
    assert sum(by_channel.values()) == orders
    assert set(by_channel) == CHANNELS | {"none"}  # the mix reaches every channel
    assert by_channel["none"] == summary["reject_reasons"]["AC02"]  # refused at intake
    # merchant micro-payments went in batches: one fee per batch instead of one per member
    assert summary["batches"] > 0 and summary["batched_members"] > summary["batches"]
    assert summary["batching_fee_saved"] > 0


def test_demo_reports_every_order_final_and_ledger_balanced(tmp_path: Path) -> None:
    code, summary = _demo(tmp_path, 400, "--seed", "5")
    assert code == 0
    _check(summary, 400)
    assert set(summary["by_state"]) == {"SETTLED", "REJECTED"}
    # The mix has closed accounts (AC04) and bad input (AC02), nothing else fails.
    assert set(summary["reject_reasons"]) == {"AC04", "AC02"}


def test_chaos_demo_ends_final_with_books_equal_to_every_channel(tmp_path: Path) -> None:
    """Drops, late and duplicate replies, garbage, broken lines, refused sign-ons on every
    channel: still every order final, nothing settled twice, books equal per channel."""
    code, summary = _demo(tmp_path, 1500, "--seed", "3", "--faults", "chaos")
    assert code == 0, summary
    assert summary["faults"] == "chaos"
    _check(summary, 1500)


@pytest.mark.slow
def test_demo_with_ten_thousand_orders(tmp_path: Path) -> None:
    code, summary = _demo(tmp_path, 10_000)
    assert code == 0
    _check(summary, 10_000)


@pytest.mark.slow
def test_chaos_demo_with_ten_thousand_orders(tmp_path: Path) -> None:
    code, summary = _demo(tmp_path, 10_000, "--faults", "chaos")
    assert code == 0
    _check(summary, 10_000)
