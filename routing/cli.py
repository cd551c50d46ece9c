"""``payswitch route --explain ORDER.json [--at ISO-8601] [--catalogue FILE]``: show a decision.

Prints the decision as JSON (``channel``, ``scheduled_for``, ``reason_code``, ``candidates``,
``cost`` ...): ``RouteDecision.explain()``, the document the store renders for a stored one.
Exit status: 0 routed or scheduled, 1 rejected, 2 bad input. ``--at`` without an offset is read
in the catalogue's time zone; without ``--at`` the system clock is used, because this is the
operator's edge, not the decision itself.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from routing.router import Router
from switch.clock import SystemClock
from switch.errors import ConfigError
from switch.order import Order

__all__ = ["explain_main"]


def explain_main(argv: list[str]) -> int:
    """Entry point of ``payswitch route``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="payswitch route", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--explain", metavar="ORDER.json", required=True,
                        help="order as JSON with the field names of switch.order.Order")
    parser.add_argument("--at", metavar="ISO-8601", help="decision time (default: now)")
    parser.add_argument("--catalogue", metavar="FILE",
                        help="channel catalogue TOML (default: the shipped one)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return int(exc.code or 0)
    try:
        router = Router.from_toml(args.catalogue)
        order = msgspec.json.decode(Path(args.explain).read_bytes(), type=Order)
        if args.at is None:
            now = SystemClock().now()
        else:
            now = datetime.fromisoformat(args.at)
            if now.tzinfo is None:
                now = now.replace(tzinfo=ZoneInfo(router.catalogue.timezone))
    except ConfigError as exc:
        print(f"payswitch route: catalogue {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"payswitch route: cannot read {args.explain}: {exc.strerror}", file=sys.stderr)
        return 2
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        print(f"payswitch route: {args.explain}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"payswitch route: --at {args.at!r}: {exc}", file=sys.stderr)
        return 2
    decision = router.decide(order, now)
    doc = msgspec.json.encode(decision.explain())
    sys.stdout.write(msgspec.json.format(doc, indent=2).decode() + "\n")
    return 0 if decision.channel is not None else 1


if __name__ == "__main__":
    raise SystemExit(explain_main(sys.argv[1:]))
