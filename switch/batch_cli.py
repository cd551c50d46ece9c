"""`payswitch batches ...`: the micro-payment batches as operations staff see and push them.

- ``list [--state S]``: batches with payee, window, members, total, state;
- ``show ID``: a batch, its members, and the fee saved against sending each member alone;
- ``retry ID``: ask the running switch to push a stuck batch on (sent again under the same
  identifiers after an inquiry, never as a new payment): a flag the switch picks up within
  seconds;
- ``return ID --members P,P,... --reason CODE --operator WHO``: the payee sent back some
  members: exactly those are RETURNED and booked back to their debtors, the rest stay settled.

Exit codes: 0 success, 1 refused or not found (nothing changed), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from switch.clock import SystemClock, iso
from switch.states import State
from switch.store import Event, Store, Transition, WriteBatch, open_store

__all__ = ["add_commands"]

_REASON = re.compile(r"[A-Z0-9]{4}")


def _run(body: Callable[[Store], Awaitable[int]], url: str | None) -> int:
    from switch.config import default_store_url

    async def go() -> int:
        store = open_store(url or default_store_url())
        await store.open()
        try:
            return await body(store)
        finally:
            await store.close()

    import uvloop

    return uvloop.run(go())


def _list(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        rows = await store.batches([args.state] if args.state else None)
        if args.json:
            print(json.dumps([_row(b) for b in rows], ensure_ascii=False))
            return 0
        from rich.console import Console
        from rich.table import Table

        table = Table(title="batches")
        for col in ("batch", "profile", "payee", "window", "members", "total", "fee",
                    "saved", "state"):
            table.add_column(col, justify="right" if col in ("members", "total", "fee",
                                                               "saved") else "left")
        for b in rows:
            table.add_row(b.batch_id, b.profile, "****" + b.payee_account[-4:], b.window_key,
                          f"{b.members:,}", f"{b.total:,}", f"{b.fee:,}",
                          f"{b.fee_alone - b.fee:,}" if b.members else "", b.state)
        Console().print(table)
        return 0

    return _run(body, args.store)


def _show(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        b = await store.batch(args.batch_id)
        if b is None:
            print(f"payswitch: no batch {args.batch_id}", file=sys.stderr)
            return 1
        members = await store.batch_members(b.batch_id)
        states = {}
        for pid, _ in members:
            p = await store.payment(pid)
            states[pid] = (p.state, p.order.client_order_id, p.fee) if p else ("?", "?", 0)
        out = {**_row(b), "members": [
            {"payment_id": pid, "client_order_id": states[pid][1], "amount": amount,
             "state": states[pid][0], "fee_share": states[pid][2]} for pid, amount in members]}
        if args.json:
            print(json.dumps(out, ensure_ascii=False))
            return 0
        print(f"batch {b.batch_id} ({b.profile}) to ****{b.payee_account[-4:]} by {b.channel}, "
              f"window {b.window_key} #{b.seq}: {b.state}")
        print(f"  {b.members:,} members, total {b.total:,} {b.currency}; fee {b.fee:,} "
              f"instead of {b.fee_alone:,} sent one by one: {b.fee_alone - b.fee:,} saved")
        for m in out["members"]:
            print(f"  {m['payment_id']}  {m['client_order_id']:<24} {m['amount']:>12,}  "
                  f"{m['state']:<10} fee share {m['fee_share']}")
        return 0

    return _run(body, args.store)


def _retry(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        b = await store.batch(args.batch_id)
        if b is None:
            print(f"payswitch: no batch {args.batch_id}", file=sys.stderr)
            return 1
        if b.state not in ("CLOSED", "ROUTED", "SUBMITTED", "UNKNOWN"):
            print(f"payswitch: batch {b.batch_id} is {b.state}: nothing to push on",
                  file=sys.stderr)
            return 1
        await store.request_batch_retry(b.batch_id)
        print(f"batch {b.batch_id} ({b.state}) flagged: the switch inquires and sends it again "
              "under its own identifiers")
        return 0

    return _run(body, args.store)


def _return(args: argparse.Namespace) -> int:
    wanted = [m for m in args.members.split(",") if m]
    if not wanted or not _REASON.fullmatch(args.reason) or not args.operator.strip():
        print("payswitch: --members P,P,... --reason CODE (ISO 20022, 4 characters) and "
              "--operator WHO are needed", file=sys.stderr)
        return 2

    async def body(store: Store) -> int:
        b = await store.batch(args.batch_id)
        if b is None:
            print(f"payswitch: no batch {args.batch_id}", file=sys.stderr)
            return 1
        members = dict(await store.batch_members(b.batch_id))
        strangers = [m for m in wanted if m not in members]
        if strangers:
            print(f"payswitch: not members of {b.batch_id}: {', '.join(strangers)}",
                  file=sys.stderr)
            return 1
        now = iso(SystemClock().now())
        moves = []
        for pid in dict.fromkeys(wanted):
            p = await store.payment(pid)
            if p is None or p.state != State.SETTLED:
                print(f"payswitch: {pid} is {p.state if p else 'missing'}, not SETTLED: "
                      "nothing returned", file=sys.stderr)
                return 1
            body_ = {"amount": p.order.amount, "currency": p.order.currency,
                     "debtor_account": p.order.debtor.account,
                     "creditor_account": p.order.creditor.account,
                     "product": p.order.product, "channel": p.channel}
            moves.append(Transition(
                payment_id=pid, from_state=State.SETTLED, to_state=State.RETURNED, at=now,
                cause=f"partial return of batch {b.batch_id} by {args.operator}: "
                      f"{args.note or args.reason}",
                reason=args.reason, events=(Event("payment.returned", body_),)))
        result = await store.commit(WriteBatch(transitions=moves))
        if not all(result.applied):
            print("payswitch: a member moved meanwhile; nothing returned", file=sys.stderr)
            return 1
        print(f"{len(moves)} members of batch {b.batch_id} RETURNED ({args.reason}); "
              f"recorded for {args.operator}")
        return 0

    return _run(body, args.store)


def _row(b: Any) -> dict[str, Any]:
    out = msgspec.to_builtins(b)
    out.pop("payee", None)
    out["payee_account"] = "****" + b.payee_account[-4:]
    out["fee_saved"] = b.fee_alone - b.fee
    return dict(out)


def add_commands(sub: Any) -> None:
    """Mount `batches ...` on the switch's argparse subparsers."""
    batches = sub.add_parser("batches", help="micro-payment batches: list, show, retry, return")
    bsub = batches.add_subparsers(dest="batches_command", required=True)

    def common(p: argparse.ArgumentParser, *, json_out: bool = True) -> None:
        p.add_argument("--store", help="store URL (default: the switch's)")
        if json_out:
            p.add_argument("--json", action="store_true", help="print JSON")

    ls = bsub.add_parser("list", help="batches, oldest first")
    ls.add_argument("--state", help="OPEN, CLOSED, SUBMITTED, UNKNOWN, SETTLED, REJECTED, ...")
    common(ls)
    ls.set_defaults(func=_list)
    show = bsub.add_parser("show", help="a batch, its members and the fee saved")
    show.add_argument("batch_id")
    common(show)
    show.set_defaults(func=_show)
    retry = bsub.add_parser("retry", help="push a stuck batch on (same identifiers)")
    retry.add_argument("batch_id")
    common(retry, json_out=False)
    retry.set_defaults(func=_retry)
    ret = bsub.add_parser("return", help="named members came back from the payee")
    ret.add_argument("batch_id")
    ret.add_argument("--members", required=True, help="payment ids, comma-separated")
    ret.add_argument("--reason", required=True, help="ISO 20022 return reason, e.g. AC04")
    ret.add_argument("--operator", required=True, help="who records it")
    ret.add_argument("--note", help="free text for the history")
    common(ret, json_out=False)
    ret.set_defaults(func=_return)

