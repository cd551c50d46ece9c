"""The soak (bench/soak.py), shortened: memory stays flat under steady load. Slow: not in the
default suite; `pytest -m slow tests/test_soak.py` runs it (about two minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak import slope_per_min, verdict

ROOT = Path(__file__).resolve().parents[1]


def test_verdict_tells_growth_from_noise() -> None:
    flat = [(float(t), 100.0 + (t % 3)) for t in range(0, 120)]
    growing = [(float(t), 100.0 + t / 2) for t in range(0, 120)]
    assert verdict(flat, 120, tolerance_mib=16)["flat"] is True
    grew = verdict(growing, 120, tolerance_mib=16)
    assert grew["flat"] is False and grew["rss_slope_mib_per_min"] == 30.0
    assert slope_per_min(growing[30:]) == 30.0


@pytest.mark.slow
def test_soak_at_80_percent_keeps_memory_flat() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--seconds", "90", "--segment-seconds", "30",
         "--calibrate-orders", "5000", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["errors"] == 0 and figures["final"] == figures["sent"] > 0, figures
    assert figures["samples"] >= 60, figures
    assert figures["memory_flat"], figures
    assert proc.returncode == 0, proc.stderr[-2000:]
