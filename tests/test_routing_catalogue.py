"""The channel catalogue: the shipped defaults, and configuration errors naming the bad key."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from routing.catalogue import load_catalogue, parse_catalogue
from switch.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[1] / "routing" / "channels.toml"
RAW = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))


def test_shipped_catalogue_has_the_six_channels_of_channels_md() -> None:
    cat = load_catalogue()
    assert list(cat.channels) == ["HVPS", "BEPS", "IBPS", "UnionPay", "CIPS", "SWIFT"]
    assert cat == load_catalogue(SHIPPED)
    beps = cat.channels["BEPS"]
    assert (beps.max_amount, beps.holiday_max_amount) == (5_000_000, 100_000_000)
    assert beps.calendar.day_switch == "16:00" and beps.settlement == "net"
    assert cat.channels["HVPS"].calendar.cutoff == "17:15"
    assert cat.channels["CIPS"].requires_lei
    assert cat.channels["SWIFT"].calendar.cutoffs["EUR"] == "15:45"
    fees = [cat.channels[c].fees["CNY"] for c in ("BEPS", "IBPS", "HVPS", "CIPS", "SWIFT")]
    for schedule, (low, high) in zip(fees, [(20, 100), (30, 200), (50, 1500), (100, 1000),
                                            (15_000, 30_000)], strict=True):
        assert (schedule.fee(1), schedule.fee(10**14)) == (low, high)


def mutate(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


def ch(raw: dict[str, Any], name: str) -> dict[str, Any]:
    channel: dict[str, Any] = raw["channels"][name]
    return channel


CASES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("unknown channel field", lambda r: ch(r, "HVPS").update(colour="red"), "channels.HVPS.colour"),
    ("missing field", lambda r: ch(r, "IBPS").pop("latency_s"), "channels.IBPS.latency_s"),
    ("wrong type in a tier", lambda r: ch(r, "BEPS")["fees"]["CNY"]["tiers"][1].update(bps="x"),
     "channels.BEPS.fees.CNY.tiers[1].bps"),
    ("bad cut-off type", lambda r: ch(r, "SWIFT")["calendar"]["cutoffs"].update(EUR=5),
     "channels.SWIFT.calendar.cutoffs.EUR"),
    ("bad cut-off time", lambda r: ch(r, "SWIFT")["calendar"]["cutoffs"].update(GBP="25:00"),
     "channels.SWIFT.calendar.cutoffs.GBP"),
    ("missing cut-off", lambda r: ch(r, "SWIFT")["calendar"]["cutoffs"].pop("HKD"),
     "channels.SWIFT.calendar.cutoffs.HKD"),
    ("bad window time", lambda r: ch(r, "HVPS")["calendar"].update(cutoff="17h15"),
     "channels.HVPS.calendar.cutoff"),
    ("unknown calendar kind", lambda r: ch(r, "HVPS")["calendar"].update(kind="sometimes"),
     "channels.HVPS.calendar.kind"),
    ("unknown currency", lambda r: ch(r, "IBPS").update(currencies=["CNY", "XYZ"]),
     "channels.IBPS.currencies"),
    ("currency without fees", lambda r: ch(r, "IBPS").update(currencies=["CNY", "USD"]),
     "channels.IBPS.fees.USD"),
    ("fees without currency", lambda r: ch(r, "HVPS")["fees"].update(USD=ch(r, "HVPS")["fees"]
                                                                     ["CNY"]),
     "channels.HVPS.fees.USD"),
    ("tiers not ascending", lambda r: ch(r, "HVPS")["fees"]["CNY"]["tiers"][1].update(upto=5),
     "channels.HVPS.fees.CNY.tiers[1].upto"),
    ("open tier not last", lambda r: ch(r, "HVPS")["fees"]["CNY"]["tiers"][0].pop("upto"),
     "channels.HVPS.fees.CNY.tiers[0].upto"),
    ("bounded last tier", lambda r: ch(r, "HVPS")["fees"]["CNY"]["tiers"][3].update(upto=10**9),
     "channels.HVPS.fees.CNY.tiers[3].upto"),
    ("bps out of range", lambda r: ch(r, "UnionPay")["fees"]["CNY"]["tiers"][0].update(bps=10_001),
     "channels.UnionPay.fees.CNY.tiers[0].bps"),
    ("fee max below min", lambda r: ch(r, "UnionPay")["fees"]["CNY"].update(max=5),
     "channels.UnionPay.fees.CNY.max"),
    ("vat out of range", lambda r: ch(r, "IBPS")["fees"]["CNY"].update(vat_bp=-1),
     "channels.IBPS.fees.CNY.vat_bp"),
    ("negative cap", lambda r: ch(r, "BEPS").update(daily_cap=-1), "channels.BEPS.daily_cap"),
    ("huge cap", lambda r: ch(r, "BEPS").update(debtor_daily_cap=10**16),
     "channels.BEPS.debtor_daily_cap"),
    ("max below min", lambda r: ch(r, "IBPS").update(min_amount=6_000_000),
     "channels.IBPS.max_amount"),
    ("zero minimum", lambda r: ch(r, "IBPS").update(min_amount=0), "channels.IBPS.min_amount"),
    ("net without sessions", lambda r: ch(r, "BEPS").pop("net_session_minutes"),
     "channels.BEPS.net_session_minutes"),
    ("bad scope", lambda r: ch(r, "HVPS").update(scope=["galactic"]), "channels.HVPS.scope[0]"),
    ("empty scope", lambda r: ch(r, "HVPS").update(scope=[]), "channels.HVPS.scope"),
    ("bad agent scheme", lambda r: ch(r, "HVPS").update(agent_scheme="IBAN"),
     "channels.HVPS.agent_scheme"),
    ("latency too long", lambda r: ch(r, "SWIFT").update(latency_s=10**9),
     "channels.SWIFT.latency_s"),
    ("bad swift time zone", lambda r: ch(r, "SWIFT")["calendar"].update(timezone="Mars/Base"),
     "channels.SWIFT.calendar.timezone"),
    ("bad value days", lambda r: ch(r, "SWIFT")["calendar"]["value_days"].update(JPY=30),
     "channels.SWIFT.calendar.value_days.JPY"),
    ("bad holiday date", lambda r: r["calendar"]["holidays"].__setitem__(3, "soon"),
     "calendar.holidays[3]"),
    ("holiday also make-up", lambda r: r["calendar"]["makeup_days"].append(
        r["calendar"]["holidays"][0]), "calendar.makeup_days"),
    ("bad time zone", lambda r: r.update(timezone="Nowhere/City"), "timezone"),
    ("bad home country", lambda r: r.update(home_country="CHN"), "home_country"),
    ("negative cost of delay", lambda r: r["cost_of_delay"].update(urgent=-5),
     "cost_of_delay.urgent"),
    ("unknown top-level key", lambda r: r.update(colour=1), "colour"),
    ("product names unknown channel", lambda r: r["rules"]["products"].update(XB=["CIPS", "FAX"]),
     "rules.products.XB"),
    ("product not a list", lambda r: r["rules"]["products"].update(XB="CIPS"),
     "rules.products.XB"),
    ("whitelist unknown channel", lambda r: r["rules"].update(
        whitelist=[{"channel": "FAX", "creditor_agent": "1"}]), "rules.whitelist[0].channel"),
    ("whitelist with both", lambda r: r["rules"].update(whitelist=[
        {"channel": "IBPS", "creditor_agent": "1"},
        {"channel": "IBPS", "creditor_agent": "1", "creditor_account": "2"}]),
     "rules.whitelist[1]"),
    ("no channels", lambda r: r.update(channels={}), "channels"),
    ("screening not a list", lambda r: r["screening"].update(names="Bob"), "screening.names"),
]


@pytest.mark.parametrize(("change", "key"), [(c, k) for _, c, k in CASES],
                         ids=[name for name, _, _ in CASES])
def test_config_errors_name_the_key(change: Callable[[dict[str, Any]], object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_catalogue(mutate(change))
    assert info.value.key == key, str(info.value)
    assert str(info.value).startswith(f"{key}: ")


def test_unreadable_and_malformed_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_catalogue(missing)
    assert info.value.key == str(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("channels = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_catalogue(bad)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"timezone = '\xff'")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_catalogue(latin)


def test_a_new_channel_is_configuration_only() -> None:
    raw = mutate(lambda r: r["channels"].update(NEWPAY=copy.deepcopy(r["channels"]["IBPS"])))
    assert list(parse_catalogue(raw).channels)[-1] == "NEWPAY"
