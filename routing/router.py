"""The router: hard constraints, route rules and cost, with the reasons for every candidate.

``Router.decide(order, now, state)`` is pure: the same order, time and state always give the
same ``RouteDecision``. The per-channel checks and the scoring run in the ``fastpath.route``
kernel over tables built once from the catalogue; this layer screens the parties, looks up
the channels' windows, fills the kernel's state buffer and keeps what the explanation is
rendered from (``routing.decision``), which happens only when someone reads it.

Rule precedence: screening (RR04, never routed) > designated channel (used now or rejected
with the channel's reason, TM01 when closed) > whitelist (creditor account or bank) > product
route (allowed channels) > cost. Among eligible channels an open one beats one that opens
later (the order is then SCHEDULED for the earliest window); then the lowest score wins,
then catalogue order.

Score, in micro minor units: ``(fee * 1e6 + cost_of_delay[urgency] * latency_s) * 1e6 //
success_ppm``: with success rate p a payment takes 1/p attempts on average, each costing
fee and delay, so an unreliable channel pays for its expected retries.

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> from switch.order import Order, Party
>>> router = Router.from_toml()
>>> order = Order(client_order_id="1", amount=8_000_000, currency="CNY",
...               debtor=Party(account="6217000000000001", name="A", agent="102100099996"),
...               creditor=Party(account="6222000000000009", name="B", agent="103100000026"))
>>> d = router.decide(order, datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
>>> d.channel, d.fee, d.rule, d.scheduled_for
('HVPS', 500, 'product', None)
>>> d.cost.fee_net, d.cost.vat, d.explanation[1]  # rendered only now, from the record
(472, 28, 'HVPS: chosen')
"""

from __future__ import annotations

import functools
import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from fastpath import route as _kernel
from routing.calendar import WorkingCalendar, availability_until
from routing.catalogue import Catalogue, load_catalogue
from routing.decision import (
    ISO_REASON,
    Candidate,
    ChannelFacts,
    CostBreakdown,
    DecisionRecord,
    RouteDecision,
)
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
_NO_OFFSET = timedelta()
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)
_USED_CLAMP = 1 << 62  # keeps `cap - used` inside int64 in the compiled kernel
_SF = _kernel.STATE_FIELDS
_RULES = {
    _kernel.RULE_DESIGNATED: "designated",
    _kernel.RULE_WHITELIST: "whitelist",
}
_MAX_SPANS = 4096  # per currency: about ten spans a day, a year of random clocks and more
_MAX_AGENTS = 4096  # creditor banks whose identifier schemes are remembered
_EMPTY_STATE = RoutingState()
_NO_EXCLUSION: frozenset[str] = frozenset()
# How a channel stands in a span of time: no window at all, open now, or opening later.
_NONE, _OPEN, _LATER = 0, 1, 2


class FallbackForbidden(ValueError):
    """A fallback was asked after an UNKNOWN outcome: the first channel may still settle it."""


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


class _Span:
    """Every channel's window for one currency from ``start`` until ``until`` (local time).

    Within a span each channel is open now, opens at one fixed time, or has no window, for one
    business date; so the kernel's state buffer starts from ``base`` and only the waits of
    channels opening later depend on the exact time.
    """

    __slots__ = ("base", "bdays", "caps", "dated", "debtor_caps", "holiday", "later", "opens",
                 "opens_code", "ordinals", "start", "until")

    def __init__(self, start: datetime, until: datetime, holiday: bool, names: list[str],
                 found: list[tuple[int, datetime | None, date | None]],
                 caps: list[bool], debtor_caps: list[bool]) -> None:
        self.start = start
        self.until = until
        self.holiday = holiday
        self.bdays = tuple(bday for _, _, bday in found)
        self.opens = tuple(at for _, at, _ in found)  # channels opening later: when
        # as a DecisionRecord keeps them: -1 no window, 0 open now, else microseconds
        self.opens_code = tuple(-1 if kind == _NONE else 0 if at is None else _micros(at)
                                for kind, at, _ in found)
        self.ordinals = tuple(0 if bday is None else bday.toordinal() for _, _, bday in found)
        base = array("q", bytes(8 * _SF * len(found)))
        later: list[tuple[int, datetime]] = []
        dated: list[tuple[int, date]] = []
        cap_keys: list[tuple[int, tuple[str, date]]] = []
        debtor_keys: list[tuple[int, str, date]] = []
        for i, (kind, at, bday) in enumerate(found):
            s = i * _SF
            base[s + 3] = -1  # no position limit
            base[s + 4] = 1  # circuit closed
            base[s + 5] = 1_000_000  # success rate 100 %
            if kind == _NONE or bday is None:
                base[s] = -1
                continue
            if kind == _LATER:
                assert at is not None
                later.append((s, at))
            dated.append((s, bday))
            if caps[i]:
                cap_keys.append((s + 1, (names[i], bday)))
            if debtor_caps[i]:
                debtor_keys.append((s + 2, names[i], bday))
        self.base = base
        self.later = tuple(later)
        self.dated = tuple(dated)
        self.caps = tuple(cap_keys)
        self.debtor_caps = tuple(debtor_keys)


