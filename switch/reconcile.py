"""A reconciliation run and a break's resolution, over the switch's store and the ledger.

`run_recon` reads a statement, matches it against the channel's payments of the day
(accounting.recon), compares the clearing account's figure for the day with the statement's,
and keeps the run and its breaks (accounting.recon_store). `resolve_break` clears one break
with an operator's action: every action books through the ledger with operator and reason
(an adjustment, a reversal, or the payment's own settlement event through the outbox), and
moves the payment's state where the action says what became of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import msgspec

from accounting.core import Leg
from accounting.ledger import Ledger
from accounting.recon import Break, allowed_actions, balance_break, clearing_delta, match
from accounting.recon_store import BreakRow, ReconStore, RunRow, correction_key
from accounting.statements import ChannelStatement
from switch.clock import Clock, iso
from switch.order import Payment
from switch.store import Event, StandaloneEvent, Store, Transition, WriteBatch

__all__ = ["ResolveError", "RunReport", "resolve_break", "run_recon"]


class RunReport(msgspec.Struct):
    run_id: int
    channel: str
    business_date: str
    statement_format: str
    items: int
    matched: int
    found: list[Break]
    breaks: list[BreakRow]  # the day's breaks after the run, with their status
    balances: dict[str, dict[str, int | None]]
    seconds: dict[str, float]

    @property
    def open_breaks(self) -> list[BreakRow]:
        found = {b.key for b in self.found}
        return [b for b in self.breaks if b.status == "open"
                and (b.kind, b.reference, b.currency) in found]

    @property
    def exit_code(self) -> int:
        return 3 if self.open_breaks else 0


async def run_recon(recon: ReconStore, channel: str, day: date,
                    read: Callable[[], ChannelStatement], clock: Clock, *,
                    tick: Callable[[int], None] | None = None) -> RunReport:
    """Match, compare balances, keep the run; re-running on the same facts changes nothing
    but the run log. ``read`` gives the statement (it may raise: nothing is written then);
    the switch's and the ledger's side are read meanwhile."""
    iso_day = day.isoformat()
    t0 = time.perf_counter()
    switch_read = asyncio.ensure_future(recon.switch_items(channel, iso_day))
    ledger_read = asyncio.ensure_future(recon.clearing_movement(channel, iso_day))
    try:
        # the statement is parsed in a thread so the loop keeps taking in the database's
        # answers (asyncpg) meanwhile
        statement = await asyncio.to_thread(read)
        t1 = time.perf_counter()
        switch = await switch_read
        t2 = time.perf_counter()
        result = match(statement.items, switch, tick)
        t3 = time.perf_counter()
        ledger = await ledger_read
    except BaseException:
        for task in (switch_read, ledger_read):
            task.cancel()
        await asyncio.gather(switch_read, ledger_read, return_exceptions=True)
        raise
    stated = statement.movement()
    # Resolved breaks are in the ledger already; what is still open explains the rest.
    known = {(b.kind, b.reference, b.currency): b
             for b in await recon.breaks(channel=channel, day=iso_day)}
    still_open = [b for b in result.breaks
                  if getattr(known.get(b.key), "status", "open") != "resolved"
                  or (known[b.key].stated, known[b.key].expected) != (b.stated, b.expected)]
    balances: dict[str, dict[str, int | None]] = {}
    for ccy in sorted(set(stated) | set(ledger) | set(statement.balances)):
        sb = statement.balances.get(ccy)
        moved = ledger.get(ccy, 0)
        balances[ccy] = {
            "statement_opening": sb.opening if sb else None,
            "statement_closing": sb.closing if sb else None,
            "statement_movement": stated.get(ccy, 0),
            "ledger_movement": moved,
            "ledger_closing": sb.opening + moved if sb else None,
        }
        gap = balance_break(ccy, stated.get(ccy, 0), moved, still_open)
        if gap is not None:
            result.breaks.append(gap)
    t4 = time.perf_counter()
    # the reads of the switch and the ledger overlap the statement's: each phase is the time
    # waited for it after the one before
    seconds = {"read": round(t1 - t0, 6), "switch_wait": round(t2 - t1, 6),
               "match": round(t3 - t2, 6), "ledger_wait": round(t4 - t3, 6)}
    run = RunRow(0, channel, iso_day, iso(clock.now()), statement.format, result.items,
                 result.matched, len(result.breaks), 0, 1, {"balances": balances})
    run_id, rows = await recon.record_run(run, result.breaks)
    report = RunReport(run_id, channel, iso_day, statement.format, result.items, result.matched,
                       result.breaks, rows, balances, seconds)
    await recon.finish_run(report.run_id, len(report.open_breaks), report.exit_code)
    report.seconds["store"] = round(time.perf_counter() - t4, 6)
    return report


class ResolveError(Exception):
    """A resolution that cannot be done; ``exit_code`` 2 for a bad request, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def resolve_break(recon: ReconStore, store: Store, ledger: Ledger, clock: Clock,
                        break_id: int, action: str, *, operator: str, reason: str
                        ) -> dict[str, Any]:
    """Clear one open break with ``action``; returns what was done. Resolving a resolved
    break again with the same action changes nothing."""
    row = await recon.break_row(break_id)
    if row is None:
        raise ResolveError(f"no break {break_id}", 2)
    if not operator.strip() or not reason.strip():
        raise ResolveError("--operator and --reason must not be blank", 2)
    b = row.as_break()
    allowed = allowed_actions(b)
    if action not in allowed:
        raise ResolveError(f"{action} does not clear a {b.kind} break "
                           f"(it takes: {', '.join(allowed)})", 2)
    if row.status == "resolved":
        if row.action == action:
            return {"break_id": break_id, "status": "resolved", "entry_id": row.entry_id,
                    "note": "already resolved: nothing changed"}
        raise ResolveError(f"break {break_id} was resolved by {row.action} already")
    if row.status != "open":
        raise ResolveError(f"break {break_id} is {row.status}: nothing to resolve")
    at = iso(clock.now())
    key = correction_key(row.channel, row.business_date, break_id)
    why = f"recon {action} by {operator}: {reason}"
    clearing = f"clearing:{row.channel}"
    entry_id: int | None = None
    if action == "settle-from-statement":
        await _settle(store, ledger, clock, row, why, at)
    elif action == "reverse":
        entry_id = await _reverse(store, ledger, row, key, operator, reason, why, at)
    else:
        delta = clearing_delta(b)
        other = {"make-up": "adjustments", "credit-adjustment": "suspense",
                 "return-to-originator": f"returns:{row.channel}"}[action]
        leg = (Leg(clearing, other, row.currency, delta) if delta > 0
               else Leg(other, clearing, row.currency, -delta))
        links_to = await _settlement_entry(ledger, row.payment_id) if action == "make-up" \
            else None
        kind = {"make-up": "makeup", "credit-adjustment": "credit_adjustment",
                "return-to-originator": "return"}[action]
        r = await ledger.adjust(key, [leg], operator=operator, reason=reason, at=at, kind=kind,
                                links_to=links_to,
                                payment_id=row.payment_id or f"{key}:{row.reference}")
        if r.status not in ("posted", "exists"):
            raise ResolveError(f"the ledger refused the {action}: {r.code}")
        entry_id = r.entry_id
    await recon.mark_resolved(break_id, action=action, operator=operator, reason=reason,
                              entry_id=entry_id, at=at)
    return {"break_id": break_id, "status": "resolved", "action": action,
            "entry_id": entry_id, "payment_id": row.payment_id}


