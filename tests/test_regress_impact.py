"""`payswitch regress impact` against a throw-away git repository: a one-function change lists
the tests that cover it, the changed lines no test runs, and the coverage of the changed lines;
`--run` runs just those tests and measures the new code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

CALC = '''def add(a, b):
    return a + b


def sub(a, b):
    return a - b


class Till:
    def total(self, items):
        return sum(items)
'''
TESTS = '''from calc import Till, add, sub


def test_add():
    assert add(2, 3) == 5


def test_sub():
    assert sub(5, 3) == 2


def test_till():
    assert Till().total([1, 2]) == 3
'''
# The change: sub() learns to refuse a negative result; no test reaches the refusal.
SUB_CHANGED = '''def sub(a, b):
    result = a - b
    if result < 0:
        raise ValueError("negative")
    return result
'''


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{repo}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    env.pop("PAYSWITCH_IMPACT_MAP", None)
    return subprocess.run(list(args), cwd=repo, env=env, capture_output=True, text=True,
                          timeout=300)


def _impact(repo: Path, *extra: str) -> dict[str, Any]:
    proc = _run(repo, sys.executable, "-m", "switch.cli", "regress", "impact", "--json", *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def test_a_one_function_change_lists_its_tests_and_the_coverage_of_its_lines(
        tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text(CALC)
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    (repo / ".gitignore").write_text(".payswitch-impact.db\n__pycache__/\n")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "calc"]):
        assert _run(repo, *cmd).returncode == 0
    # the test run keeps the map
    built = _run(repo, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "-p", "bench.regress.coverage_map", "--impact-map=.payswitch-impact.db",
                 "tests")
    assert built.returncode == 0, built.stdout + built.stderr
    (repo / "calc.py").write_text(CALC.replace("def sub(a, b):\n    return a - b\n",
                                               SUB_CHANGED))

    before = _impact(repo)
    assert list(before["functions"]) == ["calc.py::sub"]
    # the map knows sub() only as it was: its tests are found by the function's name
    assert before["tests"] == ["tests/test_calc.py::test_sub"]
    assert before["functions"]["calc.py::sub"] == ["tests/test_calc.py::test_sub"]
    assert before["changed_lines"] == {"calc.py": [6, 7, 8, 9]}
    assert before["coverage_pct"] is None  # nothing ran the new lines yet
    assert before["not_measured_since_change"] == ["calc.py"]

    after = _impact(repo, "--run")  # runs test_sub alone, under the map
    assert after["tests"] == ["tests/test_calc.py::test_sub"]
    assert after["uncovered_lines"] == {"calc.py": [8]}  # the raise
    assert after["coverage_pct"] == 75.0  # 3 of the 4 changed statements

    text = _run(repo, sys.executable, "-m", "switch.cli", "regress", "impact")
    assert "calc.py::sub  (1 tests)" in text.stdout
    assert "calc.py: 8" in text.stdout and "coverage of changed lines: 75.0%" in text.stdout


def test_without_a_map_impact_says_how_to_make_one(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    assert _run(repo, "git", "init", "-q").returncode == 0
    proc = _run(repo, sys.executable, "-m", "switch.cli", "regress", "impact")
    assert proc.returncode == 2 and "--impact-map" in proc.stderr


def test_scenarios_are_named_from_the_scenario_suite_tests() -> None:
    from bench.regress.impact import Impact

    impact = Impact()
    impact.scenario_names = {"ibps_basics", "hvps_queue"}
    impact.functions["routing/fees.py::split_vat"] = {
        "tests/test_regress_scenarios.py::test_scenario_replays_its_golden_transcript"
        "[sqlite-ibps_basics]",
        "tests/test_routing_fees.py::test_vat_split[0-600-0-0]"}
    assert impact.scenarios == ["ibps_basics"]
