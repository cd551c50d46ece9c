"""The benchmark suites in one command: `python -m bench` (see bench/__main__.py).

Runs the pytest-benchmark micro suites and the end-to-end load (`bench.e2e`), and writes one
JSON report plus a readable table. Every figure stands beside a baseline measured in the same
run (bench/suites.toml says which) as a ratio, so two reports from a shared, loaded machine
compare by what the code does rather than by how busy the machine was.

>>> old = {"figures": [{"id": "g/a", "value": 100.0, "ratio": 2.0, "higher_is_better": True}]}
>>> new = {"figures": [{"id": "g/a", "value": 80.0, "ratio": 1.5, "higher_is_better": True}]}
>>> [(c["id"], c["change_pct"], c["regression"]) for c in compare(old, new, threshold=10)]
[('g/a', -25.0, True)]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["SUITES", "compare", "micro_figures", "run_suites", "table"]

ROOT = Path(__file__).resolve().parents[1]
SUITES = Path(__file__).with_name("suites.toml")


def _config() -> dict[str, Any]:
    return tomllib.loads(SUITES.read_text(encoding="utf-8"))


def _is_baseline(bench: dict[str, Any], baseline: str) -> bool:
    return baseline in (bench["name"], bench.get("param"))


def micro_figures(data: dict[str, Any], baselines: dict[str, str]) -> list[dict[str, Any]]:
    """pytest-benchmark's JSON as figures: operations per second, each beside its group's
    baseline."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for bench in data.get("benchmarks", []):
        by_group.setdefault(bench["group"] or bench["name"], []).append(bench)
    figures = []
    for group, benches in by_group.items():
        wanted = baselines.get(group)
        base = next((b for b in benches if wanted and _is_baseline(b, wanted)), None)
        for bench in benches:
            ops = float(bench["stats"]["ops"])
            base_ops = float(base["stats"]["ops"]) if base is not None else None
            figures.append({
                "id": f"{group}/{bench['name']}", "suite": "micro", "value": round(ops, 3),
                "unit": "ops/s", "higher_is_better": True,
                "baseline": f"{group}/{base['name']}" if base is not None else None,
                "baseline_value": round(base_ops, 3) if base_ops else None,
                "ratio": round(ops / base_ops, 3) if base_ops else None,
                "is_baseline": bench is base,
            })
    return figures


def e2e_figures(raw: dict[str, Any], pairs: dict[str, list[Any]]) -> list[dict[str, Any]]:
    figures = []
    for name, (base_name, unit, higher) in pairs.items():
        if name not in raw:
            continue
        value, base = float(raw[name]), raw.get(base_name)
        ratio = round(value / float(base), 4) if base else None
        figures.append({"id": f"e2e/{name}", "suite": "e2e", "value": value, "unit": unit,
                        "higher_is_better": bool(higher), "baseline": f"e2e/{base_name}",
                        "baseline_value": base, "ratio": ratio, "is_baseline": False})
    return figures


def _run_micro(files: list[str], quick: bool, out: Path) -> dict[str, Any]:
    timing = (["--benchmark-min-time=0.005", "--benchmark-max-time=0.05",
               "--benchmark-min-rounds=3"] if quick else ["--benchmark-max-time=0.5"])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-only",
         "--benchmark-disable-gc", f"--benchmark-json={out}", *timing, *files],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"micro suites failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _run_e2e(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.e2e", "--json", *args], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"bench.e2e failed:\n{proc.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    figures["exit_code"] = proc.returncode
    return figures


def run_suites(*, quick: bool = False, e2e: bool = True,
               e2e_args: list[str] | None = None) -> dict[str, Any]:
    """Every suite; the report (figures, the raw end-to-end keys, where and when)."""
    config = _config()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="payswitch-bench-") as tmp:
        micro = _run_micro(config["micro"], quick, Path(tmp) / "micro.json")
    figures = micro_figures(micro, config["baselines"])
    raw: dict[str, Any] = {}
    if e2e:
        default = ["--orders", "2000", "--sustained-seconds", "0"] if quick else []
        raw = _run_e2e(e2e_args if e2e_args is not None else default)
        figures += e2e_figures(raw, config["e2e"])
    return {
        "schema": 1,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "quick": quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "pure": os.environ.get("PAYSWITCH_PURE") == "1"},
        "figures": figures,
        "e2e": raw,
    }


def table(report: dict[str, Any]) -> str:
    """The report as a readable table: figure, value, its baseline, the ratio."""
    rows = [("figure", "value", "unit", "baseline", "ratio")]
    for f in report["figures"]:
        base = f["baseline"].split("/", 1)[1] if f.get("baseline") else "-"
        if f.get("is_baseline"):
            base = "(the baseline)"
        ratio = f"{f['ratio']:.3f}x" if f.get("ratio") is not None else "-"
        rows.append((f["id"], f"{f['value']:,.1f}", f["unit"], base, ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(widths[i]) if i in (0, 2, 3) else c.rjust(widths[i])
                       for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    machine = report["machine"]
    lines.append(f"\n{report['started']}, {report['seconds']} s, Python {machine['python']}, "
                 f"{machine['cpus']} CPUs{' (quick)' if report['quick'] else ''}; ratio = "
                 "figure / same-run baseline (ops/s: >1 faster; ms: >1 slower)")
    return "\n".join(lines)


def compare(old: dict[str, Any], new: dict[str, Any], *, threshold: float = 10.0
            ) -> list[dict[str, Any]]:
    """Each figure in both reports with its change in percent; a regression when it got worse
    by more than ``threshold`` percent. Figures with a same-run baseline compare by their
    ratio to it, the others by value."""
    before = {f["id"]: f for f in old["figures"]}
    out = []
    for f in new["figures"]:
        g = before.get(f["id"])
        if g is None or f.get("is_baseline"):
            continue
        by_ratio = f.get("ratio") is not None and g.get("ratio") is not None
        a, b = (g["ratio"], f["ratio"]) if by_ratio else (g["value"], f["value"])
        if not a:
            continue
        change = round(100 * (b - a) / abs(a), 1)
        worse = -change if f["higher_is_better"] else change
        out.append({"id": f["id"], "by": "ratio" if by_ratio else "value", "old": a, "new": b,
                    "change_pct": change, "regression": worse > threshold})
    return out
