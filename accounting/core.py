"""The posting engine itself, free of I/O: events -> plans -> postings against a loaded snapshot.

A store loads what a batch touches (existing keys, holds, balances) inside its transaction, this
module applies the batch event by event in order (each event all-or-nothing), and the store writes
the result in the same transaction. Both stores share it, so they cannot disagree on the rules.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import msgspec

from accounting.config import ANY, FEE, PRINCIPAL, Account, Books, PostingRule, per_member
from accounting.errors import Code

# Posting phases: posted, held (pending), voided (a release of an earlier hold).
POSTED, HELD, VOIDED = "P", "H", "V"

Status = Literal["posted", "rejected", "exists", "conflict", "no_entry"]


class PostResult(msgspec.Struct, frozen=True, gc=False):
    """What posting one key did. A replay answers status 'exists' with the original code."""

    key: str
    status: Status
    code: Code
    entry_id: int | None = None


class Balance(msgspec.Struct, frozen=True):
    account: str
    currency: str
    debits_posted: int
    credits_posted: int
    debits_pending: int = 0
    credits_pending: int = 0

    @property
    def net(self) -> int:
        """Posted debits minus posted credits (positive: a debit balance)."""
        return self.debits_posted - self.credits_posted


class Hold(msgspec.Struct, gc=False):
    payment_id: str
    entry_id: int
    debit: str
    credit: str
    currency: str
    amount: int
    state: str = "pending"  # pending | posted | voided
    closed_entry_id: int | None = None


class Existing(msgspec.Struct, frozen=True, gc=False):
    entry_id: int
    digest: str
    event_type: str
    amount: int
    status: str
    code: str


class Leg(msgspec.Struct, frozen=True, gc=False):
    """One concrete debit/credit pair of an adjustment or a resolved rule."""

    debit: str
    credit: str
    currency: str
    amount: int


# A hold an entry closes: (payment id, amount to post, or None to void it).
Close = tuple[str, int | None]


class Plan(msgspec.Struct, gc=False):
    """One journal entry to be: from an outbox event, a reversal or an operator adjustment."""

    key: str
    event_type: str
    digest: str
    memo: str
    posted_at: str
    amount: int = 0
    currency: str = ""
    event_id: int | None = None
    payment_id: str | None = None
    hold: Leg | None = None  # a hold to place for payment_id
    closes: list[Close] = []  # holds to post or void: one for a payment, one per batch member
    legs: list[Leg] = []
    error: Code | None = None
    link_entry_id: int | None = None
    link_kind: str | None = None  # reversal | makeup | credit_adjustment
    operator: str | None = None
    reason: str | None = None

    @property
    def moves_money(self) -> bool:
        return bool(self.legs or self.hold or self.closes)


class Alert(msgspec.Struct, frozen=True, gc=False):
    """A position crossed one of its thresholds in configuration (once per crossing)."""

    account: str
    currency: str
    threshold: Literal["below", "above"]
    limit: int
    value: int
    entry_id: int
    at: str = ""  # when the entry that crossed it was posted
    alert_id: int | None = None  # its row in acct_alerts, once committed


# entry row: entry_id, event_id, adj_key, event_type, payment_id, posted_at, memo, digest,
# amount, status, code, link_entry_id, link_kind, operator, reason. The idempotency key is the
# outbox event id for events (a bigint: cheap to index) and the operator's key otherwise.
EntryRow = tuple[int, int | None, str | None, str, str | None, str, str, str, int, str, str,
                 int | None, str | None, str | None, str | None]
# posting row: entry_id, seq, account_id, phase, debit, credit
PostingRow = tuple[int, int, int, str, int, int]
# hold rows: placed (payment_id, entry_id, debit, credit, currency, amount) and closed
# (payment_id, entry_id, state); both tables are insert-only.
HoldRow = tuple[str, int, str, str, str, int]
ClosureRow = tuple[str, int, str]


_gc_pauses = [0, False]  # open pauses, and whether the GC was enabled when the first began
_gc_lock = threading.Lock()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC while a batch's rows are alive: the engine makes no reference cycles, and
    collections triggered by a hundred thousand fresh tuples cost 10-20% of the posting rate.
    Pauses may nest and overlap (one per batch being written); the last one out restores it."""
    with _gc_lock:
        if _gc_pauses[0] == 0:
            _gc_pauses[1] = gc.isenabled()
            gc.disable()
        _gc_pauses[0] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses[0] -= 1
            if _gc_pauses[0] == 0 and _gc_pauses[1]:
                gc.enable()


