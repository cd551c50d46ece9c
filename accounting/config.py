"""The books as configuration: chart of accounts, accounting events, posting rules, fee/VAT split.

Loaded from TOML into msgspec structs and checked once at start-up, so a rule set that could book
an unbalanced entry, or an event no rule covers, stops the process with the rule's name instead of
surfacing as a broken ledger at 3 a.m.

>>> books = load_books()
>>> books.account("customer:6217").type, books.account("clearing:IBPS").alert_below
('liability', -500000000000)
"""

from __future__ import annotations

import re
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import msgspec

from accounting.errors import BooksConfigError

AccountType = Literal["asset", "liability", "income", "expense"]
Constraint = Literal["non_negative", "upper_limit", "free"]
Action = Literal["book", "hold", "post_hold", "void_hold", "none"]
Part = Literal["gross", "net", "vat"]
Allocation = Literal["pro_rata"]
PRINCIPAL, FEE = "principal", "fee"

DEFAULT_BOOKS = Path(__file__).with_name("books.toml")
ANY = "*"
# Fields every event carries whatever its type (OutboxEvent.payment_id, body amount and currency).
BASE_FIELDS = frozenset({"payment_id", "currency"})
# Body keys with a meaning of their own: not usable as amount type names.
_RESERVED = BASE_FIELDS | {"amount", "members", "vat"}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_NAME = re.compile(r"^[a-z][a-z_]*$")
_CCY = re.compile(r"^[A-Z]{3}$")


