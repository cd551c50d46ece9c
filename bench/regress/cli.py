"""`payswitch regress ...`: golden transcripts, traffic replay and test-impact analysis.

Exit codes as the switch's: 0 success (no difference), 1 a difference, an unmet expectation or
a failed run, 2 bad arguments (an unknown scenario, an unreadable file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_commands", "impact", "record", "replay", "replay_traffic"]


def _run(coro: Any) -> Any:
    import uvloop

    return uvloop.run(coro)


def _scenarios(names: list[str], every: bool) -> list[Any]:
    from bench.regress.scenario import load_scenario, scenario_names

    if every:
        names = scenario_names()
    if not names:
        raise ValueError("name a scenario (or --all)")
    return [load_scenario(n) for n in names]


def record(names: list[str], *, every: bool = False, store: str | None = None,
           force: bool = False) -> int:
    """Run each scenario and write its golden transcript (not when an expectation fails,
    unless ``force``)."""
    from bench.regress.run import run_scenario
    from bench.regress.transcript import write_transcript

    status = 0
    for scenario in _scenarios(names, every):
        transcript = _run(run_scenario(scenario, store))
        failures = scenario.expect.failures(transcript)
        for line in failures:
            print(f"{scenario.name}: {line}", file=sys.stderr)
        if failures and not force:
            print(f"{scenario.name}: not recorded (expectations unmet; --force records anyway)",
                  file=sys.stderr)
            status = 1
            continue
        write_transcript(scenario.golden_path, transcript)
        print(f"{scenario.name}: recorded {scenario.golden_path} "
              f"({len(transcript['orders'])} orders, "
              f"{sum(len(m) for m in transcript['messages'].values())} channel messages)")
    return status


def replay(names: list[str], *, every: bool = False, store: str | None = None) -> int:
    """Run each scenario again; print every difference from its golden transcript and every
    unmet expectation. 0 when there is none."""
    from bench.regress.run import run_scenario
    from bench.regress.transcript import diff_transcripts, read_transcript

    status = 0
    for scenario in _scenarios(names, every):
        if not scenario.golden_path.exists():
            print(f"{scenario.name}: no golden transcript at {scenario.golden_path} "
                  "(payswitch regress record first)", file=sys.stderr)
            status = 1
            continue
        transcript = _run(run_scenario(scenario, store))
        lines = [f"expectation: {f}" for f in scenario.expect.failures(transcript)]
        lines += diff_transcripts(read_transcript(scenario.golden_path), transcript)
        if lines:
            status = 1
            print(f"{scenario.name}: {len(lines)} difference(s)")
            for line in lines:
                print(f"  {line}")
        else:
            print(f"{scenario.name}: identical to {scenario.golden_path.name}")
    return status


def impact(since: str, *, run: bool = False, map_path: str | None = None,
           as_json: bool = False) -> int:
    """Print what the change since ``since`` touches; 1 when ``run`` and a test failed."""
    import json
    from pathlib import Path

    from bench.regress.impact import DEFAULT_MAP, analyse, render, repository_root, run_selected

    root = repository_root(Path.cwd())
    cmap = Path(map_path) if map_path else root / DEFAULT_MAP
    if not cmap.exists() and not run:
        raise ValueError(f"no coverage map at {cmap}: run the tests with --impact-map={cmap} "
                         "first")
    result = analyse(root, since, cmap)
    status = 0
    if run:
        status = 1 if run_selected(root, result.tests, cmap) else 0
        result = analyse(root, since, cmap)
    print(json.dumps(result.as_dict()) if as_json else render(result))
    return status


def replay_traffic(path: str, *, speed: float, seed: int = 1, faults: str | None = None,
                   store: str | None = None, record_to: str | None = None,
                   timeout: float = 300.0, as_json: bool = False,
                   start: str | None = None) -> int:
    """Send a traffic file through the switch; 1 when an outcome differs from `expected` or
    an order did not end final. ``record_to`` writes the file again with what each order
    ended as in its `expected` column."""
    import json
    from datetime import datetime
    from pathlib import Path

    from bench.regress.traffic import read_traffic, write_traffic
    from bench.regress.traffic import replay_traffic as replay_rows

    rows = read_traffic(Path(path))
    begin = datetime.fromisoformat(start) if start else None
    if begin is not None and begin.tzinfo is None:
        raise ValueError("--start needs a UTC offset")
    result = _run(replay_rows(rows, speed=speed, seed=seed, faults=faults, store_url=store,
                              timeout=timeout, start=begin))
    not_final = sorted(k for k, v in result["outcomes"].items() if "not final" in v)
    if record_to:
        write_traffic(Path(record_to), [
            {**{k: v for k, v in r.raw.items() if k != "expected"},
             "expected": result["outcomes"][r.order.client_order_id]} for r in rows])
    if as_json:
        print(json.dumps({k: v for k, v in result.items() if k != "outcomes"}))
    else:
        print(f"{result['orders']} orders at {speed:g}x, {result['checked']} with an expected "
              f"outcome; final states: {result['by_state']}")
        for m in result["mismatches"]:
            print(f"  {m['client_order_id']}: expected {m['expected']}, got {m['got']}")
        for coid in not_final:
            print(f"  {coid}: {result['outcomes'][coid]}")
        print(f"{len(result['mismatches'])} mismatch(es), {len(not_final)} not final")
        if record_to:
            print(f"recorded the outcomes as `expected` in {record_to}")
    return 1 if result["mismatches"] or not_final else 0


def _guard(fn: Any) -> Any:
    def call(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except ValueError as exc:
            print(f"payswitch regress: {exc}", file=sys.stderr)
            return 2

    return call


def add_commands(sub: Any) -> None:
    """Mount `regress ...` on the switch's argparse subparsers."""
    regress = sub.add_parser("regress", help="golden transcripts of scenarios, traffic replay, "
                                             "test-impact analysis")
    rsub = regress.add_subparsers(dest="regress_command", required=True)

    def scenarios(p: argparse.ArgumentParser) -> None:
        p.add_argument("scenario", nargs="*", help="a name in tests/scenarios/ or a .toml path")
        p.add_argument("--all", action="store_true", help="every scenario in tests/scenarios/")
        p.add_argument("--store", help="store URL (default: a throw-away SQLite file)")

    rec = rsub.add_parser("record", help="run a scenario and write its golden transcript")
    scenarios(rec)
    rec.add_argument("--force", action="store_true",
                     help="record even when the scenario's expectations are not met")
    rec.set_defaults(func=_guard(lambda a: record(a.scenario, every=a.all, store=a.store,
                                                  force=a.force)))
    rep = rsub.add_parser("replay", help="run a scenario again and diff it from its golden "
                                         "transcript")
    scenarios(rep)
    rep.set_defaults(func=_guard(lambda a: replay(a.scenario, every=a.all, store=a.store)))
    imp = rsub.add_parser("impact", help="changed functions, the tests and scenarios that run "
                                         "them, and the coverage of the changed lines")
    imp.add_argument("--since", default="HEAD", help="git revision to diff the work tree "
                                                     "against (default HEAD)")
    imp.add_argument("--run", action="store_true",
                     help="run just the selected tests (refreshing the map), then answer")
    imp.add_argument("--map", help="the coverage map (default: .payswitch-impact.db at the "
                                   "repository's root; pytest --impact-map keeps it)")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=_guard(lambda a: impact(a.since, run=a.run, map_path=a.map,
                                                  as_json=a.json)))
    tr = rsub.add_parser("replay-traffic", help="a recorded order file (CSV or JSON lines) "
                                                "through the switch against the simulators")
    tr.add_argument("file")
    tr.add_argument("--speed", type=float, default=1.0,
                    help="business time per wall second (10: ten times as fast)")
    tr.add_argument("--seed", type=int, default=1, help="the simulators' seed")
    tr.add_argument("--faults", help="'chaos' or a farm fault plan (TOML)")
    tr.add_argument("--store", help="store URL (default: a throw-away SQLite file)")
    tr.add_argument("--record", metavar="OUT",
                    help="write the file again with each order's outcome as `expected`")
    tr.add_argument("--timeout", type=float, default=300.0,
                    help="seconds to wait for final states after the last order")
    tr.add_argument("--start", help="business time of offset 0 (ISO 8601 with offset; default "
                                    "2026-03-02T10:00:40+08:00, a working Monday)")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=_guard(lambda a: replay_traffic(
        a.file, speed=a.speed, seed=a.seed, faults=a.faults, store=a.store,
        record_to=a.record, timeout=a.timeout, as_json=a.json, start=a.start)))
    lst = rsub.add_parser("list", help="the scenarios and what each is about")
    lst.set_defaults(func=_guard(lambda a: _list()))


def _list() -> int:
    from bench.regress.scenario import load_scenario, scenario_names

    for name in scenario_names():
        first = load_scenario(name).description.strip().splitlines()[0]
        print(f"{name:28} {first}")
    return 0
