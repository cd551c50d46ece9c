"""Test-impact analysis: what a change touches, which tests and scenarios run it, and how much
of the changed code any test executes (`payswitch regress impact`).

From ``git diff REV`` (the working tree against REV, default HEAD) it takes the changed lines
of every Python file, finds the functions around them (by the syntax tree), and looks them up
in the coverage map the test run keeps (`bench.regress.coverage_map`). A map row measured on
the file as it is now answers by line; one measured on the file as it was at REV answers by
function name (its lines have moved). Changed lines are *covered* when a test ran them as the
file is now, so their percentage needs a map refreshed since the change: ``--run`` runs just
the selected tests under the map, then answers.

>>> changed_lines("@@ -3,2 +3,3 @@ def f():\\n-  a\\n+  b\\n+  c\\n@@ -9 +10,0 @@\\n-  z\\n")
({3, 4, 5}, {10})
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.regress.coverage_map import IMPORT_CONTEXT, CoverageMap, content_hash

__all__ = ["DEFAULT_MAP", "Impact", "analyse", "changed_lines", "functions", "statements"]

DEFAULT_MAP = ".payswitch-impact.db"  # at the repository's root (git ignores it)
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)
_PARAMS = re.compile(r"\[(.+)\]$")


def changed_lines(diff: str) -> tuple[set[int], set[int]]:
    """(lines added or changed in the new file, lines where something was only deleted)."""
    changed: set[int] = set()
    deleted_at: set[int] = set()
    for m in _HUNK.finditer(diff):
        start, count = int(m.group(3)), int(m.group(4) if m.group(4) is not None else 1)
        if count:
            changed.update(range(start, start + count))
        else:
            deleted_at.add(max(start, 1))  # the hunk sits after line `start`
    return changed, deleted_at


def functions(source: str) -> dict[str, tuple[int, int]]:
    """Every function and method by qualified name: (first line with decorators, last line).

    >>> functions("class A:\\n    def f(self):\\n        return 1\\n")
    {'A.f': (2, 3)}
    """
    out: dict[str, tuple[int, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    out[name] = (first, child.end_lineno or child.lineno)
                visit(child, name + ".")

    visit(ast.parse(source), "")
    return out


def statements(source: str) -> set[int]:
    """The lines coverage.py counts as executable."""
    from coverage.parser import PythonParser

    parser = PythonParser(text=source)
    parser.parse_source()
    return set(parser.statements)


def _innermost(funcs: dict[str, tuple[int, int]], line: int) -> str:
    inside = [(end - start, name) for name, (start, end) in funcs.items()
              if start <= line <= end]
    return min(inside)[1] if inside else "<module>"


class Impact:
    """The answer: changed functions, the tests and scenarios that run them, and the changed
    executable lines with the tests (if any) that ran each."""

    def __init__(self) -> None:
        self.functions: dict[str, set[str]] = {}  # "file::function" -> tests that run it
        self.lines: dict[str, dict[int, set[str]]] = {}  # file -> changed line -> tests
        self.measured: dict[str, bool] = {}  # file -> the map has it as it is now
        self.stale: set[str] = set()  # files the map only knows in other versions
        self.scenario_names: set[str] = set()  # tests/scenarios/*.toml of the repository

    @property
    def tests(self) -> list[str]:
        found = set().union(*self.functions.values()) if self.functions else set()
        for per_line in self.lines.values():
            for tests in per_line.values():
                found |= tests
        return sorted(found - {IMPORT_CONTEXT})

    @property
    def scenarios(self) -> list[str]:
        """The scenarios among the tests' parameters (the scenario suite runs one each)."""
        return sorted({part for t in self.tests if (m := _PARAMS.search(t))
                       for part in m.group(1).split("-") if part in self.scenario_names})

    def uncovered(self) -> dict[str, list[int]]:
        return {f: sorted(n for n, tests in lines.items() if not tests)
                for f, lines in self.lines.items()
                if self.measured.get(f) and any(not t for t in lines.values())}

    def coverage_pct(self) -> float | None:
        """Covered changed executable lines in percent; None when the map has not measured
        the changed files as they are now."""
        counted = [tests for f, lines in self.lines.items() if self.measured.get(f)
                   for tests in lines.values()]
        if not counted:
            return None
        return round(100 * sum(1 for t in counted if t) / len(counted), 1)

    def as_dict(self) -> dict[str, Any]:
        return {"functions": {k: sorted(v) for k, v in sorted(self.functions.items())},
                "tests": self.tests, "scenarios": self.scenarios,
                "changed_lines": {f: sorted(lines) for f, lines in self.lines.items()},
                "uncovered_lines": self.uncovered(), "coverage_pct": self.coverage_pct(),
                "not_measured_since_change": sorted(f for f, ok in self.measured.items()
                                                    if not ok)}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=True).stdout