class Router:
    """Decides routes from a ``Catalogue``; build once, call ``decide`` per order."""

    def __init__(self, catalogue: Catalogue, *, kernel: ModuleType | None = None) -> None:
        self.catalogue = catalogue
        self.names = list(catalogue.channels)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._tz = ZoneInfo(catalogue.timezone)
        self._calendar = WorkingCalendar(catalogue.calendar.holidays,
                                         catalogue.calendar.makeup_days)
        specs = self._specs = list(catalogue.channels.values())
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
        self._delay = (delay.normal, delay.urgent)
        self.kernel = kernel or _kernel
        self.table = self.kernel.RouteTable(rows, fee_index, schedules, len(self.currencies),
                                            self._delay)
        self._out = array("q", bytes(8 * len(self.names) * _kernel.OUT_FIELDS))
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
        # What the explanation quotes of the catalogue, shared by every record of this router.
        self._facts = tuple(
            ChannelFacts(name, spec.agent_scheme, spec.min_amount, spec.max_amount,
                         spec.holiday_max_amount, spec.daily_cap, spec.debtor_daily_cap,
                         spec.latency_s)
            for name, spec in catalogue.channels.items())
        self._vat = {cur: tuple(spec.fees[cur].vat_bp if cur in spec.fees else -1
                                for spec in specs) for cur in self.currencies}
        self._no_vat = (-1,) * len(specs)
        self._position_slots = {
            cur: tuple((i * _SF + 3, (name, cur)) for i, (name, spec)
                       in enumerate(catalogue.channels.items()) if cur in spec.fees)
            for cur in self.currencies}
        self._spans: dict[str, tuple[list[datetime], list[_Span]]] = {}
        self._schemes: dict[str, int] = {}

    @classmethod
    def from_toml(cls, path: str | Path | None = None, *,
                  kernel: ModuleType | None = None) -> Router:
        """A router over a catalogue file; None: the catalogue shipped in the package."""
        return cls(load_catalogue(path), kernel=kernel)

    def decide(self, order: Order, now: datetime,
               state: RoutingState | None = None) -> RouteDecision:
        """Route one order at ``now`` (timezone-aware) given caps, positions and health."""
        return self._decide(order, now, _EMPTY_STATE if state is None else state,
                            _NO_EXCLUSION)

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
            return self._refuse(now, "AG01", f"designated channel {order.designated_channel} "
                                "failed; designated routes have no fallback", "designated")
        return self._decide(order, now, _EMPTY_STATE if state is None else state,
                            frozenset(tried))

    def kernel_inputs(self, order: Order, now: datetime, state: RoutingState | None = None,
                      ) -> tuple[tuple[int, ...], array[int]] | None:
        """The kernel's arguments for this order (features, state buffer), as ``decide`` makes
        them; None when the order is refused before the kernel (screening, bad amount...)."""
        prep = self._prepare(order, now, _EMPTY_STATE if state is None else state,
                             _NO_EXCLUSION)
        return None if isinstance(prep, RouteDecision) else (prep[3], prep[2])

    # --- internals ---------------------------------------------------------------------------

    def _decide(self, order: Order, now: datetime, state: RoutingState,
                exclude: frozenset[str]) -> RouteDecision:
        prep = self._prepare(order, now, state, exclude)
        if isinstance(prep, RouteDecision):
            return prep
        local, span, st, args, deadline, excluded = prep
        out = self._out[:]
        chosen, rule_code = self.table.decide(*args, st, out)
        rule = _RULES.get(rule_code) or (
            "product" if order.product in self._products else "optimised")
        make = functools.partial(self._record, order, now, local, span, st, out, args, deadline,
                                 excluded, chosen, rule)
        if chosen < 0:
            return RouteDecision(channel=None, fee=0, reason=_why_none(out, args), rule=rule,
                                 make_record=make)
        later = st[chosen * _SF] > 0
        return RouteDecision(
            channel=self.names[chosen], fee=out[chosen * _kernel.OUT_FIELDS + 1], reason=None,
            rule=rule, scheduled_for=span.opens[chosen] if later else None,
            business_date=span.bdays[chosen], make_record=make)

    def _refuse(self, now: datetime, reason: str, text: str,
                rule: str | None) -> RouteDecision:
        return RouteDecision.refused(reason, text, rule, at=now,
                                     timezone=self.catalogue.timezone)

    def _screen(self, order: Order) -> str | None:
        for role, party in (("debtor", order.debtor), ("creditor", order.creditor)):
            hit = _hit(party, self._blocked_accounts, self._blocked_agents, self._blocked_names)
            if hit is not None:
                return f"{role} {hit} is on the screening list"
        return None

    def _prepare(self, order: Order, now: datetime, state: RoutingState,
                 exclude: frozenset[str]) -> RouteDecision | tuple[Any, ...]:
        """Screen the order and compute the kernel's inputs, or refuse it outright.

        The inputs: (local time, span, state buffer, kernel arguments, deadline, tried mask).
        """
        if now.tzinfo is None:
            raise ValueError("decide needs a timezone-aware time (DESIGN.md invariant 6)")
        debtor, creditor = order.debtor, order.creditor
        accounts, agents, names = (self._blocked_accounts, self._blocked_agents,
                                   self._blocked_names)
        if (debtor.account in accounts or creditor.account in accounts
                or debtor.agent in agents or creditor.agent in agents
                or (names and (_norm(debtor.name) in names or _norm(creditor.name) in names))):
            return self._refuse(now, "RR04", self._screen(order) or "", "screening")
        amount = order.amount
        if amount <= 0:
            return self._refuse(now, "AM01", f"amount {amount} is not positive", None)
        if amount > _kernel.MAX_AMOUNT:
            return self._refuse(now, "AM02", f"amount {amount} above {_kernel.MAX_AMOUNT}", None)
        designated = -1
        if order.designated_channel is not None:
            designated = self._index.get(order.designated_channel, -1)
            if designated < 0:
                return self._refuse(now, "AG01", f"designated channel "
                                    f"{order.designated_channel} is not offered", "designated")
        deadline: date | None = None
        if order.requested_execution is not None:
            try:
                deadline = date.fromisoformat(order.requested_execution[:10])
            except ValueError:
                return self._refuse(now, "DT01", f"requested_execution "
                                    f"{order.requested_execution!r} is not an ISO date", None)
        local = now.astimezone(self._tz)
        currency = order.currency
        span = self._span(currency, local)
        st = span.base[:]
        for s, opens_at in span.later:
            st[s] = -((local - opens_at) // _SECOND)  # whole seconds, rounded up
        if deadline is not None:
            for s, bday in span.dated:
                if bday > deadline:
                    st[s] = -1
        used = state.channel_used
        for s, key in span.caps:
            v = used.get(key, 0)
            st[s] = 0 if v < 0 else v if v < _USED_CLAMP else _USED_CLAMP
        debtor_used = state.debtor_used
        account = debtor.account
        for s, name, bday in span.debtor_caps:
            v = debtor_used.get((name, account, bday), 0)
            st[s] = 0 if v < 0 else v if v < _USED_CLAMP else _USED_CLAMP
        positions = state.positions
        if positions:
            for s, pkey in self._position_slots.get(currency, ()):
                p = positions.get(pkey)
                if p is not None:
                    st[s] = 0 if p < 0 else p if p < _USED_CLAMP else _USED_CLAMP
        index = self._index
        for name in state.unavailable:
            i = index.get(name)
            if i is not None:
                st[i * _SF + 4] = 0
        for name, ppm in state.success_ppm.items():
            i = index.get(name)
            if i is not None:
                st[i * _SF + 5] = ppm
        allowed = self._products.get(order.product, self._all)
        excluded = 0
        if exclude:
            for name in exclude:
                i = index.get(name)
                if i is not None:
                    excluded |= 1 << i
            allowed &= ~excluded
        whitelist = -1
        if self._wl_account or self._wl_agent:
            whitelist = self._wl_account.get(creditor.account,
                                             self._wl_agent.get(creditor.agent, -1))
            if whitelist >= 0 and (excluded >> whitelist) & 1:
                whitelist = -1
        home = self.catalogue.home_country
        agent = creditor.agent
        schemes = self._schemes.get(agent)
        if schemes is None:
            schemes = (1 if _CNAPS.fullmatch(agent) else 0) | (2 if _BIC.fullmatch(agent) else 0)
            if len(self._schemes) >= _MAX_AGENTS:
                self._schemes.clear()
            self._schemes[agent] = schemes
        args = (amount, self._currency.get(currency, -1),
                int(creditor.country != home or debtor.country != home), schemes,
                int(bool(creditor.lei)), int(order.urgency == "urgent"), int(span.holiday),
                designated, whitelist, allowed)
        return local, span, st, args, deadline, excluded

    def _span(self, currency: str, local: datetime) -> _Span:
        """The span of time around ``local`` in which no channel's window for ``currency``
        changes, computed once and kept (spans never overlap: see ``availability_until``)."""
        if currency not in self._currency:
            currency = ""  # no channel settles it: one set of spans for every such code
        found = self._spans.get(currency)
        if found is None:
            found = self._spans[currency] = ([], [])
        untils, spans = found
        i = bisect_right(untils, local)
        if i < len(untils) and spans[i].start <= local:
            return spans[i]
        span = self._new_span(currency, local)
        if not local < span.until:  # only a clock outside the calendars' logic: do not keep
            return span
        i = bisect_left(untils, span.until)
        if i < len(untils) and untils[i] == span.until:
            kept = spans[i]  # the same span, now known to start earlier
            kept.start = min(kept.start, span.start)
            return kept
        if len(untils) >= _MAX_SPANS:
            untils.clear()
            spans.clear()
            i = 0
        untils.insert(i, span.until)
        spans.insert(i, span)
        return span

    def _new_span(self, currency: str, local: datetime) -> _Span:
        # Every window, cut-off and day switch falls on a whole minute: ask at its start.
        minute = local.replace(second=0, microsecond=0)
        today = minute.date()
        until = datetime.combine(today + _DAY, time(), tzinfo=self._tz)  # holidays change
        found: list[tuple[int, datetime | None, date | None]] = []
        for spec in self._specs:
            if currency not in spec.fees:
                found.append((_NONE, None, None))
                continue
            a, a_until = availability_until(spec.calendar, self._calendar, minute, currency)
            until = min(until, a_until)
            if a is None:
                found.append((_NONE, None, None))
            elif a.opens_at == minute:
                found.append((_OPEN, None, a.business_date))
            else:
                found.append((_LATER, a.opens_at, a.business_date))
        return _Span(minute, until, not self._calendar.is_working(today), self.names, found,
                     [spec.daily_cap is not None for spec in self._specs],
                     [spec.debtor_daily_cap is not None for spec in self._specs])

    def _record(self, order: Order, now: datetime, local: datetime, span: _Span,
                st: array[int], out: array[int], args: tuple[int, ...], deadline: date | None,
                excluded: int, chosen: int, rule: str) -> DecisionRecord:
        """The compact record of one kernel decision, from which the explanation is rendered."""
        opens = span.opens_code
        if deadline is not None:
            # an open channel ruled out by the deadline shows its window as the calendar gave
            # it, from the start of the minute
            minute = _micros(local.replace(second=0, microsecond=0))
            opens = tuple(minute if code == 0 and bday is not None and bday > deadline else code
                          for code, bday in zip(opens, span.bdays, strict=True))
        # positional, in DecisionRecord's field order: a third of the keyword call's cost
        return DecisionRecord(
            now, (now.utcoffset() or _NO_OFFSET) // _SECOND, self.catalogue.timezone,
            None if chosen >= 0 else _why_none(out, args), rule, None,
            order.currency, order.amount, order.product, order.creditor.agent,
            self._delay[args[5]], bool(args[6]), bool(args[2]), deadline, args[7], args[9],
            excluded, chosen, self._facts, self._vat.get(order.currency, self._no_vat),
            tuple(out), tuple(st), opens, span.ordinals)


def _why_none(out: array[int], args: tuple[int, ...]) -> str:
    """The reason code of a rejection: the designated channel's, else that of the allowed
    channel that got furthest through the checks (the explanation names it)."""
    designated, allowed = args[7], args[9]
    fields = _kernel.OUT_FIELDS
    if designated >= 0:
        code = out[designated * fields]
    else:
        code = -1
        for i in range(len(out) // fields):
            if (allowed >> i) & 1 and out[i * fields] > code:
                code = out[i * fields]
    return ISO_REASON.get(code, "AG01")


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


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
