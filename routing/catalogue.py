"""The channel catalogue: channels, limits, calendars, fees, route rules and screening lists.

Configuration, not code (STYLE.md item 3): ``routing/channels.toml`` ships the defaults of
``shared/CHANNELS.md``; another file of the same shape replaces it. Decoding and validation
raise ``switch.errors.ConfigError`` naming the TOML key that is wrong.

>>> cat = load_catalogue()
>>> list(cat.channels)
['HVPS', 'BEPS', 'IBPS', 'UnionPay', 'CIPS', 'SWIFT']
>>> cat.channels["IBPS"].max_amount
5000000
>>> parse_catalogue({"channels": {"X": {"currencies": ["CNY"]}}})
Traceback (most recent call last):
...
switch.errors.ConfigError: channels.X.scope: Object missing required field `scope`
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Iterable
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from fastpath.route import MAX_AMOUNT, MAX_CHANNELS
from messages.currency import is_known
from routing.batching import BatchingProfile
from routing.calendar import ChannelCalendar, parse_hhmm
from routing.fees import FeeSchedule
from switch.errors import ConfigError

__all__ = [
    "Catalogue",
    "ChannelSpec",
    "CostOfDelay",
    "RouteRules",
    "Screening",
    "WhitelistRoute",
    "WorkingDays",
    "load_catalogue",
    "parse_catalogue",
]

T = TypeVar("T")

_MAX_LATENCY_S = 30 * 86_400
_MAX_DELAY_COST = 10**12  # micro minor units per second


class ChannelSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One clearing channel; amounts in minor units of the order currency, None: no limit."""

    currencies: tuple[str, ...]
    scope: tuple[Literal["domestic", "cross_border"], ...]
    agent_scheme: Literal["CNAPS", "BIC"]  # how the creditor's bank must be identified
    calendar: ChannelCalendar
    fees: dict[str, FeeSchedule]  # currency -> schedule, one per currency in `currencies`
    latency_s: int  # expected seconds from submission to settlement
    settlement: Literal["gross", "net"]
    net_session_minutes: int | None = None  # net settlement: minutes between sessions
    requires_lei: bool = False  # the creditor's bank must carry an LEI
    min_amount: int = 1
    max_amount: int | None = None  # per item on working days
    holiday_max_amount: int | None = None  # per item on non-working days; None: max_amount
    daily_cap: int | None = None  # per channel and business day
    debtor_daily_cap: int | None = None  # per debtor account, channel and business day


