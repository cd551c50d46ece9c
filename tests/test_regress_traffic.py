"""`payswitch regress replay-traffic FILE --speed X`: a recorded order file through the switch
against the simulators, each outcome checked against the file's expected column."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.loadgen import CLOSED_ACCOUNTS, channel_mix
from bench.regress.traffic import flat_row, read_traffic, write_traffic

ROOT = Path(__file__).resolve().parents[1]


# Business time of the first order: its 80 seconds end before the 10:30 BEPS netting session.
START = "2026-03-02T10:28:00+08:00"


def _traffic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switch.cli", "regress", "replay-traffic",
                           "--start", START, *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_recorded_day_replays_and_a_changed_outcome_is_named(tmp_path: Path,
                                                                suffix: str) -> None:
    # 40 orders of the mixed book, two seconds of business time apart, sent at 20x
    # (merchant micro-payments left out: they wait for a ten-minute batch window)
    orders = [o for o in channel_mix(60, seed=2, run="T") if o.product != "T0SETTLE"][:40]
    assert len(orders) == 40  # 2 refused at intake, 2 closed accounts among them
    day = tmp_path / f"day{suffix}"
    write_traffic(day, [flat_row(o, at=2.0 * i) for i, o in enumerate(orders)])
    assert [r.order for r in read_traffic(day)] == orders  # the file keeps every field

    recorded = tmp_path / f"expected{suffix}"
    first = _traffic(str(day), "--speed", "20", "--record", str(recorded))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "40 orders at 20x, 0 with an expected outcome" in first.stdout
    rows = read_traffic(recorded)
    assert all(r.expected for r in rows)
    outcomes = {r.expected.split()[0] for r in rows if r.expected}
    assert outcomes == {"SETTLED", "REJECTED"}
    assert {r.expected for r in rows if r.order.debtor.account == "not-an-account"} == {
        "REJECTED AC02"}  # refused at intake
    assert {r.expected for r in rows if r.order.creditor.account in CLOSED_ACCOUNTS} == {
        "REJECTED AC04"}  # the receiving bank refuses

    again = _traffic(str(recorded), "--speed", "20", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary["checked"] == 40 and summary["mismatches"] == []

    # an expectation the switch does not meet is named, with what happened instead
    settled = next(r for r in rows if r.expected == "SETTLED")
    if suffix == ".csv":
        with recorded.open() as f:
            table = list(csv.DictReader(f))
        for row in table:
            if row["client_order_id"] == settled.order.client_order_id:
                row["expected"] = "REJECTED AM04"
        write_traffic(recorded, table)
    else:
        lines = [json.loads(line) for line in recorded.read_text().splitlines()]
        for row in lines:
            if row["client_order_id"] == settled.order.client_order_id:
                row["expected"] = "REJECTED AM04"
        write_traffic(recorded, lines)
    wrong = _traffic(str(recorded), "--speed", "20")
    assert wrong.returncode == 1
    assert (f"{settled.order.client_order_id}: expected REJECTED AM04, got SETTLED"
            in wrong.stdout)


def test_a_bad_row_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("client_order_id,amount,currency\nX1,12.5,CNY\n")
    proc = _traffic(str(bad), "--speed", "10")
    assert proc.returncode == 2 and "row 1" in proc.stderr
