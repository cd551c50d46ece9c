"""`payswitch treasury fund|defund`: treasury moves money into or out of a channel position.

The bank's settlement account at a channel (its clearing account in the books) is funded by
treasury, outside the payment flow. The command writes one `position.funded` event to the
switch's outbox, with operator and reason; the accounting worker books it (debit
`clearing:<CHANNEL>`, credit `treasury`, or the reverse) like every other event, and the router
reads the position for the channels `[routing] positions` lists. The transfer reference is the
idempotency key: the same reference twice books once.

Exit codes: 0 recorded, 1 refused (already recorded, store error), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from messages.currency import is_known
from switch.clock import SystemClock, iso
from switch.store import Event, StandaloneEvent, WriteBatch, open_store

__all__ = ["add_commands"]


def _fund(args: argparse.Namespace, direction: str) -> int:
    if args.amount <= 0 or not is_known(args.currency) or not args.channel:
        print("payswitch: --channel, a positive --amount (minor units) and an ISO 4217 "
              "--currency are needed", file=sys.stderr)
        return 2
    if not args.operator.strip() or not args.reason.strip():
        print("payswitch: --operator and --reason are needed", file=sys.stderr)
        return 2
    ref = args.ref or f"TRSY-{uuid.uuid4().hex[:16]}"
    body = {"channel": args.channel, "currency": args.currency, direction: args.amount,
            "operator": args.operator, "reason": args.reason}

    async def go() -> int:
        from switch.config import default_store_url

        store = open_store(args.store or default_store_url())
        await store.open()
        try:
            if await store.outbox_has(ref, "position.funded"):
                print(f"payswitch: transfer {ref} is already recorded; nothing written",
                      file=sys.stderr)
                return 1
            await store.commit(WriteBatch(events=[StandaloneEvent(
                ref, Event("position.funded", body), iso(SystemClock().now()))]))
        finally:
            await store.close()
        print(f"{'funded' if direction == 'in' else 'defunded'} {args.channel} "
              f"{args.amount} {args.currency} (transfer {ref}, by {args.operator})")
        return 0

    import uvloop

    return int(uvloop.run(go()))


def add_commands(sub: Any) -> None:
    """Mount `treasury fund|defund` on the switch's argparse subparsers."""
    treasury = sub.add_parser("treasury", help="fund or defund a channel position")
    tsub = treasury.add_subparsers(dest="treasury_command", required=True)
    for name, direction, text in (("fund", "in", "money into a channel's settlement account"),
                                  ("defund", "out", "money back out of it")):
        cmd = tsub.add_parser(name, help=text)
        cmd.add_argument("--channel", required=True, help="catalogue name, e.g. HVPS")
        cmd.add_argument("--amount", required=True, type=int, help="minor units")
        cmd.add_argument("--currency", required=True)
        cmd.add_argument("--operator", required=True)
        cmd.add_argument("--reason", required=True)
        cmd.add_argument("--ref", help="treasury's transfer reference (the idempotency key)")
        cmd.add_argument("--store", help="store URL (default: the switch's)")
        cmd.set_defaults(func=lambda a, d=direction: _fund(a, d))
