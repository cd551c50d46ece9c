"""The posting engine itself, free of I/O: events -> plans -> postings against a loaded snapshot.

A store loads what a batch touches (existing keys, holds, balances) inside its transaction, this
module applies the batch event by event in order (each event all-or-nothing), and the store writes
the result in the same transaction. Both stores share it, so they cannot disagree on the rules.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import msgspec

from accounting.config import ANY, Account, Books
from accounting.errors import Code

# Posting phases: posted, held (pending), voided (a release of an earlier hold).
POSTED, HELD, VOIDED = "P", "H", "V"

Status = Literal["posted", "rejected", "exists", "conflict", "no_entry"]


class PostResult(msgspec.Struct, frozen=True):
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


class Hold(msgspec.Struct):
    payment_id: str
    entry_id: int
    debit: str
    credit: str
    currency: str
    amount: int
    state: str  # pending | posted | voided
    closed_entry_id: int | None = None


class Existing(msgspec.Struct, frozen=True):
    entry_id: int
    digest: str
    event_type: str
    amount: int
    status: str
    code: str


class Leg(msgspec.Struct, frozen=True):
    """One concrete debit/credit pair of an adjustment or a resolved rule."""

    debit: str
    credit: str
    currency: str
    amount: int


class Plan(msgspec.Struct):
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
    hold: Leg | None = None
    post_hold: int | None = None  # amount to post of the payment's hold (-1: all of it)
    void_hold: bool = False
    legs: list[Leg] = []
    error: Code | None = None
    link_entry_id: int | None = None
    link_kind: str | None = None  # reversal | makeup | credit_adjustment
    operator: str | None = None
    reason: str | None = None

    @property
    def moves_money(self) -> bool:
        return bool(self.legs or self.hold or self.post_hold is not None or self.void_hold)


class Alert(msgspec.Struct, frozen=True):
    """A position crossed one of its thresholds in configuration."""

    account: str
    currency: str
    threshold: Literal["below", "above"]
    limit: int
    value: int
    entry_id: int


# entry row: entry_id, event_id, adj_key, event_type, payment_id, posted_at, memo, digest,
# amount, status, code, link_entry_id, link_kind, operator, reason. The idempotency key is the
# outbox event id for events (a bigint: cheap to index) and the operator's key otherwise.
EntryRow = tuple[int, int | None, str | None, str, str | None, str, str, str, int, str, str,
                 int | None, str | None, str | None, str | None]
# posting row: entry_id, seq, account_id, phase, debit, credit
PostingRow = tuple[int, int, int, str, int, int]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC while a batch allocates its rows: the engine makes no reference cycles, and
    collections triggered by a hundred thousand fresh tuples cost 10-20% of the posting rate."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def digest_of(*parts: Any) -> str:
    """A stable fingerprint of an entry's content, to tell a replay from a conflicting reuse."""
    return hashlib.blake2b(msgspec.json.encode(parts, order="sorted"), digest_size=16).hexdigest()


def _int_amount(v: Any) -> int | None:
    # bool is an int subclass, and a float is never money (DESIGN.md invariant 5)
    return v if type(v) is int and v >= 0 else None


def plan_event(books: Books, event_id: int, payment_id: str, event_type: str,
               body: dict[str, Any], posted_at: str) -> Plan:
    """Resolve one outbox event through the posting rules into a plan (no I/O)."""
    p = Plan(key=f"ev:{event_id}", event_type=event_type, posted_at=posted_at,
             digest=digest_of(event_type, payment_id, body), memo=f"{event_type} {payment_id}",
             event_id=event_id, payment_id=payment_id)
    principal = _int_amount(body.get("amount", 0))
    fee = _int_amount(body.get("fee") or 0)
    if principal is None or fee is None:
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
    fields: dict[str, Any] | None = None
    for amount_type, rule in recipe:
        value = principal if amount_type == "principal" else fee
        action = rule.action
        if action == "void_hold":
            p.void_hold = True
            continue
        if action == "post_hold":
            p.post_hold = value
        elif value == 0:
            continue  # nothing to book: a fee-free payment books no fee legs
        if fields is None:
            fields = {**body, "payment_id": payment_id}
        net = vat = 0
        if amount_type == "fee":
            vat_given = body.get("vat")
            if vat_given is not None:
                vat_int = _int_amount(vat_given)
                if vat_int is None or vat_int > value:
                    p.error = Code.INVALID_AMOUNT
                    return p
                net, vat = value - vat_int, vat_int
            else:
                net, vat = books.split(value, channel, product)
        for leg in rule.legs:
            try:
                debit = leg.debit.format_map(fields)
                credit = leg.credit.format_map(fields)
            except KeyError:
                p.error = Code.MISSING_FIELD
                return p
            part = leg.part
            amt = value if part == "gross" else net if part == "net" else vat
            if action == "hold":
                p.hold = Leg(debit, credit, currency, amt)
            elif amt:
                p.legs.append(Leg(debit, credit, currency, amt))
    return p


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


