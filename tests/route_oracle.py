"""The router as it was before the fast ``Router.decide``: ``routing/router.py`` of commit
40f74aa, verbatim but for this docstring. ``tests/test_routing_equivalence.py`` holds the new
router to it, decision for decision and line for line of the explanation. Frozen: do not
improve it; it is the previous behaviour.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Collection
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import msgspec

from fastpath import route as _kernel
from routing.calendar import Availability, WorkingCalendar, availability
from routing.catalogue import Catalogue, load_catalogue
from routing.state import RoutingState
from switch.order import Order, Party

__all__ = [
    "Candidate",
    "CostBreakdown",
    "FallbackForbidden",
    "RouteDecision",
    "Router",
]

_CNAPS = re.compile(r"\d{12}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_SCHEME_BITS = {"CNAPS": 1, "BIC": 2}
_SECOND = timedelta(seconds=1)
_USED_CLAMP = 1 << 62  # keeps `cap - used` inside int64 in the compiled kernel

# kernel check code -> ISO 20022 reason code
_ISO = {
    _kernel.CURRENCY: "AM03",
    _kernel.SCOPE: "AG01",
    _kernel.AGENT: "RC01",
    _kernel.LEI: "RC01",
    _kernel.AMOUNT_MIN: "AM02",
    _kernel.AMOUNT_MAX: "AM02",
    _kernel.CLOSED: "TM01",
    _kernel.CHANNEL_CAP: "AM14",
    _kernel.DEBTOR_CAP: "AM14",
    _kernel.POSITION: "AM04",
    _kernel.CIRCUIT: "AB07",
}
_RULES = {
    _kernel.RULE_DESIGNATED: "designated",
    _kernel.RULE_WHITELIST: "whitelist",
}


class FallbackForbidden(ValueError):
    """A fallback was asked after an UNKNOWN outcome: the first channel may still settle it."""


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """One channel as the router saw it for this order."""

    channel: str
    eligible: bool  # passed every hard constraint
    reason: str | None  # ISO 20022 code when it was not eligible or not allowed by the rules
    text: str
    fee: int | None = None  # minor units, eligible channels only
    score: int | None = None  # micro minor units, eligible channels only
    opens_at: datetime | None = None  # earliest time it takes the order (local time)
    business_date: date | None = None


class CostBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    """The chosen channel's cost; money in minor units, scores in micro minor units."""

    fee: int
    fee_net: int
    vat: int
    vat_bp: int
    latency_s: int
    delay_cost_per_s: int
    delay_cost: int
    success_ppm: int
    retry_penalty: int
    total: int


class RouteDecision(msgspec.Struct, frozen=True, kw_only=True):
    """Where a payment goes and why; ``channel`` None means rejected with ``reason``.

    ``scheduled_for`` set means: submit at that time, not now (state SCHEDULED).
    ``explanation`` stays the tuple of lines the engine joins today; ``summary()`` joins them.
    """

    channel: str | None
    fee: int  # minor units of the order currency, VAT included, charged to the debtor
    reason: str | None  # ISO 20022 reason code when rejected
    explanation: tuple[str, ...]
    scheduled_for: datetime | None = None
    business_date: date | None = None  # the channel business day: key of the caps consumed
    rule: str | None = None  # screening / designated / whitelist / product / optimised
    candidates: tuple[Candidate, ...] = ()
    cost: CostBreakdown | None = None

    def summary(self) -> str:
        return "; ".join(self.explanation)


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