async def _settlement_entry(ledger: Ledger, payment_id: str | None) -> int | None:
    if payment_id is None:
        return None
    for e in await ledger.entries_for_payment(payment_id):
        if e.status == "posted" and e.event_type in ("payment.settled", "batch.settled"):
            return e.entry_id
    return None


async def _reverse(store: Store, ledger: Ledger, row: BreakRow, key: str, operator: str,
                   reason: str, why: str, at: str) -> int | None:
    """The switch booked a settlement the channel does not state: undo its entry (principal
    and fee back to the debtor) and hold the payment as RETURNED."""
    payment = await store.payment(row.payment_id or "")
    entry = await _settlement_entry(ledger, row.payment_id)
    if payment is None or entry is None or payment.state != "SETTLED":
        raise ResolveError("reverse needs a settled payment with its settlement entry")
    if await store.batch(payment.payment_id) is not None:
        raise ResolveError("a batch is returned member by member: payswitch batches return")
    r = await ledger.reverse(key, entry, operator=operator, reason=reason, at=at)
    if r.status not in ("posted", "exists"):
        raise ResolveError(f"the ledger refused the reversal: {r.code}")
    await store.commit(WriteBatch(transitions=[Transition(
        payment_id=payment.payment_id, from_state="SETTLED", to_state="RETURNED", at=at,
        cause=why, reason="NARR")]))
    return r.entry_id