def repository_root(start: Path) -> Path:
    try:
        return Path(_git(start, "rev-parse", "--show-toplevel").strip())
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise ValueError(f"{start} is not in a git repository") from exc


def analyse(root: Path, since: str = "HEAD", map_path: Path | None = None) -> Impact:
    """What ``git diff since`` changes in Python files, against the coverage map."""
    try:
        names = _git(root, "diff", "--name-only", "--diff-filter=AM", since, "--").split()
    except subprocess.CalledProcessError as exc:
        raise ValueError(f"git diff {since}: {exc.stderr.strip()}") from exc
    names += _git(root, "ls-files", "--others", "--exclude-standard").split()
    cmap = CoverageMap(map_path or root / DEFAULT_MAP)
    impact = Impact()
    impact.scenario_names = {p.stem for p in (root / "tests" / "scenarios").glob("*.toml")}
    try:
        for name in sorted({n for n in names if n.endswith(".py")}):
            _analyse_file(root, since, name, cmap, impact)
    finally:
        cmap.close()
    return impact


def _analyse_file(root: Path, since: str, name: str, cmap: CoverageMap, impact: Impact) -> None:
    data = (root / name).read_bytes()
    source = data.decode("utf-8")
    tracked = bool(_git(root, "ls-files", "--", name).strip())
    try:
        old = _git(root, "show", f"{since}:{name}") if tracked else ""
    except subprocess.CalledProcessError:
        old = ""  # added since
    if old:
        changed, deleted_at = changed_lines(_git(root, "diff", "-U0", since, "--", name))
    else:
        changed, deleted_at = set(range(1, source.count("\n") + 2)), set()
    new_funcs = functions(source)
    old_funcs = functions(old) if old else {}
    new_sha, old_sha = content_hash(data), content_hash(old.encode()) if old else ""
    touched = {_innermost(new_funcs, n) for n in changed | deleted_at}
    executable = statements(source) & changed
    impact.lines[name] = {n: set() for n in executable}
    impact.measured[name] = False
    for func in touched:
        impact.functions.setdefault(f"{name}::{func}", set())
    for test, sha, lines in cmap.lines(name):
        if sha == new_sha:
            impact.measured[name] = True
            for n in executable & lines:
                impact.lines[name][n].add(test)
            spans = [(f, new_funcs.get(f)) for f in touched]
        elif sha == old_sha:
            spans = [(f, old_funcs.get(f)) for f in touched]
        else:
            impact.stale.add(name)
            continue
        for func, span in spans:
            if func == "<module>" or span is None or test == IMPORT_CONTEXT:
                continue
            if lines & set(range(span[0], span[1] + 1)):
                impact.functions[f"{name}::{func}"].add(test)


def run_selected(root: Path, tests: Iterable[str], map_path: Path) -> int:
    """Run just ``tests`` under the coverage map (so it measures the changed files as they
    are now); pytest's exit code."""
    selected = list(tests)
    if not selected:
        return 0
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "bench.regress.coverage_map", f"--impact-map={map_path}",
                           *selected], cwd=root).returncode


def render(impact: Impact) -> str:
    lines = ["changed functions:"]
    for func, tests in sorted(impact.functions.items()):
        lines.append(f"  {func}  ({len(tests)} tests)")
    lines.append(f"tests that execute them ({len(impact.tests)}):")
    lines += [f"  {t}" for t in impact.tests]
    if impact.scenarios:
        lines.append("scenarios: " + ", ".join(impact.scenarios))
    uncovered = impact.uncovered()
    lines.append("changed lines no test executes:" + ("" if uncovered else " none"))
    lines += [f"  {f}: {_ranges(ns)}" for f, ns in uncovered.items()]
    pct = impact.coverage_pct()
    not_now = sorted(f for f, ok in impact.measured.items() if not ok)
    if pct is None:
        lines.append("coverage of changed lines: not measured since the change "
                     "(--run measures it)")
    else:
        lines.append(f"coverage of changed lines: {pct}%")
    if not_now and pct is not None:
        lines.append("not measured since the change: " + ", ".join(not_now))
    return "\n".join(lines)


def _ranges(numbers: list[int]) -> str:
    """1,2,3,7 -> '1-3, 7'.

    >>> _ranges([1, 2, 3, 7])
    '1-3, 7'
    """
    out: list[str] = []
    for n in numbers:
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)
