"""`python -m bench`: every benchmark suite, one JSON report and a readable table.

    python -m bench [--quick] [--out bench-report.json] [--no-e2e] [-- E2E ARGS...]
    python -m bench compare OLD.json NEW.json [--threshold 10]

`compare` prints each figure's change and exits 1 when any got worse by more than the
threshold (percent), judged by its ratio to its same-run baseline where it has one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.suite import compare, run_suites, table


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["compare"]:
        parser = argparse.ArgumentParser(prog="python -m bench compare")
        parser.add_argument("old")
        parser.add_argument("new")
        parser.add_argument("--threshold", type=float, default=10.0, help="percent")
        parser.add_argument("--json", action="store_true")
        args = parser.parse_args(args_in[1:])
        try:
            old, new = (json.loads(Path(p).read_text()) for p in (args.old, args.new))
        except (OSError, ValueError) as exc:
            print(f"bench compare: {exc}", file=sys.stderr)
            return 2
        rows = compare(old, new, threshold=args.threshold)
        if args.json:
            print(json.dumps(rows))
        else:
            for r in rows:
                flag = "REGRESSION" if r["regression"] else ""
                print(f"{r['id']:58} {r['by']:5} {r['old']:>14,.3f} -> {r['new']:>14,.3f} "
                      f"{r['change_pct']:>+8.1f} %  {flag}")
            bad = sum(r["regression"] for r in rows)
            print(f"{len(rows)} figures compared, {bad} worse by more than "
                  f"{args.threshold:g} %")
        return 1 if any(r["regression"] for r in rows) else 0
    e2e_args: list[str] | None = None
    if "--" in args_in:
        cut = args_in.index("--")
        args_in, e2e_args = args_in[:cut], args_in[cut + 1:]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="short rounds and a small end-to-end run (a smoke test)")
    parser.add_argument("--out", default="bench-report.json", help="the JSON report")
    parser.add_argument("--no-e2e", action="store_true", help="micro suites only")
    args = parser.parse_args(args_in)
    report = run_suites(quick=args.quick, e2e=not args.no_e2e, e2e_args=e2e_args)
    out = Path(args.out)
    out.write_text(json.dumps(report, indent=1) + "\n")
    text = table(report)
    out.with_suffix(".txt").write_text(text + "\n")
    print(text)
    print(f"\nreport: {out} (table: {out.with_suffix('.txt')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