def digest_of(*parts: Any) -> str:
    """A stable fingerprint of an entry's content, to tell a replay from a conflicting reuse."""
    return hashlib.blake2b(msgspec.json.encode(parts, order="sorted"), digest_size=16).hexdigest()


def _int_amount(v: Any) -> int | None:
    # bool is an int subclass, and a float is never money (DESIGN.md invariant 5)
    return v if type(v) is int and v >= 0 else None


def pro_rata(total: int, weights: Sequence[int]) -> list[int]:
    """`total` in shares proportional to `weights`, each rounded down; the remainder goes to the
    largest weight (the first of equal ones), so the shares add up to exactly `total`.

    >>> pro_rata(100, [1, 1, 1])
    [34, 33, 33]
    >>> pro_rata(10, [500, 1500, 0])
    [2, 8, 0]
    """
    whole = sum(weights)
    shares = [total * w // whole for w in weights] if whole else [0] * len(weights)
    largest = max(range(len(weights)), key=weights.__getitem__)  # max() keeps the first
    shares[largest] += total - sum(shares)
    return shares


def vat_shares(vat: int, fees: Sequence[int]) -> list[int]:
    """The VAT of a fee split over the members' shares of that fee: in proportion, rounded
    down, what is left to the largest shares first, and never more than a member's fee share
    (so each member's net fee is >= 0). Needs vat <= sum(fees).

    >>> vat_shares(6, [34, 33, 33])
    [4, 1, 1]
    >>> vat_shares(6, [1] * 8)  # a share of 1 cannot carry more than 1 of VAT
    [1, 1, 1, 1, 1, 1, 0, 0]
    """
    whole = sum(fees)
    out = [vat * f // whole for f in fees] if whole else [0] * len(fees)
    rest = vat - sum(out)
    for i in sorted(range(len(fees)), key=lambda i: -fees[i]):  # stable: first of equals first
        if not rest:
            break
        take = min(rest, fees[i] - out[i])
        out[i] += take
        rest -= take
    return out


class _Member(msgspec.Struct, gc=False):
    payment_id: str
    amount: int
    fields: dict[str, Any]


def _members(body: dict[str, Any], wanted: list[str]) -> list[_Member] | Code:
    """The members of a batch event's body, each with its fields over the batch's."""
    raw = body.get("members")
    if not isinstance(raw, list) or not raw:
        return Code.MISSING_FIELD
    out = []
    for m in raw:
        if not isinstance(m, dict):
            return Code.MISSING_FIELD
        pid, amount = m.get("payment_id"), _int_amount(m.get("amount"))
        if not isinstance(pid, str) or not pid or any(f not in m for f in wanted):
            return Code.MISSING_FIELD
        if amount is None:
            return Code.INVALID_AMOUNT
        out.append(_Member(pid, amount, {**body, **m}))
    return out


def plan_event(books: Books, event_id: int, payment_id: str, event_type: str,
               body: dict[str, Any], posted_at: str) -> Plan:
    """Resolve one outbox event through the posting rules into a plan (no I/O)."""
    p = Plan(f"ev:{event_id}", event_type, digest_of(event_type, payment_id, body),
             f"{event_type} {payment_id}", posted_at, 0, "", event_id, payment_id)
    principal = _int_amount(body.get("amount", 0))
    if principal is None:
        p.error = Code.INVALID_AMOUNT
        return p
    p.amount = principal
    currency = body.get("currency")
    if not isinstance(currency, str):
        p.error = Code.MISSING_FIELD
        return p
    p.currency = currency
    channel = str(body.get("channel") or "")
    product = str(body.get("product") or "")
    recipe = books.recipe(event_type, channel, product)
    if recipe is None:
        p.error = Code.NO_RULE
        return p
    spec = books.events[event_type]
    members: list[_Member] | None = None
    if spec.members is not None:
        found = _members(body, spec.members)
        if isinstance(found, Code):
            p.error = found
            return p
        members = found
        total = sum(m.amount for m in members)
        if "amount" in body and principal != total:  # a batch total must be its members' sum
            p.error = Code.INVALID_AMOUNT
            return p
        p.amount = principal = total
    values: list[int] = []
    for amount_type, _ in recipe:
        if amount_type == PRINCIPAL:
            values.append(principal)
            continue
        raw = body.get(amount_type)
        value = 0 if raw is None else _int_amount(raw)
        if value is None:
            p.error = Code.INVALID_AMOUNT
            return p
        values.append(value)
    if PRINCIPAL not in spec.amounts:
        p.amount = sum(values)  # what the entry moves: a fee, a funding
    fields: dict[str, Any] | None = None
    for (amount_type, rule), value in zip(recipe, values, strict=True):
        net = vat = 0
        if amount_type == FEE and value:
            vat_given = body.get("vat")
            if vat_given is not None:
                vat_int = _int_amount(vat_given)
                if vat_int is None or vat_int > value:
                    p.error = Code.INVALID_AMOUNT
                    return p
                net, vat = value - vat_int, vat_int
            else:
                net, vat = books.split(value, channel, product)
        if members is not None and per_member(spec, rule):
            code = _plan_members(p, rule, members, value, vat, currency)
        else:
            if fields is None:  # the body as it is, unless an account names the payment
                fields = {**body, "payment_id": payment_id} if books.needs_payment_id else body
            code = _plan_once(p, rule, payment_id, fields, value, net, vat, currency)
        if code is not None:
            p.error = code
            return p
    return p


def _plan_once(p: Plan, rule: PostingRule, payment_id: str, fields: dict[str, Any], value: int,
               net: int, vat: int, currency: str) -> Code | None:
    action = rule.action
    if action == "void_hold":
        p.closes.append((payment_id, None))
        return None
    if action == "post_hold":
        p.closes.append((payment_id, value))
    elif value == 0:
        return None  # nothing to book: a fee-free payment books no fee legs
    for leg in rule.legs:
        try:
            debit = leg.debit.format_map(fields)
            credit = leg.credit.format_map(fields)
        except KeyError:
            return Code.MISSING_FIELD
        part = leg.part
        amt = value if part == "gross" else net if part == "net" else vat
        if action == "hold":
            p.hold = Leg(debit, credit, currency, amt)
        elif amt:
            p.legs.append(Leg(debit, credit, currency, amt))
    return None


def _plan_members(p: Plan, rule: PostingRule, members: list[_Member], value: int, vat: int,
                  currency: str) -> Code | None:
    """A per-member rule of a batch: each member's hold and principal, or its fee share."""
    if rule.amount == PRINCIPAL:
        amounts = [m.amount for m in members]
        vats = [0] * len(members)
    else:  # an allocated fee: shares of the gross fee, the batch's VAT spread over them
        amounts = pro_rata(value, [m.amount for m in members])
        vats = vat_shares(vat, amounts)
    for m, amt, m_vat in zip(members, amounts, vats, strict=True):
        if rule.action == "void_hold":
            p.closes.append((m.payment_id, None))
            continue
        if rule.action == "post_hold":
            p.closes.append((m.payment_id, amt))
        for leg in rule.legs:
            try:
                debit = leg.debit.format_map(m.fields)
                credit = leg.credit.format_map(m.fields)
            except KeyError:
                return Code.MISSING_FIELD
            part = leg.part
            share = amt if part == "gross" else amt - m_vat if part == "net" else m_vat
            if share:
                p.legs.append(Leg(debit, credit, currency, share))
    return None


class Snapshot:
    """What a batch touches, loaded by the store inside its transaction, updated in memory."""

    def __init__(self, next_entry_id: int, entries: dict[str, Existing], holds: dict[str, Hold],
                 balances: dict[tuple[str, str], list[int]], reversed_ids: set[int],
                 account_ids: dict[tuple[str, str], int], next_account_id: int) -> None:
        self.next_entry_id = next_entry_id
        self.entries = entries
        self.holds = holds
        self.balances = balances
        self.reversed_ids = reversed_ids
        self.account_ids = account_ids  # (account, currency) -> the id postings carry
        self.next_account_id = next_account_id


# Per (account, currency) in a batch: [_Seen, its account id once the batch posts on it, then
# the batch's debits posted, credits posted, debits pending, credits pending]
Slot = list[Any]


class Writes:
    """What a batch writes: new rows, balance deltas, hold rows, alerts to record."""

    def __init__(self) -> None:
        self.entries: list[EntryRow] = []
        self.postings: list[PostingRow] = []
        self.accounts: list[tuple[int, str, str]] = []  # new (account_id, account, currency)
        self.slots: dict[tuple[str, str], Slot] = {}
        self.holds: list[HoldRow] = []
        self.closures: list[ClosureRow] = []
        self.alerts: list[Alert] = []
        self.results: list[PostResult] = []

    def deltas(self) -> list[tuple[int, int, int, int, int]]:
        """(account_id, debits posted, credits posted, debits pending, credits pending) to add
        to the kept balances: one per account with postings in the batch, by account id."""
        return sorted((s[1], s[2], s[3], s[4], s[5]) for s in self.slots.values()
                      if s[1] is not None)


def carried(snap: Snapshot, w: Writes) -> Snapshot:
    """The state a batch leaves, as far as the batch changed it: what the next batch can be
    applied on before this one commits. The store loads the rest, and before writing the next
    batch checks that nobody else moved the ledger meanwhile."""
    # what apply recorded for each key of the batch (its own entries and replays it found)
    known = snap.entries
    entries = {r.key: e for r in w.results if (e := known.get(r.key)) is not None}
    changed = {h[0] for h in w.holds} | {c[0] for c in w.closures}
    watched_keys = [k for k, slot in w.slots.items() if isinstance(slot[0], Account)]
    return Snapshot(
        snap.next_entry_id, entries, {pid: snap.holds[pid] for pid in changed},
        {k: list(snap.balances[k]) for k in watched_keys if k in snap.balances},
        {r[11] for r in w.entries
         if r[11] is not None and r[12] == "reversal" and r[9] == "posted"},
        {(acct, ccy): aid for aid, acct, ccy in w.accounts}, snap.next_account_id)


def wanted_holds(plans: Iterable[Plan]) -> set[str]:
    """Payment ids whose hold the plans place, post or void: the store loads these."""
    out: set[str] = set()
    for p in plans:
        if p.hold is not None and p.payment_id is not None:
            out.add(p.payment_id)
        for pid, _ in p.closes:
            out.add(pid)
    return out


def accounts_of(plans: Iterable[Plan], holds: dict[str, Hold]) -> set[tuple[str, str]]:
    """Every (account, currency) a batch of plans can touch, for the store to load."""
    out = {(leg.debit, leg.currency) for p in plans for leg in p.legs}
    out.update([(leg.credit, leg.currency) for p in plans for leg in p.legs])
    for p in plans:
        if p.hold is not None:
            out.add((p.hold.debit, p.hold.currency))
            out.add((p.hold.credit, p.hold.currency))
        for pid, _ in p.closes:
            h = holds.get(pid)
            if h is not None:
                out.add((h.debit, h.currency))
                out.add((h.credit, h.currency))
    return out


def _available(acc: Account, b: Sequence[int]) -> int:
    # Pending decreases count against what is available; pending increases do not count yet.
    return b[0] - b[1] - b[3] if acc.debit_normal else b[1] - b[0] - b[2]


def _exposure(acc: Account, b: Sequence[int]) -> int:
    return b[0] + b[2] - b[1] if acc.debit_normal else b[1] + b[3] - b[0]


def _violation(acc: Account, before: Sequence[int], after: Sequence[int]) -> Code | None:
    """A constraint this change breaks; a change that does not make things worse always passes
    (so a limit lowered in configuration blocks new exposure, not repayments)."""
    if acc.constraint == "non_negative":
        a = _available(acc, after)
        if a < 0 and a < _available(acc, before):
            return Code.EXCEEDS_DEBITS if acc.debit_normal else Code.EXCEEDS_CREDITS
    elif acc.constraint == "upper_limit":
        assert acc.limit is not None
        e = _exposure(acc, after)
        if e > acc.limit and e > _exposure(acc, before):
            return Code.EXCEEDS_LIMIT
    return None


def _compare(p: Plan, old: Existing) -> PostResult:
    if old.digest == p.digest:
        return PostResult(p.key, "exists", Code(old.code), old.entry_id)
    if old.event_type != p.event_type:
        code = Code.EXISTS_WITH_DIFFERENT_EVENT_TYPE
    elif old.amount != p.amount:
        code = Code.EXISTS_WITH_DIFFERENT_AMOUNT
    else:
        code = Code.EXISTS_WITH_DIFFERENT_CONTENT
    return PostResult(p.key, "conflict", code, old.entry_id)


_ZERO = (0, 0, 0, 0)
_OK = Code.OK.value  # an enum's .value is a descriptor call: once here, not once per entry
Row = tuple[tuple[str, str], str, int, int]  # (account, currency), phase, debit, credit
# Per (account, currency) seen in a batch: the chart entry when its balance must be watched
# (a constraint or an alert threshold), None when it need not be, or the code that refuses it.
_Seen = Account | Code | None


def _classify(books: Books, acct: str, ccy: str) -> _Seen:
    acc = books.account(acct)
    if acc is None:
        return Code.ACCOUNT_NOT_FOUND
    if acc.currency != ANY and acc.currency != ccy:
        return Code.CURRENCY_MISMATCH
    if acc.constraint != "free" or acc.alert_below is not None or acc.alert_above is not None:
        return acc
    return None


def watched(books: Books, account: str, currency: str) -> bool:
    """Whether the engine needs this account's balance (to check a constraint or an alert)."""
    return isinstance(_classify(books, account, currency), Account)


def apply(books: Books, plans: Sequence[Plan], snap: Snapshot, w: Writes | None = None
          ) -> Writes:
    """Apply plans in order; each one entirely or (with a stable code) not at all.

    Only watched accounts (constraints, alerts) keep running balances in memory; every
    account's change goes to the batch's deltas, which the store adds to the kept balances.
    Called again with the same `w`, it continues the batch (a store may write as it goes).
    """
    if w is None:
        w = Writes()
    balances, ids, entries = snap.balances, snap.account_ids, snap.entries
    postings, slots, results = w.postings, w.slots, w.results
    for p in plans:
        old = entries.get(p.key)
        if old is not None:
            results.append(_compare(p, old))
            continue
        code = p.error
        if code is None and not (p.legs or p.hold is not None or p.closes):
            results.append(PostResult(p.key, "no_entry", Code.OK))
            continue
        entry_id = snap.next_entry_id
        snap.next_entry_id = entry_id + 1
        rows: list[Row] = []
        changed: list[Hold] = []
        watch: dict[tuple[str, str], list[int]] | None = None
        if code is None:
            code = _rows(p, snap, rows, entry_id, changed)
        if code is None:
            # One pass, written as it goes: a refusal (rare) is undone below.
            first, known = len(postings), len(w.accounts)
            for seq, (k, phase, dr, cr) in enumerate(rows):
                slot = slots.get(k)
                if slot is None:
                    slot = slots[k] = [_classify(books, k[0], k[1]), None, 0, 0, 0, 0]
                kind = slot[0]
                if kind is not None:
                    if kind.__class__ is Code:
                        code = kind
                        break
                    if watch is None:
                        watch = {}
                    d = watch.get(k)
                    if d is None:
                        d = watch[k] = [0, 0, 0, 0]
                    _add(d, phase, dr, cr)
                aid = slot[1]
                if aid is None:  # the batch's first posting on this account
                    aid = ids.get(k)
                    if aid is None:
                        aid = ids[k] = snap.next_account_id
                        snap.next_account_id += 1
                        w.accounts.append((aid, k[0], k[1]))
                    slot[1] = aid
                postings.append((entry_id, seq, aid, phase, dr, cr))
                if phase == POSTED:
                    slot[2] += dr
                    slot[3] += cr
                elif phase == HELD:
                    slot[4] += dr
                    slot[5] += cr
                else:
                    slot[4] -= dr
                    slot[5] -= cr
            if code is None and watch:
                code = _violations(watch, slots, balances)
            if code is not None:
                _undo(w, snap, rows, first, known)
        if code is None:
            status: Status = "posted"
            result_code, text = Code.OK, _OK
        else:
            status, result_code, text = "rejected", code, code.value
        w.entries.append((entry_id, p.event_id, None if p.event_id is not None else p.key,
                          p.event_type, p.payment_id, p.posted_at, p.memo, p.digest, p.amount,
                          status, text, p.link_entry_id, p.link_kind, p.operator, p.reason))
        entries[p.key] = Existing(entry_id, p.digest, p.event_type, p.amount, status, text)
        results.append(PostResult(p.key, status, result_code, entry_id))
        if code is not None:
            continue
        if watch:
            for k, d in watch.items():
                acc = slots[k][0]
                assert isinstance(acc, Account)
                before = balances.get(k)
                if before is None:
                    before = balances[k] = [0, 0, 0, 0]
                after = [before[0] + d[0], before[1] + d[1], before[2] + d[2], before[3] + d[3]]
                if acc.alert_below is not None or acc.alert_above is not None:
                    _alerts(acc, k, before, after, entry_id, p.posted_at, w.alerts)
                before[:] = after
        for h in changed:
            snap.holds[h.payment_id] = h
            if h.state == "pending":
                w.holds.append((h.payment_id, h.entry_id, h.debit, h.credit, h.currency,
                                h.amount))
            else:
                w.closures.append((h.payment_id, entry_id, h.state))
        if p.link_kind == "reversal" and p.link_entry_id is not None:
            snap.reversed_ids.add(p.link_entry_id)
    return w


def _undo(w: Writes, snap: Snapshot, rows: list[Row], first: int, known: int) -> None:
    """Take back what a refused entry had written into the batch."""
    slots = w.slots
    for k, phase, dr, cr in rows[:len(w.postings) - first]:
        _add(slots[k], phase, -dr, -cr, 2)
    del w.postings[first:]
    for _, acct, ccy in w.accounts[known:]:  # accounts it opened are not opened after all
        del snap.account_ids[(acct, ccy)]
        slots[(acct, ccy)][1] = None
    snap.next_account_id -= len(w.accounts) - known
    del w.accounts[known:]


def _add(d: list[int], phase: str, dr: int, cr: int, at: int = 0) -> None:
    """Add a posting to a balance vector (debits posted, credits posted, debits pending,
    credits pending) starting at index `at`."""
    if phase == POSTED:
        d[at] += dr
        d[at + 1] += cr
    elif phase == HELD:
        d[at + 2] += dr
        d[at + 3] += cr
    else:
        d[at + 2] -= dr
        d[at + 3] -= cr


def _violations(watch: dict[tuple[str, str], list[int]], slots: dict[tuple[str, str], Slot],
                balances: dict[tuple[str, str], list[int]]) -> Code | None:
    for k, d in watch.items():
        acc = slots[k][0]
        assert isinstance(acc, Account)
        if acc.constraint == "free":
            continue
        b = balances.get(k, _ZERO)
        code = _violation(acc, b, [b[0] + d[0], b[1] + d[1], b[2] + d[2], b[3] + d[3]])
        if code is not None:
            return code
    return None


def _rows(p: Plan, snap: Snapshot, rows: list[Row], entry_id: int, changed: list[Hold]
          ) -> Code | None:
    """The plan's postings in order, and the holds it places or closes (into `changed`)."""
    if p.link_kind == "reversal" and p.link_entry_id in snap.reversed_ids:
        return Code.ALREADY_REVERSED
    holds = snap.holds
    if p.hold is not None:
        assert p.payment_id is not None
        if p.payment_id in holds:
            return Code.PENDING_TRANSFER_EXISTS
        h = p.hold
        rows.append(((h.debit, h.currency), HELD, h.amount, 0))
        rows.append(((h.credit, h.currency), HELD, 0, h.amount))
        changed.append(Hold(p.payment_id, entry_id, h.debit, h.credit, h.currency, h.amount))
    closing: dict[str, str] = {}  # a batch that lists a member twice closes it once
    for pid, post in p.closes:
        held = holds.get(pid)
        if held is None:
            return Code.PENDING_TRANSFER_NOT_FOUND
        state = closing.get(pid, held.state)
        if state == "posted":
            return Code.PENDING_TRANSFER_ALREADY_POSTED
        if state == "voided":
            return Code.PENDING_TRANSFER_ALREADY_VOIDED
        if post is not None and post > held.amount:
            return Code.EXCEEDS_PENDING_TRANSFER_AMOUNT
        if p.currency and held.currency != p.currency:
            return Code.CURRENCY_MISMATCH
        closing[pid] = "voided" if post is None else "posted"
        dr_key, cr_key = (held.debit, held.currency), (held.credit, held.currency)
        rows.append((dr_key, VOIDED, held.amount, 0))
        rows.append((cr_key, VOIDED, 0, held.amount))
        if post:
            rows.append((dr_key, POSTED, post, 0))
            rows.append((cr_key, POSTED, 0, post))
        changed.append(Hold(held.payment_id, held.entry_id, held.debit, held.credit,
                            held.currency, held.amount, closing[pid], entry_id))
    for leg in p.legs:
        rows.append(((leg.debit, leg.currency), POSTED, leg.amount, 0))
        rows.append(((leg.credit, leg.currency), POSTED, 0, leg.amount))
    return None


def _alerts(acc: Account, k: tuple[str, str], before: Sequence[int], after: Sequence[int],
            entry_id: int, at: str, out: list[Alert]) -> None:
    # Alert on crossing only, so a position that stays low does not raise one alert per payment.
    if acc.alert_below is not None:
        b, a = _available(acc, before), _available(acc, after)
        if b >= acc.alert_below > a:
            out.append(Alert(k[0], k[1], "below", acc.alert_below, a, entry_id, at))
    if acc.alert_above is not None:
        b, a = _exposure(acc, before), _exposure(acc, after)
        if b <= acc.alert_above < a:
            out.append(Alert(k[0], k[1], "above", acc.alert_above, a, entry_id, at))


def alert_state(acc: Account, b: Balance) -> Literal["below", "above"] | None:
    """Which threshold a position is past right now (None: within both)."""
    vec = (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)
    if acc.alert_below is not None and _available(acc, vec) < acc.alert_below:
        return "below"
    if acc.alert_above is not None and _exposure(acc, vec) > acc.alert_above:
        return "above"
    return None


def available(acc: Account, b: Balance) -> int:
    """Available balance: the normal-side balance less pending decreases."""
    return _available(acc, (b.debits_posted, b.credits_posted, b.debits_pending,
                            b.credits_pending))