class CostOfDelay(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a second of expected latency costs, in micro minor units (1e-6 fen), by urgency."""

    normal: int = 0
    urgent: int = 0


class WorkingDays(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The statutory calendar: holidays off, make-up weekend days on."""

    holidays: tuple[date, ...] = ()
    makeup_days: tuple[date, ...] = ()


class Screening(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Blocklists; a debtor or creditor matching any entry is rejected with RR04."""

    accounts: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()  # bank codes or BICs
    names: tuple[str, ...] = ()  # compared case-folded with whitespace collapsed


class WhitelistRoute(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Payments to this creditor account or bank go by ``channel`` when it can take them."""

    channel: str
    creditor_account: str | None = None
    creditor_agent: str | None = None


class RouteRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    products: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    whitelist: tuple[WhitelistRoute, ...] = ()


class Catalogue(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything the router knows; channel order is the final tie-break."""

    channels: dict[str, ChannelSpec]
    timezone: str = "Asia/Shanghai"  # local time of calendars, windows and cut-offs
    home_country: str = "CN"
    cost_of_delay: CostOfDelay = msgspec.field(default_factory=CostOfDelay)
    calendar: WorkingDays = msgspec.field(default_factory=WorkingDays)
    screening: Screening = msgspec.field(default_factory=Screening)
    rules: RouteRules = msgspec.field(default_factory=RouteRules)
    batching: tuple[BatchingProfile, ...] = ()  # micro-payment batching, first match wins

    def only(self, names: Iterable[str]) -> Catalogue:
        """The catalogue cut down to the channels this switch is connected to.

        A channel the switch has no adapter for is not a candidate at all (rather than an
        unavailable one), so a rejection names the real reason the offered channels refused.
        """
        keep = set(names)
        rules = RouteRules(
            products={p: tuple(c for c in cs if c in keep)
                      for p, cs in self.rules.products.items()},
            whitelist=tuple(w for w in self.rules.whitelist if w.channel in keep),
        )
        return msgspec.structs.replace(
            self, channels={n: c for n, c in self.channels.items() if n in keep}, rules=rules,
            batching=tuple(b for b in self.batching if b.channel in keep),
        )


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Read and validate a catalogue file; None reads the one shipped with the package."""
    if path is None:
        text = resources.files("routing").joinpath("channels.toml").read_text(encoding="utf-8")
        where = "routing/channels.toml"
    else:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(where, f"cannot read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(where, f"not UTF-8 text: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, f"not valid TOML: {exc}") from exc
    return parse_catalogue(raw)


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    """Decode a TOML table into a validated ``Catalogue``."""
    channels_raw = raw.get("channels")
    if isinstance(channels_raw, dict):
        # one channel at a time, so an error names the channel rather than `channels[...]`
        channels = {name: _convert(spec, ChannelSpec, f"channels.{name}")
                    for name, spec in channels_raw.items()}
        cat = _convert({**raw, "channels": {}}, Catalogue, "")
        cat = msgspec.structs.replace(cat, channels=channels)
    else:
        cat = _convert(raw, Catalogue, "")
    _validate(cat)
    return cat


def _convert(raw: Any, typ: type[T], prefix: str) -> T:
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = text.rsplit("at `$", 1)[-1].rstrip("`") if "at `$" in text else ""
        field = re.search(r"(?:unknown|missing required) field `([^`]*)`", text)
        if field is not None:
            path = f"{path}.{field[1]}"
        key = _name_dict_keys(raw, typ, path)
        full = f"{prefix}{key}" if prefix else key.lstrip(".")
        raise ConfigError(full or "(top level)", text) from exc


def _name_dict_keys(raw: Any, typ: type[Any], path: str) -> str:
    """Replace each ``[...]`` msgspec writes for a table key with the key that fails."""
    segments = re.findall(r"\.[^.\[]+|\[[^\]]*\]", path)
    concrete: list[str | int] = []
    out = ""
    for seg in segments:
        node = _walk(raw, concrete)
        if seg == "[...]" and isinstance(node, dict):
            key = next((k for k in node if _fails_with_only(raw, typ, concrete, k)), None)
            if key is None:
                return out + "".join(segments[len(concrete):])
            concrete.append(key)
            out += f".{key}"
        elif seg.startswith("["):
            concrete.append(int(seg[1:-1]))
            out += seg
        else:
            concrete.append(seg[1:])
            out += seg
    return out


def _walk(node: Any, keys: list[str | int]) -> Any:
    for k in keys:
        try:
            node = node[k]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _fails_with_only(raw: Any, typ: type[Any], keys: list[str | int], only: str) -> bool:
    trial = copy.deepcopy(raw)
    parent = _walk(trial, keys)
    kept = parent[only]
    parent.clear()
    parent[only] = kept
    try:
        msgspec.convert(trial, typ)
    except msgspec.ValidationError:
        return True
    return False


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(key, message)


def _amount(value: int | None, key: str, low: int = 0) -> None:
    _check(value is None or low <= value <= MAX_AMOUNT, key,
           f"must be between {low} and {MAX_AMOUNT} minor units")


def _validate(cat: Catalogue) -> None:
    try:
        ZoneInfo(cat.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("timezone", f"unknown time zone {cat.timezone!r}") from exc
    _check(re.fullmatch(r"[A-Z]{2}", cat.home_country) is not None, "home_country",
           "must be an ISO 3166 alpha-2 code")
    _check(1 <= len(cat.channels) <= MAX_CHANNELS, "channels",
           f"needs 1 to {MAX_CHANNELS} channels")
    for urgency in ("normal", "urgent"):
        value = getattr(cat.cost_of_delay, urgency)
        _check(0 <= value <= _MAX_DELAY_COST, f"cost_of_delay.{urgency}",
               f"must be between 0 and {_MAX_DELAY_COST} micro minor units per second")
    both = set(cat.calendar.holidays) & set(cat.calendar.makeup_days)
    _check(not both, "calendar.makeup_days",
           f"{', '.join(sorted(d.isoformat() for d in both))} also listed as holidays")
    for name, spec in cat.channels.items():
        _validate_channel(name, spec)
    for product, names in cat.rules.products.items():
        for channel in names:
            _check(channel in cat.channels, f"rules.products.{product}",
                   f"unknown channel {channel!r}")
    for i, profile in enumerate(cat.batching):
        key = f"batching[{i}]"
        target = cat.channels.get(profile.channel)
        _check(target is not None, f"{key}.channel", f"unknown channel {profile.channel!r}")
        assert target is not None
        _check(profile.currency in target.currencies, f"{key}.currency",
               f"{profile.channel} does not settle {profile.currency}")
        if target.max_amount is not None:  # a batch is one item for the channel: it must fit
            _check(profile.close_amount is not None
                   and profile.close_amount <= target.max_amount, f"{key}.close_amount",
                   f"needed, at most {profile.channel}'s per-item maximum {target.max_amount}")
    for i, route in enumerate(cat.rules.whitelist):
        key = f"rules.whitelist[{i}]"
        _check(route.channel in cat.channels, f"{key}.channel",
               f"unknown channel {route.channel!r}")
        _check((route.creditor_account is None) != (route.creditor_agent is None), key,
               "give exactly one of creditor_account and creditor_agent")


def _validate_channel(name: str, spec: ChannelSpec) -> None:
    key = f"channels.{name}"
    _check(bool(spec.currencies), f"{key}.currencies", "needs at least one currency")
    for cur in spec.currencies:
        _check(is_known(cur), f"{key}.currencies", f"{cur!r} is not an ISO 4217 currency")
        _check(cur in spec.fees, f"{key}.fees.{cur}", "missing: every currency needs a schedule")
    for cur, schedule in spec.fees.items():
        _check(cur in spec.currencies, f"{key}.fees.{cur}", f"{cur} is not in currencies")
        _validate_fees(f"{key}.fees.{cur}", schedule)
    _check(bool(spec.scope), f"{key}.scope", "needs domestic, cross_border or both")
    _amount(spec.min_amount, f"{key}.min_amount", low=1)
    for field in ("max_amount", "holiday_max_amount", "daily_cap", "debtor_daily_cap"):
        _amount(getattr(spec, field), f"{key}.{field}")
    _check(spec.max_amount is None or spec.max_amount >= spec.min_amount, f"{key}.max_amount",
           "is below min_amount")
    _check(0 <= spec.latency_s <= _MAX_LATENCY_S, f"{key}.latency_s",
           f"must be between 0 and {_MAX_LATENCY_S} seconds")
    _check(spec.settlement == "gross" or (spec.net_session_minutes or 0) > 0,
           f"{key}.net_session_minutes", "net settlement needs a positive session interval")
    cal = spec.calendar
    for field in ("opens", "cutoff", "day_switch"):
        try:
            parse_hhmm(getattr(cal, field))
        except ValueError as exc:
            raise ConfigError(f"{key}.calendar.{field}", str(exc)) from exc
    if cal.kind == "cutoffs":
        if cal.timezone is not None:
            try:
                ZoneInfo(cal.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ConfigError(f"{key}.calendar.timezone",
                                  f"unknown time zone {cal.timezone!r}") from exc
        for cur in spec.currencies:
            _check(cur in cal.cutoffs, f"{key}.calendar.cutoffs.{cur}",
                   "missing: every currency needs a cut-off")
        for cur, text in cal.cutoffs.items():
            try:
                parse_hhmm(text)
            except ValueError as exc:
                raise ConfigError(f"{key}.calendar.cutoffs.{cur}", str(exc)) from exc
        for cur, days in cal.value_days.items():
            _check(0 <= days <= 10, f"{key}.calendar.value_days.{cur}", "must be 0 to 10 days")


def _validate_fees(key: str, schedule: FeeSchedule) -> None:
    _check(bool(schedule.tiers), f"{key}.tiers", "needs at least one tier")
    previous = 0
    for i, tier in enumerate(schedule.tiers):
        tkey = f"{key}.tiers[{i}]"
        last = i == len(schedule.tiers) - 1
        if last:
            _check(tier.upto is None, f"{tkey}.upto", "the last tier has no upper bound")
        else:
            _check(tier.upto is not None, f"{tkey}.upto", "only the last tier may omit it")
            assert tier.upto is not None
            _amount(tier.upto, f"{tkey}.upto")
            _check(tier.upto > previous or i == 0, f"{tkey}.upto", "tiers must ascend")
            previous = tier.upto
        _amount(tier.fixed, f"{tkey}.fixed")
        _check(0 <= tier.bps <= 10_000, f"{tkey}.bps", "must be between 0 and 10000")
    _amount(schedule.min, f"{key}.min")
    _amount(schedule.max, f"{key}.max")
    _check(schedule.max is None or schedule.max >= schedule.min, f"{key}.max", "is below min")
    _check(0 <= schedule.vat_bp <= 10_000, f"{key}.vat_bp", "must be between 0 and 10000")