class Account(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str  # a fixed code, or a template with {field} placeholders (a family)
    name: str
    type: AccountType
    currency: str = ANY
    constraint: Constraint = "free"
    limit: int | None = None
    alert_below: int | None = None
    alert_above: int | None = None

    @property
    def debit_normal(self) -> bool:
        return self.type in ("asset", "expense")

    @property
    def is_family(self) -> bool:
        return "{" in self.code


class EventSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An event's body: its fields and amount types; `members` makes it a batch event whose
    body lists members, each with payment_id, amount (its principal) and these fields."""

    fields: list[str] = []
    amounts: list[str] = []  # principal reads body "amount", any other type the key of its name
    members: list[str] | None = None


def amount_key(amount_type: str) -> str:
    """The body key an amount type is read from.

    >>> amount_key("principal"), amount_key("fee"), amount_key("in")
    ('amount', 'fee', 'in')
    """
    return "amount" if amount_type == PRINCIPAL else amount_type


class Leg(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    debit: str
    credit: str
    part: Part = "gross"


class PostingRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    event: str
    amount: str | None = None
    channel: str = ANY
    product: str = ANY
    action: Action = "book"
    legs: list[Leg] = []
    # batch events: book the fee per member, each with its share (else once, for the batch)
    allocate: Allocation | None = None


class FeePolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    channel: str = ANY
    product: str = ANY
    vat_rate: str = "0"  # a decimal string, read as an exact fraction: no float near money
    fee_includes_vat: bool = True


class _BooksFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    accounts: list[Account]
    events: dict[str, EventSpec]
    rules: list[PostingRule]
    fees: list[FeePolicy] = []
    # Currencies whose events a consumer of their own posts (see `Partition`); empty: one
    # consumer posts every event.
    partitions: list[list[str]] = []


def split_fee(fee: int, rate: Fraction, includes_vat: bool) -> tuple[int, int]:
    """(net, vat) of a fee in minor units, VAT rounded half up to the minor unit.

    Half up is the Chinese invoicing convention (四舍五入) the tax authority applies. With a
    VAT-inclusive fee, net is what is left after the VAT, so net + vat is exactly the fee.

    >>> split_fee(30, Fraction(6, 100), True)   # 30 * 0.06 / 1.06 = 1.698 -> 2
    (28, 2)
    >>> split_fee(100, Fraction(6, 100), False)  # VAT on top: 6
    (100, 6)
    """
    if fee < 0:
        raise ValueError("fee must not be negative")
    base = rate / (1 + rate) if includes_vat else rate
    exact = fee * base
    vat = (exact.numerator * 2 + exact.denominator) // (2 * exact.denominator)
    return (fee - vat, vat) if includes_vat else (fee, vat)


class Partition(msgspec.Struct, frozen=True):
    """The share of the outbox one consumer posts, with its own cursor (and, in a cluster, its
    own lease of the same name): the events of `currencies`, or with `others` those of every
    currency but them (and events that name none, which are booked as rejected).

    The currency is what a partition is cut by because it cuts the books cleanly: an event,
    its batch and every balance it touches are in one currency, so what one partition posts
    never depends on what another has posted, and each posts its own events in outbox order
    (a settlement after the acceptance whose hold it closes, limits checked in order)."""

    consumer: str
    currencies: frozenset[str]
    others: bool = False

    def owns(self, currency: object) -> bool:
        return (currency in self.currencies) != self.others


class Books:
    """The validated books: account lookup, the rule for an event, the fee split."""

    def __init__(self, raw: _BooksFile) -> None:
        self.accounts = raw.accounts
        self.events = raw.events
        self.rules = raw.rules
        self.fees = raw.fees
        self._currency_sets = [frozenset(p) for p in raw.partitions]
        self._fixed = {a.code: a for a in raw.accounts if not a.is_family}
        self._families = [(_template_regex(a.code), a) for a in raw.accounts if a.is_family]
        self._rates = [(f, Fraction(f.vat_rate)) for f in raw.fees]
        self._rules: dict[tuple[str, str | None], list[PostingRule]] = {}
        for r in raw.rules:
            self._rules.setdefault((r.event, r.amount), []).append(r)
        self._cache: dict[str, Account | None] = {}
        self._rule_cache: dict[tuple[str, str | None, str, str], PostingRule | None] = {}
        self._recipes: dict[tuple[str, str, str], tuple[tuple[str, PostingRule], ...] | None] = {}
        self._splits: dict[tuple[int, str, str], tuple[int, int]] = {}
        # whether a rule's account names the payment ({payment_id}), which the body lacks
        self.needs_payment_id = any("{payment_id}" in leg.debit + leg.credit
                                    for r in raw.rules for leg in r.legs)

    def account(self, code: str) -> Account | None:
        """The chart entry a concrete account code belongs to (fixed code first, then family)."""
        try:
            return self._cache[code]
        except KeyError:
            pass
        found = self._fixed.get(code)
        if found is None:
            for rx, acc in self._families:
                if rx.fullmatch(code):
                    found = acc
                    break
        self._cache[code] = found
        return found

    def rule(self, event: str, amount: str | None, channel: str,
             product: str) -> PostingRule | None:
        """The most specific rule for (event, amount type, channel, product)."""
        key = (event, amount, channel, product)
        try:
            return self._rule_cache[key]
        except KeyError:
            pass
        best: PostingRule | None = None
        best_score = -1
        for r in self._rules.get((event, amount), ()):
            if r.channel not in (ANY, channel) or r.product not in (ANY, product):
                continue
            score = (r.channel != ANY) * 2 + (r.product != ANY)
            if score > best_score:
                best, best_score = r, score
        self._rule_cache[key] = best
        return best

    def recipe(self, event: str, channel: str, product: str
               ) -> tuple[tuple[str, PostingRule], ...] | None:
        """The rule for each amount type an event carries; None when one has no rule."""
        key = (event, channel, product)
        try:
            return self._recipes[key]
        except KeyError:
            pass
        spec = self.events.get(event)
        out: tuple[tuple[str, PostingRule], ...] | None = None
        if spec is not None:
            found = [(a, self.rule(event, a, channel, product)) for a in spec.amounts]
            if all(r is not None for _, r in found):
                out = tuple((a, r) for a, r in found if r is not None)
            if not spec.amounts and self.rule(event, None, channel, product) is None:
                out = None
        self._recipes[key] = out
        return out

    def split(self, fee: int, channel: str, product: str) -> tuple[int, int]:
        """(net, vat) of a fee under the channel's and product's policy."""
        key = (fee, channel, product)
        try:
            return self._splits[key]
        except KeyError:
            pass
        rate, inclusive = self.fee_policy(channel, product)
        out = self._splits[key] = split_fee(fee, rate, inclusive)
        if len(self._splits) > 100_000:  # fees repeat; the cache only has to hold the common ones
            self._splits.clear()
        return out

    def fee_policy(self, channel: str, product: str) -> tuple[Fraction, bool]:
        best: tuple[Fraction, bool] = (Fraction(0), True)
        best_score = -1
        for f, rate in self._rates:
            if f.channel not in (ANY, channel) or f.product not in (ANY, product):
                continue
            score = (f.channel != ANY) * 2 + (f.product != ANY)
            if score > best_score:
                best, best_score = (rate, f.fee_includes_vat), score
        return best

    def partitions(self, consumer: str) -> list[Partition]:
        """The consumers that together post the outbox, named after `consumer` (one of that
        name when the books name no partitions: `consumer:CNY`, ..., `consumer:other` when
        they do)."""
        if not self._currency_sets:
            return [Partition(consumer, frozenset(), others=True)]
        named = frozenset().union(*self._currency_sets)
        return [*(Partition(f"{consumer}:{'+'.join(sorted(c))}", c)
                  for c in self._currency_sets),
                Partition(f"{consumer}:other", named, others=True)]

    def positions(self) -> list[Account]:
        """Accounts with alert thresholds: the liquidity positions operations watches."""
        return [a for a in self.accounts if a.alert_below is not None or a.alert_above is not None]


def _template_regex(code: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(code)
    # split alternates literal, field, literal...: fields match any non-empty run of characters
    return re.compile("".join(re.escape(p) if i % 2 == 0 else ".+" for i, p in enumerate(parts)))


def load_books(path: str | Path | None = None) -> Books:
    """Read and check the books; `BooksConfigError` names the bad key or rule."""
    p = Path(path) if path is not None else DEFAULT_BOOKS
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BooksConfigError(str(p), f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BooksConfigError(str(p), f"not valid TOML: {exc}") from exc
    return parse_books(raw)


def parse_books(raw: dict[str, Any]) -> Books:
    try:
        books = msgspec.convert(raw, _BooksFile)
    except msgspec.ValidationError as exc:
        text = str(exc)
        # msgspec names the path as `$.rules[3].action`; show it as the TOML key.
        key = text.rsplit("at `$.", 1)[-1].rstrip("`") if "at `$." in text else ""
        raise BooksConfigError(key, text) from exc
    _check(books)
    return Books(books)


def _check(b: _BooksFile) -> None:
    partitioned: set[str] = set()
    for i, currencies in enumerate(b.partitions):
        key = f"partitions[{i}]"
        if not currencies:
            raise BooksConfigError(key, "a partition names at least one currency")
        for c in currencies:
            if not _CCY.match(c):
                raise BooksConfigError(key, f"{c!r} is not an ISO 4217 code")
            if c in partitioned:
                raise BooksConfigError(key, f"{c} is in two partitions: one consumer posts "
                                       "a currency, or its events could post out of order")
            partitioned.add(c)
    seen: set[str] = set()
    for i, a in enumerate(b.accounts):
        key = f"accounts[{i}] ({a.code})"
        if a.code in seen:
            raise BooksConfigError(key, "duplicate account code")
        seen.add(a.code)
        if a.currency != ANY and not _CCY.match(a.currency):
            raise BooksConfigError(f"{key}.currency", f"{a.currency!r} is not an ISO 4217 code")
        if (a.constraint == "upper_limit") != (a.limit is not None):
            raise BooksConfigError(f"{key}.limit", "limit is required with, and only with, "
                                                   "constraint = 'upper_limit'")
    books = Books(b)
    for name, spec in b.events.items():
        for amount in spec.amounts:
            if not _NAME.match(amount) or amount in _RESERVED:
                raise BooksConfigError(f"events.{name}.amounts", f"{amount!r} cannot name an "
                                       "amount type (lower case, not a reserved body key)")
            if not any(r.channel == ANY and r.product == ANY
                       for r in books._rules.get((name, amount), ())):
                raise BooksConfigError(f"events.{name}", f"no rule for amount type {amount!r} "
                                       "with channel = product = '*': some would go unbooked")
        if not spec.amounts and not books._rules.get((name, None)):
            raise BooksConfigError(f"events.{name}", "no rule covers this event "
                                   "(use action = 'none' for events that move no money)")
        if spec.members is not None and PRINCIPAL not in spec.amounts:
            raise BooksConfigError(f"events.{name}.members", "a batch event carries its "
                                   "members' principal: declare amounts = ['principal', ...]")
    keys: dict[tuple[str, str | None, str, str], str] = {}
    holds: set[str] = set()
    for r in b.rules:
        _check_rule(books, r)
        k = (r.event, r.amount, r.channel, r.product)
        if k in keys:
            raise BooksConfigError(f"rules.{r.name}", f"matches the same events as rule {keys[k]}")
        keys[k] = r.name
        if r.action == "hold":
            holds.add(r.event)
    for r in b.rules:
        if r.action in ("post_hold", "void_hold") and not holds:
            raise BooksConfigError(f"rules.{r.name}", f"{r.action} but no rule places a hold")


def per_member(spec: EventSpec, rule: PostingRule) -> bool:
    """Whether a rule of a batch event books once per member (its principal, or an allocated
    fee) rather than once for the whole batch."""
    return spec.members is not None and (rule.amount == PRINCIPAL or rule.allocate is not None)


def _check_rule(books: Books, r: PostingRule) -> None:
    key = f"rules.{r.name}"
    spec = books.events.get(r.event)
    if spec is None:
        raise BooksConfigError(key, f"event {r.event!r} is not declared under [events]")
    if r.amount is None and r.action != "none":
        raise BooksConfigError(key, "a rule that moves money needs an amount type")
    if r.amount is not None and r.amount not in spec.amounts:
        raise BooksConfigError(key, f"event {r.event!r} carries no {r.amount!r} amount")
    if r.action in ("none", "void_hold") and r.legs:
        raise BooksConfigError(key, f"action {r.action!r} takes no legs")
    if r.action in ("book", "hold") and not r.legs:
        raise BooksConfigError(key, f"action {r.action!r} needs at least one leg")
    if r.action == "hold" and len(r.legs) != 1:
        raise BooksConfigError(key, "a hold has exactly one leg (what is held from whom)")
    if r.action in ("hold", "post_hold", "void_hold") and r.amount != PRINCIPAL:
        raise BooksConfigError(key, "holds are placed and released on the principal")
    if r.action == "hold" and spec.members is not None:
        raise BooksConfigError(key, "a batch posts or releases its members' holds; each "
                               "member's hold is placed when it is accepted")
    if r.allocate is not None and (spec.members is None or r.amount != FEE):
        raise BooksConfigError(f"{key}.allocate", "only the fee of a batch event is allocated "
                               "to its members")
    parts = {leg.part for leg in r.legs}
    if parts - {"gross"} and r.amount != FEE:
        raise BooksConfigError(key, "only fee rules split into net and vat parts")
    if ("net" in parts) != ("vat" in parts):
        raise BooksConfigError(key, "a fee split must book both the net part and the vat part")
    if "gross" in parts and len(parts) > 1:
        raise BooksConfigError(key, "book the fee either gross or as net + vat, not both")
    fields = BASE_FIELDS | set(spec.fields)
    if per_member(spec, r):
        fields |= set(spec.members or ())
    for j, leg in enumerate(r.legs):
        currencies = []
        for side in ("debit", "credit"):
            code = getattr(leg, side)
            where = f"{key}.legs[{j}].{side}"
            missing = set(_PLACEHOLDER.findall(code)) - fields
            if missing & set(spec.members or ()):
                raise BooksConfigError(where, f"{code!r} needs member fields "
                                       f"{sorted(missing)} in a rule booked once for the "
                                       "batch (allocate the fee to book it per member)")
            if missing:
                whose = "each member of " if per_member(spec, r) else ""
                raise BooksConfigError(where, f"{code!r} needs {sorted(missing)} which "
                                       f"{whose}{r.event} does not carry")
            acc = _chart_entry(books, code)
            if acc is None:
                raise BooksConfigError(where, f"{code!r} is not in the chart of accounts")
            currencies.append(acc.currency)
        if ANY not in currencies and currencies[0] != currencies[1]:
            raise BooksConfigError(f"{key}.legs[{j}]", f"debits {currencies[0]} and credits "
                                   f"{currencies[1]}: the entry would not balance per currency")
        if leg.debit == leg.credit:
            raise BooksConfigError(f"{key}.legs[{j}]", "debits and credits the same account")


def _chart_entry(books: Books, code: str) -> Account | None:
    # A template names a family by its shape: customer:{creditor_account} is a customer account.
    if "{" in code:
        shape = _PLACEHOLDER.sub("{}", code)
        return next((a for a in books.accounts if _PLACEHOLDER.sub("{}", a.code) == shape), None)
    return books.account(code)