class Router:
    """Decides routes from a ``Catalogue``; build once, call ``decide`` per order."""

    def __init__(self, catalogue: Catalogue, *, kernel: ModuleType | None = None) -> None:
        self.catalogue = catalogue
        self.names = list(catalogue.channels)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._tz = ZoneInfo(catalogue.timezone)
        self._calendar = WorkingCalendar(catalogue.calendar.holidays,
                                         catalogue.calendar.makeup_days)
        specs = list(catalogue.channels.values())
        self.currencies = sorted({c for spec in specs for c in spec.currencies})
        self._currency = {c: i for i, c in enumerate(self.currencies)}
        rows: list[tuple[int, ...]] = []
        fee_index: list[int] = []
        schedules: list[tuple[int, int, tuple[tuple[int, int, int], ...]]] = []
        for spec in specs:
            rows.append((
                (1 if "domestic" in spec.scope else 0) | (2 if "cross_border" in spec.scope else 0),
                _SCHEME_BITS[spec.agent_scheme],
                int(spec.requires_lei),
                spec.min_amount,
                _or_none(spec.max_amount),
                _or_none(spec.holiday_max_amount if spec.holiday_max_amount is not None
                         else spec.max_amount),
                _or_none(spec.daily_cap),
                _or_none(spec.debtor_daily_cap),
                spec.latency_s,
            ))
            for cur in self.currencies:
                schedule = spec.fees.get(cur)
                if schedule is None:
                    fee_index.append(-1)
                    continue
                fee_index.append(len(schedules))
                schedules.append((schedule.min, _or_none(schedule.max),
                                  tuple((_or_none(t.upto), t.fixed, t.bps)
                                        for t in schedule.tiers)))
        delay = catalogue.cost_of_delay
        self.kernel = kernel or _kernel
        self.table = self.kernel.RouteTable(rows, fee_index, schedules, len(self.currencies),
                                            (delay.normal, delay.urgent))
        self._all = (1 << len(self.names)) - 1
        self._products = {
            product: sum(1 << self._index[name] for name in names)
            for product, names in catalogue.rules.products.items()
        }
        self._wl_account: dict[str, int] = {}
        self._wl_agent: dict[str, int] = {}
        for route in catalogue.rules.whitelist:
            if route.creditor_account is not None:
                self._wl_account.setdefault(route.creditor_account, self._index[route.channel])
            if route.creditor_agent is not None:
                self._wl_agent.setdefault(route.creditor_agent, self._index[route.channel])
        screening = catalogue.screening
        self._blocked_accounts = frozenset(screening.accounts)
        self._blocked_agents = frozenset(screening.agents)
        self._blocked_names = frozenset(_norm(n) for n in screening.names)
        self._avail_cache: dict[tuple[str, datetime],
                                tuple[tuple[Availability | None, bool], ...]] = {}

    @classmethod
    def from_toml(cls, path: str | Path | None = None, *,
                  kernel: ModuleType | None = None) -> Router:
        """A router over a catalogue file; None: the catalogue shipped in the package."""
        return cls(load_catalogue(path), kernel=kernel)

    def decide(self, order: Order, now: datetime,
               state: RoutingState | None = None) -> RouteDecision:
        """Route one order at ``now`` (timezone-aware) given caps, positions and health."""
        return self._decide(order, now, state or RoutingState(), frozenset())

    def fallback(self, order: Order, now: datetime, state: RoutingState | None,
                 tried: Collection[str], last_status: str) -> RouteDecision:
        """The next-best channel after a definitive technical rejection by the channels tried.

        Never after UNKNOWN (DESIGN.md invariant 2): the payment may still settle on the first
        channel, so only its status inquiry may end it; this raises ``FallbackForbidden``.
        Designated routes have no fallback.
        """
        if last_status.upper() == "UNKNOWN":
            raise FallbackForbidden(
                "no fallback after UNKNOWN: resolve it by status inquiry first")
        if order.designated_channel is not None:
            return _reject("AG01", f"designated channel {order.designated_channel} failed; "
                                   "designated routes have no fallback", "designated")
        return self._decide(order, now, state or RoutingState(), frozenset(tried))

    # --- internals ---------------------------------------------------------------------------

    def _screen(self, order: Order) -> str | None:
        for role, party in (("debtor", order.debtor), ("creditor", order.creditor)):
            hit = _hit(party, self._blocked_accounts, self._blocked_agents, self._blocked_names)
            if hit is not None:
                return f"{role} {hit} is on the screening list"
        return None

    def kernel_inputs(self, order: Order, now: datetime, state: RoutingState | None = None,
                      ) -> tuple[tuple[int, ...], array[int]] | None:
        """The kernel's arguments for this order (features, state buffer), as ``decide`` makes
        them; None when the order is refused before the kernel (screening, bad amount...)."""
        ctx = self._prepare(order, now, state or RoutingState(), frozenset())
        return None if isinstance(ctx, RouteDecision) else (ctx.args, ctx.st)

    def _decide(self, order: Order, now: datetime, state: RoutingState,
                exclude: frozenset[str]) -> RouteDecision:
        ctx = self._prepare(order, now, state, exclude)
        if isinstance(ctx, RouteDecision):
            return ctx
        n = len(self.names)
        ctx.out = out = array("q", bytes(8 * n * _kernel.OUT_FIELDS))
        chosen, rule_code = self.table.decide(*ctx.args, ctx.st, out)
        ctx.chosen = chosen
        rule = _RULES.get(rule_code) or (
            "product" if order.product in self._products else "optimised")
        candidates = tuple(self._candidate(ctx, i) for i in range(n))
        if chosen < 0:
            reason, text = self._why_none(ctx, candidates)
            return RouteDecision(channel=None, fee=0, reason=reason, rule=rule,
                                 explanation=(text, *_lines(candidates)), candidates=candidates)
        name = self.names[chosen]
        avail = ctx.avails[chosen]
        assert avail is not None  # eligible channels have a window
        cost = self._cost(ctx, chosen)
        wait = ctx.st[chosen * _kernel.STATE_FIELDS]
        scheduled = avail.opens_at if wait > 0 else None
        verb = f"scheduled for {scheduled.isoformat()} on" if scheduled else "routed to"
        head = (f"{verb} {name} by {rule} rule: fee {cost.fee} (net {cost.fee_net} + VAT "
                f"{cost.vat}), business day {avail.business_date.isoformat()}, "
                f"score {cost.total}")
        return RouteDecision(channel=name, fee=cost.fee, reason=None, rule=rule,
                             explanation=(head, *_lines(candidates)), scheduled_for=scheduled,
                             business_date=avail.business_date, candidates=candidates, cost=cost)

    def _prepare(self, order: Order, now: datetime, state: RoutingState,
                 exclude: frozenset[str]) -> RouteDecision | _Context:
        """Screen the order and compute the kernel's inputs, or refuse it outright."""
        if now.tzinfo is None:
            raise ValueError("decide needs a timezone-aware time (DESIGN.md invariant 6)")
        hit = self._screen(order)
        if hit is not None:
            return _reject("RR04", hit, "screening")
        if order.amount <= 0:
            return _reject("AM01", f"amount {order.amount} is not positive", None)
        if order.amount > _kernel.MAX_AMOUNT:
            return _reject("AM02", f"amount {order.amount} above {_kernel.MAX_AMOUNT}", None)
        designated = -1
        if order.designated_channel is not None:
            designated = self._index.get(order.designated_channel, -1)
            if designated < 0:
                return _reject("AG01", f"designated channel {order.designated_channel} "
                                       "is not offered", "designated")
        deadline: date | None = None
        if order.requested_execution is not None:
            try:
                deadline = date.fromisoformat(order.requested_execution[:10])
            except ValueError:
                return _reject("DT01", f"requested_execution {order.requested_execution!r} "
                                       "is not an ISO date", None)
        local = now.astimezone(self._tz)
        n = len(self.names)
        cur = self._currency.get(order.currency, -1)
        avails: list[Availability | None] = []
        st = array("q", bytes(8 * n * _kernel.STATE_FIELDS))
        today = local.date()
        debtor = order.debtor.account
        for i, (name, (found, open_now)) in enumerate(
                zip(self.names, self._windows(local, order.currency), strict=True)):
            s = i * _kernel.STATE_FIELDS
            if found is None or (deadline is not None and found.business_date > deadline):
                avails.append(found)
                st[s] = -1
                day = today
            else:
                day = found.business_date
                if open_now:
                    avails.append(Availability(local, day))
                else:
                    avails.append(found)
                    st[s] = -((local - found.opens_at) // _SECOND)  # whole seconds, rounded up
            st[s + 1] = min(max(state.channel_used.get((name, day), 0), 0), _USED_CLAMP)
            st[s + 2] = min(max(state.debtor_used.get((name, debtor, day), 0), 0), _USED_CLAMP)
            position = state.positions.get((name, order.currency))
            st[s + 3] = -1 if position is None else min(max(position, 0), _USED_CLAMP)
            st[s + 4] = 0 if name in state.unavailable else 1
            st[s + 5] = state.success_ppm.get(name, 1_000_000)
        allowed = self._products.get(order.product, self._all)
        for name in exclude:
            if name in self._index:
                allowed &= ~(1 << self._index[name])
        whitelist = self._wl_account.get(order.creditor.account,
                                         self._wl_agent.get(order.creditor.agent, -1))
        if whitelist >= 0 and self.names[whitelist] in exclude:
            whitelist = -1
        home = self.catalogue.home_country
        cross = order.creditor.country != home or order.debtor.country != home
        agent = order.creditor.agent
        schemes = (1 if _CNAPS.fullmatch(agent) else 0) | (2 if _BIC.fullmatch(agent) else 0)
        holiday = not self._calendar.is_working(local.date())
        args = (order.amount, cur, int(cross), schemes, int(bool(order.creditor.lei)),
                int(order.urgency == "urgent"), int(holiday), designated, whitelist, allowed)
        return _Context(order, local, deadline, holiday, avails, st, args, allowed, designated,
                        exclude, cross)

    def _windows(self, local: datetime, currency: str
                 ) -> tuple[tuple[Availability | None, bool], ...]:
        """Per channel: when it takes ``currency`` at ``local``, and whether that is now."""
        # Every window, cut-off and day switch falls on a whole minute, so the answer at the
        # start of a minute holds for all of it: memoise per currency and minute.
        minute = local.replace(second=0, microsecond=0)
        key = (currency, minute)
        hit = self._avail_cache.get(key)
        if hit is None:
            found = [availability(spec.calendar, self._calendar, minute, currency)
                     if currency in spec.fees else None
                     for spec in self.catalogue.channels.values()]
            hit = tuple((a, a is not None and a.opens_at == minute) for a in found)
            if len(self._avail_cache) >= 4096:
                self._avail_cache.clear()
            self._avail_cache[key] = hit
        return hit

    def _candidate(self, ctx: _Context, i: int) -> Candidate:
        name = self.names[i]
        order = ctx.order
        code, fee, score = ctx.out[i * 3 : i * 3 + 3]
        avail = ctx.avails[i]
        opens_at = avail.opens_at if avail is not None else None
        bday = avail.business_date if avail is not None else None
        if code == _kernel.OK:
            if i == ctx.chosen:
                reason, text = None, "chosen"
            elif name in ctx.exclude:
                reason, text = "AG01", "already tried"
            elif ctx.designated >= 0:
                reason, text = "AG01", "eligible, but not the designated channel"
            elif not (ctx.allowed >> i) & 1:
                reason, text = "AG01", f"eligible, but product {order.product} does not allow it"
            elif ctx.st[i * _kernel.STATE_FIELDS] > 0:
                reason, text = None, "eligible, but opens later or costs more"
            else:
                reason, text = None, "eligible, costs more"
            return Candidate(channel=name, eligible=True, reason=reason, text=text, fee=fee,
                             score=score, opens_at=opens_at, business_date=bday)
        return Candidate(channel=name, eligible=False, reason=_ISO[code],
                         text=self._rejection_text(ctx, i, code), opens_at=opens_at,
                         business_date=bday)

    def _rejection_text(self, ctx: _Context, i: int, code: int) -> str:
        spec = self.catalogue.channels[self.names[i]]
        order = ctx.order
        avail = ctx.avails[i]
        day = avail.business_date if avail is not None else ctx.local.date()
        s = i * _kernel.STATE_FIELDS
        if code == _kernel.CURRENCY:
            return f"does not settle {order.currency}"
        if code == _kernel.SCOPE:
            return f"does not carry {'cross-border' if ctx.cross else 'domestic'} payments"
        if code == _kernel.AGENT:
            return (f"needs the creditor's bank as a {spec.agent_scheme} code, "
                    f"not {order.creditor.agent!r}")
        if code == _kernel.LEI:
            return "needs the LEI of the creditor's bank"
        if code == _kernel.AMOUNT_MIN:
            return f"amount {order.amount} below the minimum {spec.min_amount}"
        if code == _kernel.AMOUNT_MAX:
            limit = spec.max_amount
            if ctx.holiday and spec.holiday_max_amount is not None:
                limit = spec.holiday_max_amount
            return (f"amount {order.amount} above the per-item maximum {limit}"
                    + (" on a non-working day" if ctx.holiday else ""))
        if code == _kernel.CLOSED:
            return self._closed_text(ctx, i)
        if code == _kernel.CHANNEL_CAP:
            return f"daily cap {spec.daily_cap} for {day}: {ctx.st[s + 1]} used"
        if code == _kernel.DEBTOR_CAP:
            return f"debtor's daily cap {spec.debtor_daily_cap} for {day}: {ctx.st[s + 2]} used"
        if code == _kernel.POSITION:
            return f"available position {ctx.st[s + 3]} below the amount"
        return "circuit open after technical failures"

    def _closed_text(self, ctx: _Context, i: int) -> str:
        avail = ctx.avails[i]
        if avail is None:
            return f"no window for {ctx.order.currency} within a year"
        when = f"opens {avail.opens_at.isoformat()} for business day {avail.business_date}"
        if ctx.deadline is not None and avail.business_date > ctx.deadline:
            return f"cannot settle by the requested date {ctx.deadline}: {when}"
        return f"closed now (designated channels are used now or not at all); {when}"

    def _why_none(self, ctx: _Context, candidates: tuple[Candidate, ...]) -> tuple[str, str]:
        if ctx.designated >= 0:
            c = candidates[ctx.designated]
            return c.reason or "AG01", f"designated channel {c.channel}: {c.text}"
        best: Candidate | None = None
        best_code = -1
        for i, c in enumerate(candidates):
            code = ctx.out[i * 3]
            if (ctx.allowed >> i) & 1 and code > best_code:
                best, best_code = c, code  # the channel that got furthest explains it best
        if best is None:
            return "AG01", f"product {ctx.order.product} allows no channel left to try"
        return best.reason or "AG01", f"no channel can take it; {best.channel}: {best.text}"

    def _cost(self, ctx: _Context, i: int) -> CostBreakdown:
        name = self.names[i]
        spec = self.catalogue.channels[name]
        schedule = spec.fees[ctx.order.currency]
        fee, score = ctx.out[i * 3 + 1], ctx.out[i * 3 + 2]
        _, net, vat = schedule.split(ctx.order.amount)
        per_s = (self.catalogue.cost_of_delay.urgent if ctx.order.urgency == "urgent"
                 else self.catalogue.cost_of_delay.normal)
        delay = min(per_s * spec.latency_s, _kernel.SCORE_CAP)
        base = min(fee * 1_000_000, _kernel.SCORE_CAP) + delay
        return CostBreakdown(fee=fee, fee_net=net, vat=vat, vat_bp=schedule.vat_bp,
                             latency_s=spec.latency_s, delay_cost_per_s=per_s, delay_cost=delay,
                             success_ppm=ctx.st[i * _kernel.STATE_FIELDS + 5],
                             retry_penalty=max(score - base, 0), total=score)


class _Context:
    """What the explanation needs of one kernel call."""

    __slots__ = ("allowed", "args", "avails", "chosen", "cross", "deadline", "designated",
                 "exclude", "holiday", "local", "order", "out", "st")

    def __init__(self, order: Order, local: datetime, deadline: date | None, holiday: bool,
                 avails: list[Availability | None], st: array[int], args: tuple[int, ...],
                 allowed: int, designated: int, exclude: frozenset[str], cross: bool) -> None:
        self.order = order
        self.local = local
        self.deadline = deadline
        self.holiday = holiday
        self.avails = avails
        self.st = st
        self.args = args
        self.out: array[int] = array("q")
        self.allowed = allowed
        self.designated = designated
        self.exclude = exclude
        self.chosen = -1
        self.cross = cross


def _or_none(value: int | None) -> int:
    return -1 if value is None else value


def _hit(party: Party, accounts: frozenset[str], agents: frozenset[str],
         names: frozenset[str]) -> str | None:
    if party.account in accounts:
        return f"account {party.account}"
    if party.agent in agents:
        return f"bank {party.agent}"
    if _norm(party.name) in names:
        return f"name {party.name!r}"
    return None


def _lines(candidates: tuple[Candidate, ...]) -> tuple[str, ...]:
    return tuple(f"{c.channel}: {c.reason + ' ' if c.reason else ''}{c.text}"
                 for c in candidates)


def _reject(reason: str, text: str, rule: str | None) -> RouteDecision:
    return RouteDecision(channel=None, fee=0, reason=reason, explanation=(text,), rule=rule)
