"""`python -m bench`: the micro suites and the end-to-end load in one report, every figure
beside its same-run baseline; `python -m bench compare` flags regressions; `bench.e2e --json`
has the intake, open-loop and sustained keys."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from bench.suite import compare, micro_figures

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _stats(ops: float) -> dict[str, float]:
    return {"ops": ops}


def test_micro_figures_stand_beside_their_group_baseline() -> None:
    data = {"benchmarks": [
        {"group": "g", "name": "test_x[cython]", "param": "cython", "stats": _stats(300.0)},
        {"group": "g", "name": "test_x[pure]", "param": "pure", "stats": _stats(100.0)},
        {"group": "h", "name": "test_y", "param": None, "stats": _stats(5.0)},
    ]}
    figures = {f["id"]: f for f in micro_figures(data, {"g": "pure"})}
    assert figures["g/test_x[cython]"]["ratio"] == 3.0
    assert figures["g/test_x[pure]"]["is_baseline"] is True
    assert figures["h/test_y"]["ratio"] is None  # no baseline named: shown as such


def test_compare_flags_only_what_got_worse_beyond_the_threshold() -> None:
    def report(**values: tuple[float, float | None, bool]) -> dict[str, Any]:
        return {"figures": [{"id": k, "value": v, "ratio": r, "higher_is_better": h}
                            for k, (v, r, h) in values.items()]}

    old = report(a=(100.0, 4.0, True), b=(10.0, 2.0, False), c=(50.0, None, True))
    new = report(a=(60.0, 3.8, True), b=(10.0, 2.5, False), c=(54.0, None, True))
    rows = {r["id"]: r for r in compare(old, new, threshold=10)}
    # a: the machine was busier (value -40 %) but its ratio to the baseline held (-5 %)
    assert (rows["a"]["by"], rows["a"]["regression"]) == ("ratio", False)
    assert (rows["b"]["change_pct"], rows["b"]["regression"]) == (25.0, True)  # latency up
    assert (rows["c"]["by"], rows["c"]["regression"]) == ("value", False)


def test_one_command_writes_the_report_and_compare_exits_on_a_regression(
        tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    run = _bench("--quick", "--no-e2e", "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    figures = report["figures"]
    groups = {f["id"].split("/")[0] for f in figures}
    assert {"framescan-small", "routing-kernel", "mt-tokenize", "iso8583-decode",
            "pacs008-build", "batching-500-items", "ledger-2000-payments"} <= groups
    assert all(f["ratio"] is not None for f in figures), [f["id"] for f in figures
                                                          if f["ratio"] is None]
    assert (tmp_path / "report.txt").read_text().startswith("figure")
    same = _bench("compare", str(out), str(out))
    assert same.returncode == 0 and "0 worse" in same.stdout
    worse = json.loads(out.read_text())
    target = next(f for f in worse["figures"] if not f["is_baseline"])
    target["ratio"] = target["ratio"] * 0.5
    (tmp_path / "worse.json").write_text(json.dumps(worse))
    flagged = _bench("compare", str(out), str(tmp_path / "worse.json"))
    assert flagged.returncode == 1
    assert f"{target['id']}" in flagged.stdout and "REGRESSION" in flagged.stdout


def test_e2e_json_has_intake_open_loop_and_sustained_figures() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.e2e", "--json", "--orders", "300", "--window", "100",
         "--open-seconds", "0.5", "--sustained-seconds", "2", "--sustained-rate", "40",
         "--sustained-steps", "1", "--metrics"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("intake_per_s", "orders_per_s", "baseline_frames_per_s", "at50_ack_p99_ms",
                "at90_ack_p99_ms", "baseline_at50_p99_ms", "final_per_s", "sustained_s",
                "sustained_backlog_growing"):
        assert key in figures, key
    assert figures["final"] == 300
    assert [t["rate"] for t in figures["sustained_tries"]] == [40.0]
    assert figures["sustained_kept_up"] is True  # 40 orders/s is nothing for the switch
    assert figures["sustained_s"] == 2.0 and figures["sustained_orders"] == 80
    assert figures["final_per_s"] > 0
    # --metrics: the switch's own account of its SQLite thread over the scraped burst
    assert 0 < figures["db_thread_busy_share"] <= 1.05
    assert figures["db_thread_busy_share_by_job"]["commit"] > 0


async def test_the_sustained_rate_steps_up_while_the_switch_keeps_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The stepping alone (each real run is a minute or more; the run itself is tested above):
    # up by 1.25 while the backlog holds, stop at the first that grows, report the best kept.
    from bench import e2e

    finals = {100.0: 99.0, 125.0: 123.0, 156.2: 140.0}
    calls: list[float] = []

    async def run(rate: float, *_: object) -> dict[str, object]:
        calls.append(round(rate, 1))
        final = finals[round(rate, 1)]
        kept = final >= 0.95 * rate
        return {"sustained_rate": round(rate, 1), "final_per_s": final, "sustained_errors": 0,
                "sustained_backlog_growing": False, "sustained_acked_by_end": 0,
                "sustained_kept_up": kept}

    monkeypatch.setattr(e2e, "sustained_run", run)
    args = argparse.Namespace(sustained_steps=5, sustained_seconds=60.0, window=1000,
                              timeout=300.0, sustained_clock_speed=6.0)
    figures = await e2e.sustained_steps(100.0, args)
    assert calls == [100.0, 125.0, 156.2]  # the third fell behind: no fourth
    assert figures["sustained_rate"] == 125.0 and figures["final_per_s"] == 123.0
    tries = cast(list[dict[str, object]], figures["sustained_tries"])
    assert [t["kept_up"] for t in tries] == [True, True, False]
    calls.clear()
    args.sustained_steps = 1
    assert (await e2e.sustained_steps(156.2, args))["sustained_rate"] == 156.2  # none kept up
    assert calls == [156.2]
