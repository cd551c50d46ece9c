"""The scenario suite: every scenario in tests/scenarios/ replays identically to its golden
transcript (messages field by field, states, balances) on both stores, and meets its
expectations; a deliberately broken build is caught with a diff naming the field and balance."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

import accounting.config
from bench.regress.run import run_scenario
from bench.regress.scenario import load_scenario, scenario_names
from bench.regress.transcript import diff_transcripts, read_transcript

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", scenario_names())
async def test_scenario_replays_its_golden_transcript(name: str, store_url: str) -> None:
    scenario = load_scenario(name)
    transcript = await run_scenario(scenario, store_url)
    assert scenario.expect.failures(transcript) == []
    assert diff_transcripts(read_transcript(scenario.golden_path), transcript) == []


def test_every_scenario_has_a_golden_transcript_and_orders() -> None:
    names = scenario_names()
    assert len(names) >= 6
    for name in names:
        scenario = load_scenario(name)
        assert scenario.golden_path.exists(), name
        golden = read_transcript(scenario.golden_path)
        assert golden["orders"] and golden["messages"] and golden["ledger"], name


def _patched_tree(tmp_path: Path, path: str, old: str, new: str) -> Path:
    """A copy of the sources with one line changed: a broken build, pure-Python twins only."""
    tree = tmp_path / "build"
    skip = shutil.ignore_patterns("__pycache__", "*.so", "*.c", "*.pyc")
    for top in ("switch", "adapters", "routing", "accounting", "messages", "fastpath",
                "simulators", "bench"):
        shutil.copytree(ROOT / top, tree / top, ignore=skip)
    shutil.copytree(ROOT / "tests" / "scenarios", tree / "tests" / "scenarios")
    target = tree / path
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1
    target.write_text(text.replace(old, new), encoding="utf-8")
    return tree


def _replay(tree: Path, scenario: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PAYSWITCH_PURE": "1"}
    return subprocess.run([sys.executable, "-m", "switch.cli", "regress", "replay", scenario],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def test_a_wrong_fee_rounding_is_caught_with_the_field_and_the_balance(tmp_path: Path) -> None:
    """The broken commit: the route kernel's basis-point fee truncates instead of rounding
    half up. UnionPay's 0.05 % fee on 1,234.50 CNY is 61.725 fen: 62, not 61."""
    tree = _patched_tree(tmp_path, "fastpath/_route_py.py",
                         "fee = fixed + q * bps + (r * bps + 5_000) // 10_000",
                         "fee = fixed + q * bps + (r * bps) // 10_000")
    broken = _replay(tree, "unionpay_cards")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    out = broken.stdout
    # the core-system protocol's STATUS frame field, and the order's own fee
    assert "order U1 fee: 62 -> 61" in out
    assert "order U1 protocol #3 STATUS fee: 62 -> 61" in out
    # the books: fee income and VAT of the channel, and what the debtor was charged
    assert "ledger fee-income:UnionPay CNY:" in out
    assert "ledger customer:6217000000000001 CNY:" in out
    assert "U2 fee" not in out  # the minimum fee does not round: unchanged


def test_the_unpatched_copy_replays_clean(tmp_path: Path) -> None:
    """The control for the broken build: the same copy without the change has no diff."""
    tree = _patched_tree(tmp_path, "fastpath/_route_py.py", "(r * bps + 5_000)",
                         "(r * bps + 5_000)")
    clean = _replay(tree, "unionpay_cards")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "identical" in clean.stdout


async def test_a_wrong_vat_split_is_caught_in_the_balances(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """accounting's split_fee rounding VAT down instead of half up: the ledger's fee income
    and VAT payable differ from the golden run; no channel message does."""

    def rounded_down(fee: int, rate: Fraction, includes_vat: bool) -> tuple[int, int]:
        base = rate / (1 + rate) if includes_vat else rate
        vat = int(fee * base)
        return (fee - vat, vat) if includes_vat else (fee, vat)

    monkeypatch.setattr(accounting.config, "split_fee", rounded_down)
    scenario = load_scenario("ibps_basics")
    lines = diff_transcripts(read_transcript(scenario.golden_path),
                             await run_scenario(scenario))
    assert lines
    assert all(line.startswith("ledger ") for line in lines), lines
    assert {line.split(":")[0] for line in lines} == {"ledger fee-income", "ledger vat-payable CNY"}
