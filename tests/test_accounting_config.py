"""The books in configuration: the shipped chart loads, bad ones fail at start-up naming the key."""

from __future__ import annotations

import copy
import tomllib
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.config import DEFAULT_BOOKS, load_books, parse_books, split_fee
from accounting.errors import BooksConfigError

RAW: dict[str, Any] = tomllib.loads(DEFAULT_BOOKS.read_text(encoding="utf-8"))


def _books(**change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    raw.update(change)
    return raw


def _rule(name: str) -> dict[str, Any]:
    return next(r for r in RAW["rules"] if r["name"] == name)


def _without_rule(raw: dict[str, Any], name: str) -> dict[str, Any]:
    raw["rules"] = [r for r in raw["rules"] if r["name"] != name]
    return raw


def test_shipped_books_load_and_resolve_families() -> None:
    books = load_books()
    assert books.account("customer:6217000000000001") is not None
    fixed = books.account("clearing:IBPS")
    family = books.account("clearing:BEPS")
    assert fixed is not None and fixed.currency == "CNY"  # the fixed code wins over its family
    assert family is not None and family.code == "clearing:{channel}"
    assert books.account("nonsense") is None
    settle = books.rule("payment.settled", "principal", "IBPS", "CT")
    assert settle is not None and settle.action == "post_hold"


def test_more_specific_rule_wins() -> None:
    special = {**_rule("settle-fee"), "name": "beps-fee-gross", "channel": "BEPS",
               "legs": [{"debit": "customer:{debtor_account}", "credit": "fee-income:{channel}"}]}
    books = parse_books(_books(rules=[*RAW["rules"], special]))
    picked = books.rule("payment.settled", "fee", "BEPS", "CT")
    assert picked is not None and picked.name == "beps-fee-gross"
    other = books.rule("payment.settled", "fee", "IBPS", "CT")
    assert other is not None and other.name == "settle-fee"


@pytest.mark.parametrize(("raw", "where", "words"), [
    (_books(accounts=[{**RAW["accounts"][0], "type": "equity"}]), "accounts[0].type", "equity"),
    (_without_rule(copy.deepcopy(RAW), "settle-fee"), "events.payment.settled", "fee"),
    (_without_rule(copy.deepcopy(RAW), "submitted-moves-nothing"), "events.payment.submitted",
     "no rule covers"),
    (_books(rules=[*RAW["rules"], {**_rule("settle-fee"), "name": "twin"}]), "rules.twin",
     "settle-fee"),
    (_books(rules=[*RAW["rules"], {**_rule("settle-fee"), "name": "lost-vat", "channel": "X",
                                   "legs": [_rule("settle-fee")["legs"][0]]}]),
     "rules.lost-vat", "vat"),
    (_books(rules=[*RAW["rules"], {**_rule("hold-on-accept"), "name": "no-channel",
                                   "product": "X", "legs": [
                                       {"debit": "customer:{debtor_account}",
                                        "credit": "clearing:{channel}"}]}]),
     "rules.no-channel.legs[0].credit", "channel"),
    (_books(rules=[*RAW["rules"], {**_rule("fee-charged"), "name": "ghost", "product": "X",
                                   "legs": [{"debit": "ghost:{channel}", "credit": "vat-payable",
                                             "part": "gross"}]}]),
     "rules.ghost.legs[0].debit", "not in the chart"),
    (_books(accounts=[*RAW["accounts"], {"code": "usd-nostro", "name": "n", "type": "asset",
                                         "currency": "USD"},
                      {"code": "cny-nostro", "name": "n", "type": "asset", "currency": "CNY"}],
            rules=[*RAW["rules"], {**_rule("fee-charged"), "name": "fx", "product": "X",
                                   "legs": [{"debit": "usd-nostro", "credit": "cny-nostro"}]}]),
     "rules.fx.legs[0]", "balance per currency"),
    (_books(accounts=[*RAW["accounts"], {"code": "capped", "name": "c", "type": "asset",
                                         "constraint": "upper_limit"}]),
     f"accounts[{len(RAW['accounts'])}] (capped).limit", "limit"),
    (_books(rules=[*RAW["rules"], {"name": "unknown-event", "event": "payment.teleported",
                                   "action": "none"}]),
     "rules.unknown-event", "not declared"),
])
def test_bad_books_fail_naming_the_key(raw: dict[str, Any], where: str, words: str) -> None:
    with pytest.raises(BooksConfigError) as info:
        parse_books(raw)
    assert where in info.value.where, info.value
    assert words in str(info.value)


def test_unreadable_and_invalid_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(BooksConfigError, match="cannot read"):
        load_books(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[accounts]\n", encoding="utf-8")
    with pytest.raises(BooksConfigError, match="not valid TOML"):
        load_books(bad)


@given(st.integers(0, 10**15), st.sampled_from(["0.06", "0.13", "0.09", "0", "0.005"]),
       st.booleans())
def test_fee_split_is_exact_and_rounds_half_up(fee: int, rate: str, inclusive: bool) -> None:
    net, vat = split_fee(fee, Fraction(rate), inclusive)
    r = Decimal(rate)
    # an independent oracle: decimal arithmetic with an explicit ROUND_HALF_UP
    exact = Decimal(fee) * r / (1 + r) if inclusive else Decimal(fee) * r
    expected_vat = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert vat == expected_vat
    assert net >= 0 and vat >= 0
    if inclusive:
        assert net + vat == fee  # the customer pays exactly the quoted fee
    else:
        assert net == fee


def test_fee_split_examples_china_vat() -> None:
    assert split_fee(30, Fraction("0.06"), True) == (28, 2)  # 1.698 -> 2
    assert split_fee(53, Fraction("0.06"), True) == (50, 3)  # exactly 3
    assert split_fee(9, Fraction("0.06"), True) == (8, 1)  # 0.509 -> 1 (half up)
    assert split_fee(8, Fraction("0.06"), True) == (8, 0)  # 0.453 -> 0