async def _settle(store: Store, ledger: Ledger, clock: Clock, row: BreakRow, why: str,
                  at: str) -> None:
    """The channel settled what the switch holds as unknown: the payment (or the batch and
    its members) moves to SETTLED with the settlement event the engine would have written,
    and the outbox is posted at once so the books show it before the next run."""
    from accounting.worker import AccountingWorker

    payment = await store.payment(row.payment_id or "")
    if payment is None or payment.state not in ("SUBMITTED", "UNKNOWN"):
        state = payment.state if payment else "missing"
        raise ResolveError(f"payment {row.payment_id} is {state}: only a payment waiting for "
                           "the channel's word can be settled from the statement")
    batch = await store.batch(payment.payment_id)
    if batch is None:
        await store.commit(WriteBatch(transitions=[Transition(
            payment_id=payment.payment_id, from_state=payment.state, to_state="SETTLED", at=at,
            cause=why, events=(_settled_event(payment),))]))
    else:
        await store.commit(await _settle_batch(store, payment, batch, why, at))
    await AccountingWorker(store, clock, ledger).post_available()


def _settled_event(p: Payment) -> Event:
    order = p.order
    return Event("payment.settled", {
        "amount": order.amount, "currency": order.currency,
        "debtor_account": order.debtor.account, "creditor_account": order.creditor.account,
        "product": order.product, "channel": p.channel, "fee": p.fee})


async def _settle_batch(store: Store, payment: Payment, batch: Any, why: str, at: str
                        ) -> WriteBatch:
    """What the engine writes when a batch settles: the batch row, its payment, every member
    (with its share of the fee) and one batch.settled event for the books."""
    from switch.batching import fee_shares

    members = await store.batch_members(batch.batch_id)
    shares = fee_shares(batch.fee, members)
    out = WriteBatch()
    out.transitions.append(Transition(payment_id=payment.payment_id, from_state=payment.state,
                                      to_state="SETTLED", at=at, cause=why))
    debtors: dict[str, str] = {}
    for pid, _ in members:
        m = await store.payment(pid)
        if m is None:
            continue
        debtors[pid] = m.order.debtor.account
        if m.state in ("SUBMITTED", "UNKNOWN"):
            out.transitions.append(Transition(
                payment_id=pid, from_state=m.state, to_state="SETTLED", at=at,
                cause=f"batch {batch.batch_id}: {why}", channel=batch.channel,
                fee=shares.get(pid)))
    out.batches.append(msgspec.structs.replace(batch, state="SETTLED", finished_at=at,
                                               retry=False))
    out.events.append(StandaloneEvent(batch.batch_id, Event("batch.settled", {
        "amount": batch.total, "currency": batch.currency, "channel": batch.channel,
        "product": "BATCH", "fee": batch.fee, "batch_id": batch.batch_id,
        "members": [{"payment_id": pid, "amount": amount,
                     "debtor_account": debtors.get(pid, "")} for pid, amount in members]}),
        at))
    return out
