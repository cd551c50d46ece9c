"""A routing decision, its compact record, and the explanation rendered from that record.

``Router.decide`` answers with a ``RouteDecision`` whose channel, fee, reason, schedule and
business date are ready at once; the candidates, their reasons, the cost breakdown and the
explanation lines are rendered only when asked, from a ``DecisionRecord``: the kernel's codes,
fees and scores, its state buffer, each channel's window and the catalogue figures the texts
quote. The record is self-contained (a later catalogue change does not rewrite old reasons) and
versioned: ``RouteDecision.encode()`` is what the store keeps with the payment, and
``explain_record(blob)`` renders it again as ``payswitch route --explain`` prints it.

>>> d = RouteDecision.refused("RR04", "creditor account 1 is on the screening list", "screening")
>>> d.explanation, d.candidates
(('creditor account 1 is on the screening list',), ())
>>> RouteDecision.decode(d.encode()) == d
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import timezone as fixed_offset
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from fastpath import _route_py as _codes
from routing.fees import split_vat

__all__ = [
    "Candidate",
    "ChannelFacts",
    "CostBreakdown",
    "DecisionRecord",
    "RouteDecision",
    "explain_record",
]

_OUT = _codes.OUT_FIELDS
_SECOND = timedelta(seconds=1)
_STATE = _codes.STATE_FIELDS

# kernel check code -> ISO 20022 reason code
ISO_REASON = {
    _codes.CURRENCY: "AM03",
    _codes.SCOPE: "AG01",
    _codes.AGENT: "RC01",
    _codes.LEI: "RC01",
    _codes.AMOUNT_MIN: "AM02",
    _codes.AMOUNT_MAX: "AM02",
    _codes.CLOSED: "TM01",
    _codes.CHANNEL_CAP: "AM14",
    _codes.DEBTOR_CAP: "AM14",
    _codes.POSITION: "AM04",
    _codes.CIRCUIT: "AB07",
}


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


class ChannelFacts(msgspec.Struct, frozen=True, array_like=True):
    """The catalogue figures of one channel that its reasons quote, as decided with."""

    name: str
    agent_scheme: str
    min_amount: int
    max_amount: int | None
    holiday_max_amount: int | None
    daily_cap: int | None
    debtor_daily_cap: int | None
    latency_s: int


class DecisionRecord(msgspec.Struct, frozen=True, array_like=True, tag=1):
    """Everything the explanation is rendered from; ``tag`` is the layout version.

    Per channel, in catalogue order: ``out`` holds the kernel's (check code, fee, score),
    ``state`` its ``STATE_FIELDS`` inputs, ``opens_at`` when it takes the order (microseconds
    since the Unix epoch; 0: at the decision time; -1: no window for the currency) and
    ``business_dates`` the day it would book it (``date.toordinal()``; 0: none). A refusal
    before any channel was looked at (screening, a bad amount...) has only ``note``.
    """

    at: datetime | None  # the decision time (stored in UTC) ...
    at_offset_s: int  # ... and the UTC offset it was given with, to show it as given
    timezone: str  # the catalogue's: local times of the explanation
    reason: str | None
    rule: str | None
    note: str | None = None
    currency: str = ""
    amount: int = 0
    product: str = ""
    creditor_agent: str = ""
    delay_cost_per_s: int = 0  # micro minor units per second, for the order's urgency
    holiday: bool = False
    cross_border: bool = False
    deadline: date | None = None
    designated: int = -1
    allowed: int = 0  # bit i: the rules allow channel i
    excluded: int = 0  # bit i: channel i was tried already (fallback)
    chosen: int = -1
    channels: tuple[ChannelFacts, ...] = ()
    vat_bp: tuple[int, ...] = ()  # per channel for the currency, -1 where it has no schedule
    out: tuple[int, ...] = ()
    state: tuple[int, ...] = ()
    opens_at: tuple[int, ...] = ()
    business_dates: tuple[int, ...] = ()


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(DecisionRecord)


class RouteDecision:
    """Where a payment goes and why; ``channel`` None means rejected with ``reason``.

    ``scheduled_for`` set means: submit at that time, not now (state SCHEDULED).
    ``business_date`` is the channel business day whose caps the payment consumes; ``rule``
    which rule decided (screening / designated / whitelist / product / optimised).
    """

    __slots__ = ("_make", "_record", "business_date", "channel", "fee", "reason", "rule",
                 "scheduled_for")

    def __init__(self, *, channel: str | None, fee: int, reason: str | None,
                 scheduled_for: datetime | None = None, business_date: date | None = None,
                 rule: str | None = None, record: DecisionRecord | None = None,
                 make_record: Callable[[], DecisionRecord] | None = None) -> None:
        if (record is None) == (make_record is None):
            raise ValueError("give exactly one of record and make_record")
        self.channel = channel
        self.fee = fee  # minor units of the order currency, VAT included
        self.reason = reason  # ISO 20022 reason code when rejected
        self.scheduled_for = scheduled_for
        self.business_date = business_date
        self.rule = rule
        self._record = record
        self._make = make_record

    @classmethod
    def refused(cls, reason: str, text: str, rule: str | None = None,
                at: datetime | None = None, timezone: str = "") -> RouteDecision:
        """A refusal before any channel was looked at, explained by ``text`` alone."""
        record = DecisionRecord(at=at, at_offset_s=_offset_s(at), timezone=timezone,
                                reason=reason, rule=rule, note=text)
        return cls(channel=None, fee=0, reason=reason, rule=rule, record=record)

    @classmethod
    def decode(cls, blob: bytes) -> RouteDecision:
        """The decision a stored ``encode()`` holds."""
        return cls.from_record(_decoder.decode(blob))

    @classmethod
    def from_record(cls, r: DecisionRecord) -> RouteDecision:
        i = r.chosen
        if i < 0:
            return cls(channel=None, fee=0, reason=r.reason, rule=r.rule, record=r)
        later = r.state[i * _STATE] > 0
        return cls(channel=r.channels[i].name, fee=r.out[i * _OUT + 1], reason=None,
                   rule=r.rule, record=r, business_date=date.fromordinal(r.business_dates[i]),
                   scheduled_for=_Render(r).opens_at(i) if later else None)

    @property
    def record(self) -> DecisionRecord:
        """The compact record, made on first use."""
        if self._record is None:
            assert self._make is not None
            self._record = self._make()
            self._make = None
        return self._record

    def encode(self) -> bytes:
        """The record as stored with the payment (MessagePack, versioned by its tag)."""
        return _encoder.encode(self.record)

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        return _Render(self.record).candidates()

    @property
    def cost(self) -> CostBreakdown | None:
        r = self.record
        return None if r.chosen < 0 else _Render(r).cost(r.chosen)

    @property
    def explanation(self) -> tuple[str, ...]:
        """The head line, then one line per candidate."""
        return _Render(self.record).explanation()

    @property
    def head(self) -> str:
        """The first line of the explanation: what was decided, by which rule, at what cost."""
        return _Render(self.record).head()

    def summary(self) -> str:
        return "; ".join(self.explanation)

    def explain(self) -> dict[str, Any]:
        """The decision as ``payswitch route --explain`` prints it (JSON-ready builtins)."""
        r = self.record
        render = _Render(r)
        candidates = render.candidates()
        return {
            "channel": self.channel,
            "fee": self.fee,
            "explanation": list(render.explanation(candidates)),
            "scheduled_for": _iso(self.scheduled_for),
            "business_date": _iso(self.business_date),
            "rule": self.rule,
            "candidates": [msgspec.to_builtins(c) for c in candidates],
            "cost": None if r.chosen < 0 else msgspec.to_builtins(render.cost(r.chosen)),
            "reason_code": self.reason,
            "at": None if r.at is None else r.at.astimezone(
                fixed_offset(timedelta(seconds=r.at_offset_s))).isoformat(),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RouteDecision):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def _key(self) -> tuple[Any, ...]:
        return (self.channel, self.fee, self.reason, self.scheduled_for, self.business_date,
                self.rule, self.record)

    def __repr__(self) -> str:
        return (f"RouteDecision(channel={self.channel!r}, fee={self.fee}, reason={self.reason!r},"
                f" scheduled_for={self.scheduled_for!r}, rule={self.rule!r})")


def explain_record(blob: bytes) -> dict[str, Any]:
    """A stored decision rendered as ``payswitch route --explain`` prints it."""
    return RouteDecision.decode(blob).explain()


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _offset_s(at: datetime | None) -> int:
    offset = None if at is None else at.utcoffset()
    return 0 if offset is None else offset // _SECOND


@functools.lru_cache(maxsize=16)
def _zone(key: str) -> ZoneInfo:
    return ZoneInfo(key)


@functools.lru_cache(maxsize=64)  # a handful of business days at a time; isoformat is slow
def _day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


class _Render:
    """Candidates, reasons, cost and lines of one record: the texts of the explanation."""

    def __init__(self, r: DecisionRecord) -> None:
        self.r = r

    def opens_at(self, i: int) -> datetime | None:
        """When channel ``i`` takes the order, in the catalogue's local time."""
        us = self.r.opens_at[i]
        if us < 0:
            return None
        tz = _zone(self.r.timezone)
        if us == 0:
            assert self.r.at is not None
            return self.r.at.astimezone(tz)
        return datetime.fromtimestamp(us // 1_000_000, tz).replace(microsecond=us % 1_000_000)

    def business_date(self, i: int) -> date | None:
        ordinal = self.r.business_dates[i]
        return date.fromordinal(ordinal) if ordinal > 0 else None

    def explanation(self, candidates: tuple[Candidate, ...] | None = None) -> tuple[str, ...]:
        if self.r.note is not None:
            return (self.r.note,)
        candidates = self.candidates() if candidates is None else candidates
        return (self.head(candidates),
                *(f"{c.channel}: {c.reason + ' ' if c.reason else ''}{c.text}"
                  for c in candidates))

    def head(self, candidates: tuple[Candidate, ...] | None = None) -> str:
        r = self.r
        if r.note is not None:
            return r.note
        if r.chosen < 0:
            return self._why_none(candidates)
        i = r.chosen
        fee = r.out[i * _OUT + 1]
        net, vat = split_vat(fee, r.vat_bp[i])  # as cost(i) has them, without the struct
        if r.state[i * _STATE] > 0:
            opens_at = self.opens_at(i)
            assert opens_at is not None  # a chosen channel has a window
            verb = f"scheduled for {opens_at.isoformat()} on"
        else:
            verb = "routed to"
        return (f"{verb} {r.channels[i].name} by {r.rule} rule: fee {fee} (net {net} + VAT "
                f"{vat}), business day {_day(r.business_dates[i])}, score {r.out[i * _OUT + 2]}")

    def candidates(self) -> tuple[Candidate, ...]:
        return tuple(self.candidate(i) for i in range(len(self.r.channels)))

    def candidate(self, i: int) -> Candidate:
        r = self.r
        name = r.channels[i].name
        code, fee, score = r.out[i * _OUT: i * _OUT + _OUT]
        opens_at = self.opens_at(i)
        bday = self.business_date(i)
        if code == _codes.OK:
            if i == r.chosen:
                reason, text = None, "chosen"
            elif (r.excluded >> i) & 1:
                reason, text = "AG01", "already tried"
            elif r.designated >= 0:
                reason, text = "AG01", "eligible, but not the designated channel"
            elif not (r.allowed >> i) & 1:
                reason, text = "AG01", f"eligible, but product {r.product} does not allow it"
            elif r.state[i * _STATE] > 0:
                reason, text = None, "eligible, but opens later or costs more"
            else:
                reason, text = None, "eligible, costs more"
            return Candidate(channel=name, eligible=True, reason=reason, text=text, fee=fee,
                             score=score, opens_at=opens_at, business_date=bday)
        return Candidate(channel=name, eligible=False, reason=ISO_REASON[code],
                         text=self._rejection_text(i, code, opens_at, bday),
                         opens_at=opens_at, business_date=bday)

    def _rejection_text(self, i: int, code: int, opens_at: datetime | None,
                        bday: date | None) -> str:
        r = self.r
        spec = r.channels[i]
        s = i * _STATE
        if code == _codes.CURRENCY:
            return f"does not settle {r.currency}"
        if code == _codes.SCOPE:
            return f"does not carry {'cross-border' if r.cross_border else 'domestic'} payments"
        if code == _codes.AGENT:
            return (f"needs the creditor's bank as a {spec.agent_scheme} code, "
                    f"not {r.creditor_agent!r}")
        if code == _codes.LEI:
            return "needs the LEI of the creditor's bank"
        if code == _codes.AMOUNT_MIN:
            return f"amount {r.amount} below the minimum {spec.min_amount}"
        if code == _codes.AMOUNT_MAX:
            limit = spec.max_amount
            if r.holiday and spec.holiday_max_amount is not None:
                limit = spec.holiday_max_amount
            return (f"amount {r.amount} above the per-item maximum {limit}"
                    + (" on a non-working day" if r.holiday else ""))
        if code == _codes.CLOSED:
            if opens_at is None or bday is None:
                return f"no window for {r.currency} within a year"
            when = f"opens {opens_at.isoformat()} for business day {bday}"
            if r.deadline is not None and bday > r.deadline:
                return f"cannot settle by the requested date {r.deadline}: {when}"
            return f"closed now (designated channels are used now or not at all); {when}"
        if code == _codes.CHANNEL_CAP:
            return f"daily cap {spec.daily_cap} for {bday}: {r.state[s + 1]} used"
        if code == _codes.DEBTOR_CAP:
            return f"debtor's daily cap {spec.debtor_daily_cap} for {bday}: {r.state[s + 2]} used"
        if code == _codes.POSITION:
            return f"available position {r.state[s + 3]} below the amount"
        return "circuit open after technical failures"

    def _why_none(self, candidates: tuple[Candidate, ...] | None) -> str:
        r = self.r
        if r.designated >= 0:
            c = self.candidate(r.designated)
            return f"designated channel {c.channel}: {c.text}"
        best = -1
        best_code = -1
        for i in range(len(r.channels)):
            code = r.out[i * _OUT]
            if (r.allowed >> i) & 1 and code > best_code:
                best, best_code = i, code  # the channel that got furthest explains it best
        if best < 0:
            return f"product {r.product} allows no channel left to try"
        c = candidates[best] if candidates is not None else self.candidate(best)
        return f"no channel can take it; {c.channel}: {c.text}"

    def cost(self, i: int) -> CostBreakdown:
        r = self.r
        spec = r.channels[i]
        fee, score = r.out[i * _OUT + 1], r.out[i * _OUT + 2]
        net, vat = split_vat(fee, r.vat_bp[i])
        per_s = r.delay_cost_per_s
        delay = min(per_s * spec.latency_s, _codes.SCORE_CAP)
        base = min(fee * 1_000_000, _codes.SCORE_CAP) + delay
        return CostBreakdown(fee=fee, fee_net=net, vat=vat, vat_bp=r.vat_bp[i],
                             latency_s=spec.latency_s, delay_cost_per_s=per_s, delay_cost=delay,
                             success_ppm=r.state[i * _STATE + 5],
                             retry_penalty=max(score - base, 0), total=score)