class Writes:
    """What a batch writes: new rows, balance deltas, changed holds, alerts to raise."""

    def __init__(self) -> None:
        self.entries: list[EntryRow] = []
        self.postings: list[PostingRow] = []
        self.accounts: list[tuple[int, str, str]] = []  # new (account_id, account, currency)
        self.deltas: dict[tuple[str, str], list[int]] = {}
        self.holds: dict[str, Hold] = {}
        self.alerts: list[Alert] = []
        self.results: list[PostResult] = []


def accounts_of(plans: Iterable[Plan], holds: dict[str, Hold]) -> set[tuple[str, str]]:
    """Every (account, currency) a batch of plans can touch, for the store to load."""
    out: set[tuple[str, str]] = set()
    for p in plans:
        for leg in p.legs:
            out.add((leg.debit, leg.currency))
            out.add((leg.credit, leg.currency))
        if p.hold is not None:
            out.add((p.hold.debit, p.hold.currency))
            out.add((p.hold.credit, p.hold.currency))
        if p.payment_id is not None and (p.post_hold is not None or p.void_hold):
            h = holds.get(p.payment_id)
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
Row = tuple[str, str, str, int, int]  # account, currency, phase, debit, credit
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
    account's change goes to `w.deltas`, which the store adds to the kept balances.
    """
    if w is None:
        w = Writes()
    balances, ids, entries = snap.balances, snap.account_ids, snap.entries
    postings, deltas, results = w.postings, w.deltas, w.results
    seen: dict[tuple[str, str], _Seen] = {}
    for p in plans:
        old = entries.get(p.key)
        if old is not None:
            results.append(_compare(p, old))
            continue
        if p.error is None and not p.moves_money:
            results.append(PostResult(p.key, "no_entry", Code.OK))
            continue
        entry_id = snap.next_entry_id
        snap.next_entry_id += 1
        code = p.error
        rows: list[Row] = []
        hold_change: Hold | None = None
        watched: dict[tuple[str, str], list[int]] | None = None
        if code is None:
            code, hold_change = _rows(p, snap, rows, entry_id)
        if code is None:
            for acct, ccy, phase, dr, cr in rows:
                k = (acct, ccy)
                try:
                    kind = seen[k]
                except KeyError:
                    kind = seen[k] = _classify(books, acct, ccy)
                if kind is None:
                    continue
                if isinstance(kind, Code):
                    code = kind
                    break
                if watched is None:
                    watched = {}
                d = watched.get(k)
                if d is None:
                    d = watched[k] = [0, 0, 0, 0]
                _add(d, phase, dr, cr)
            if code is None and watched:
                code = _violations(watched, seen, balances)
        status: Status = "posted" if code is None else "rejected"
        result_code = Code.OK if code is None else code
        w.entries.append((entry_id, p.event_id, None if p.event_id is not None else p.key,
                          p.event_type, p.payment_id, p.posted_at,
                          p.memo, p.digest, p.amount, status, result_code.value,
                          p.link_entry_id, p.link_kind, p.operator, p.reason))
        entries[p.key] = Existing(entry_id, p.digest, p.event_type, p.amount, status,
                                  result_code.value)
        results.append(PostResult(p.key, status, result_code, entry_id))
        if code is not None:
            continue
        for seq, (acct, ccy, phase, dr, cr) in enumerate(rows):
            k = (acct, ccy)
            aid = ids.get(k)
            if aid is None:
                aid = ids[k] = snap.next_account_id
                snap.next_account_id += 1
                w.accounts.append((aid, acct, ccy))
            postings.append((entry_id, seq, aid, phase, dr, cr))
            d = deltas.get(k)
            if d is None:
                d = deltas[k] = [0, 0, 0, 0]
            if phase == POSTED:
                d[0] += dr
                d[1] += cr
            elif phase == HELD:
                d[2] += dr
                d[3] += cr
            else:
                d[2] -= dr
                d[3] -= cr
        if watched:
            for k, d in watched.items():
                acc = seen[k]
                assert isinstance(acc, Account)
                before = balances.get(k)
                if before is None:
                    before = balances[k] = [0, 0, 0, 0]
                after = [before[0] + d[0], before[1] + d[1], before[2] + d[2], before[3] + d[3]]
                if acc.alert_below is not None or acc.alert_above is not None:
                    _alerts(acc, k, before, after, entry_id, w.alerts)
                before[:] = after
        if hold_change is not None:
            snap.holds[hold_change.payment_id] = hold_change
            w.holds[hold_change.payment_id] = hold_change
        if p.link_kind == "reversal" and p.link_entry_id is not None:
            snap.reversed_ids.add(p.link_entry_id)
    return w


def _add(d: list[int], phase: str, dr: int, cr: int) -> None:
    if phase == POSTED:
        d[0] += dr
        d[1] += cr
    elif phase == HELD:
        d[2] += dr
        d[3] += cr
    else:
        d[2] -= dr
        d[3] -= cr


def _violations(watched: dict[tuple[str, str], list[int]], seen: dict[tuple[str, str], _Seen],
                balances: dict[tuple[str, str], list[int]]) -> Code | None:
    for k, d in watched.items():
        acc = seen[k]
        assert isinstance(acc, Account)
        if acc.constraint == "free":
            continue
        b = balances.get(k, _ZERO)
        code = _violation(acc, b, [b[0] + d[0], b[1] + d[1], b[2] + d[2], b[3] + d[3]])
        if code is not None:
            return code
    return None


def _rows(p: Plan, snap: Snapshot, rows: list[Row], entry_id: int
          ) -> tuple[Code | None, Hold | None]:
    hold_change: Hold | None = None
    if p.link_kind == "reversal" and p.link_entry_id in snap.reversed_ids:
        return Code.ALREADY_REVERSED, None
    if p.hold is not None:
        assert p.payment_id is not None
        if p.payment_id in snap.holds:
            return Code.PENDING_TRANSFER_EXISTS, None
        h = p.hold
        rows.append((h.debit, h.currency, HELD, h.amount, 0))
        rows.append((h.credit, h.currency, HELD, 0, h.amount))
        hold_change = Hold(p.payment_id, entry_id, h.debit, h.credit, h.currency, h.amount,
                           "pending")
    if p.post_hold is not None or p.void_hold:
        held = snap.holds.get(p.payment_id or "")
        if held is None:
            return Code.PENDING_TRANSFER_NOT_FOUND, None
        if held.state == "posted":
            return Code.PENDING_TRANSFER_ALREADY_POSTED, None
        if held.state == "voided":
            return Code.PENDING_TRANSFER_ALREADY_VOIDED, None
        post = 0 if p.post_hold is None else (held.amount if p.post_hold < 0 else p.post_hold)
        if post > held.amount:
            return Code.EXCEEDS_PENDING_TRANSFER_AMOUNT, None
        if p.currency and held.currency != p.currency:
            return Code.CURRENCY_MISMATCH, None
        rows.append((held.debit, held.currency, VOIDED, held.amount, 0))
        rows.append((held.credit, held.currency, VOIDED, 0, held.amount))
        if post:
            rows.append((held.debit, held.currency, POSTED, post, 0))
            rows.append((held.credit, held.currency, POSTED, 0, post))
        hold_change = Hold(held.payment_id, held.entry_id, held.debit, held.credit,
                           held.currency, held.amount,
                           "posted" if p.post_hold is not None else "voided", entry_id)
    for leg in p.legs:
        rows.append((leg.debit, leg.currency, POSTED, leg.amount, 0))
        rows.append((leg.credit, leg.currency, POSTED, 0, leg.amount))
    return None, hold_change


def _alerts(acc: Account, k: tuple[str, str], before: Sequence[int], after: Sequence[int],
            entry_id: int, out: list[Alert]) -> None:
    # Alert on crossing only, so a position that stays low does not raise one alert per payment.
    if acc.alert_below is not None:
        b, a = _available(acc, before), _available(acc, after)
        if b >= acc.alert_below > a:
            out.append(Alert(k[0], k[1], "below", acc.alert_below, a, entry_id))
    if acc.alert_above is not None:
        b, a = _exposure(acc, before), _exposure(acc, after)
        if b <= acc.alert_above < a:
            out.append(Alert(k[0], k[1], "above", acc.alert_above, a, entry_id))


def available(acc: Account, b: Balance) -> int:
    """Available balance: the normal-side balance less pending decreases."""
    return _available(acc, (b.debits_posted, b.credits_posted, b.debits_pending,
                            b.credits_pending))
