"""Parse and build SWIFT MT messages: blocks by the ``fastpath.mttok`` tokenizer, fields by the
formats and message specs in ``messages.mt.specs``.

>>> import datetime
>>> msg = MT199(envelope=Envelope(sender="BANKBEBBAXXX", receiver="BANKDEFFXXXX"),
...             sender_ref="REF-1", narrative=("HELLO", "WORLD"))
>>> text = build_mt(msg)
>>> text
'{1:F01BANKBEBBAXXX0000000000}{2:I199BANKDEFFXXXX}{4:\\r\\n:20:REF-1\\r\\n:79:HELLO\\r\\nWORLD\\r\\n-}'
>>> parse_mt(text) == msg
True
>>> parse_mt(text.replace("HELLO", "HELLO;"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
messages.mt.errors.MtBadCharset: MT_BAD_CHARSET at block 4 line 2 field :79:: character ';' ...
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import msgspec

from fastpath.mttok import DEFAULT_MAX_SIZE, MtSyntaxError, split_subblocks, tokenize
from messages.currency import CURRENCIES, exponent, format_amount, parse_amount
from messages.errors import MessageError
from messages.mt import fields as _fields
from messages.mt.errors import (
    MtBadBlock,
    MtBadCharset,
    MtBadField,
    MtError,
    MtMissingField,
    MtTooLarge,
    MtUnsupportedType,
)
from messages.mt.specs import CODE_LISTS, MESSAGE_SPECS, USER_HEADER_TAGS, Entry, FieldEntry
from messages.mt.types import (
    MT103,
    MT192,
    MT196,
    MT199,
    MT202,
    MT202COV,
    MT900,
    MT910,
    MT940,
    MT950,
    Balance,
    Envelope,
    Money,
    MTMessage,
    Party,
    StatementLine,
    UserHeader,
)

__all__ = ["MESSAGE_CLASSES", "build_mt", "parse_mt"]

MESSAGE_CLASSES: dict[str, type[MTMessage]] = {
    cls.MESSAGE_TYPE: cls
    for cls in (MT103, MT192, MT196, MT199, MT202, MT202COV, MT900, MT910, MT940, MT950)
}

_ERRORS: dict[str, type[MtError]] = {
    "MT_TOO_LARGE": MtTooLarge,
    "MT_BAD_BLOCK": MtBadBlock,
    "MT_BAD_FIELD": MtBadField,
    "MT_BAD_CHARSET": MtBadCharset,
}
_BLOCK_ORDER = "12345S"
_BASIC = re.compile(r"F01([A-Z0-9]{12})([0-9]{4})([0-9]{6})")
_INPUT = re.compile(r"I([0-9]{3})([A-Z0-9]{12})([SUN])?([1-3])?([0-9]{3})?")
_OUTPUT = re.compile(
    r"O([0-9]{3})([0-9]{4})([0-9]{6})([A-Z0-9]{12})([0-9]{4})([0-9]{6})([0-9]{6})([0-9]{4})([SUN])?")
_ADDRESS = re.compile(r"[A-Z0-9]{12}")
_USER_RANK = {tag: rank for rank, tag in enumerate(USER_HEADER_TAGS)}
_USER_RE = {tag: re.compile(pattern) for tag, (_, pattern) in USER_HEADER_TAGS.items()}
_USER_ATTR = {tag: attr for tag, (attr, _) in USER_HEADER_TAGS.items()}
_TRAILER_VALUE = re.compile(r"[\x20-\x7e]*")
_REFERENCE_TAGS = frozenset({"20", "21"})
_MATCHERS = {tag: fmt.regex.fullmatch for tag, fmt in _fields.FORMATS.items()}
_NO_USER_HEADER = UserHeader()  # frozen: one instance serves every message without block 3
# Minor-unit exponent of every currency money can be counted in.
_EXPONENTS = {code: row.exponent for code, row in CURRENCIES.items() if row.exponent is not None}


# ---------------------------------------------------------------- spec entries, precompiled


class _Spec(msgspec.Struct, frozen=True):
    attrs: tuple[str, ...]
    tags: dict[str, str] | None  # full tag -> option letter; None for a group
    group: tuple[_Spec, ...]
    mandatory: bool
    repeat: bool
    kind: str
    display: str  # the tag as the standard writes it (50a), for errors


def _tags(tag: str) -> tuple[dict[str, str], str]:
    if ":" in tag:
        base, options = tag.split(":")
        letters = ["" if c == "_" else c for c in options]
        return {base[:-1] + letter: letter for letter in letters}, base
    letter = tag[2:]
    return {tag: letter}, tag


def _spec(entry: Entry | FieldEntry) -> _Spec:
    attr, tag, status, kind = entry
    mandatory, repeat = status.startswith("M"), status.endswith("*")
    if isinstance(tag, tuple):
        group = tuple(_spec(e) for e in tag)
        return _Spec(tuple(attr.split()), None, group, mandatory, repeat, kind, group[0].display)
    tags, display = _tags(tag)
    return _Spec(tuple(attr.split()), tags, (), mandatory, repeat, kind, display)


_SPECS: dict[str, tuple[_Spec, ...]] = {
    mt: tuple(_spec(e) for e in entries) for mt, entries in MESSAGE_SPECS.items()
}


def _first_tags(spec: _Spec) -> dict[str, str]:
    return spec.tags if spec.tags is not None else _first_tags(spec.group[0])


class _Plan:
    """A message's (or a group's) specs compiled for reading fields in one pass.

    `moves[(i, tag)]`, for the spec i last read (-1: none yet), is the move a field `tag`
    makes: the spec j that takes it next (i again for a repeating spec), a mandatory spec it
    would skip (-1: none), and what reading it takes: the decoder, the option letter, the
    attribute(s), how they are stored and the group's plan. A tag with no move ends the plan.
    `mandatory_from[i + 1]` is the next mandatory spec after spec i.
    """

    __slots__ = ("mandatory_from", "moves", "repeats", "specs")

    def __init__(self, specs: tuple[_Spec, ...]) -> None:
        count = len(specs)
        self.specs = specs
        first = tuple(_first_tags(spec) for spec in specs)
        steps = [(_DECODERS.get(spec.kind), spec.attrs if len(spec.attrs) > 1 else spec.attrs[0],
                  _REPEAT if spec.repeat else _ONE if len(spec.attrs) == 1 else _MANY,
                  None if spec.tags is not None else _Plan(spec.group)) for spec in specs]
        self.repeats = tuple(spec.attrs[0] for spec in specs if spec.repeat)
        mandatory_from = [count] * (count + 1)
        for index in range(count - 1, -1, -1):
            mandatory_from[index] = index if specs[index].mandatory else \
                mandatory_from[index + 1]
        self.mandatory_from = tuple(mandatory_from)
        self.moves: dict[tuple[int, str], tuple[Any, ...]] = {}
        for current in range(-1, count):
            taken: set[str] = set()
            if current >= 0 and specs[current].repeat:
                self._add(current, current, first[current], -1, steps, taken)
            for index in range(current + 1, count):
                missing = mandatory_from[current + 1]
                self._add(current, index, first[index], missing if missing < index else -1,
                          steps, taken)

    def _add(self, current: int, index: int, tags: dict[str, str], missing: int,
             steps: list[tuple[Any, ...]], taken: set[str]) -> None:
        for tag, letter in tags.items():
            if tag not in taken:  # the first spec that takes a tag takes it
                taken.add(tag)
                decode, attr, store, group = steps[index]
                self.moves[(current, tag)] = (index, missing, decode, letter, attr, store, group)


_ONE, _REPEAT, _MANY = 0, 1, 2  # how a step stores its value: attr, appended, one per attr


# ---------------------------------------------------------------- values


def _date(text: str, tag: str, line: int | None) -> datetime.date:
    try:
        return datetime.date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise MtBadField(f"{text!r} is not a date (YYMMDD)", tag=tag, line=line) from None


def _yymmdd(day: datetime.date, tag: str) -> str:
    if not 2000 <= day.year <= 2099:
        raise MtBadField(f"{day} does not fit a two-digit year", tag=tag)
    return day.strftime("%y%m%d")


def _amount(text: str, currency: str, tag: str, line: int | None) -> int:
    """Minor units of a 15d amount (its format already checked: digits and one comma)."""
    units, _, fraction = text.partition(",")
    exp = _EXPONENTS.get(currency)
    if exp is not None and len(fraction) <= exp:
        return int(units + fraction.ljust(exp, "0"))
    try:
        return parse_amount(f"{units}.{fraction}" if fraction else units, currency)
    except MessageError as err:
        raise MtBadField(err.message, tag=tag, line=line) from None


def _amount_text(minor: int, currency: str, tag: str) -> str:
    try:
        text = format_amount(minor, currency)
        return text.replace(".", ",") if exponent(currency) else text + ","
    except MessageError as err:
        raise MtBadField(err.message, tag=tag) from None


class _Context:
    """Per-message state: the statement currency for :61: amounts."""

    __slots__ = ("currency",)

    def __init__(self) -> None:
        self.currency: str | None = None


Decoded = Any  # one typed value, or a tuple for a multi-attribute entry


def _d_text(tag: str, letter: str, value: str, line: int, ctx: _Context) -> Decoded:
    if _MATCHERS[tag](value) is None:
        _fields.check(tag, value, line)
    if tag in _REFERENCE_TAGS and (value.startswith("/") or value.endswith("/") or "//" in value):
        raise MtBadField("a reference may not start or end with '/' or hold '//'", tag=tag,
                         line=line)
    codes = CODE_LISTS.get(tag)
    if codes is not None and value not in codes:
        raise MtBadField(f"{value!r} is not one of {', '.join(sorted(codes))}", tag=tag,
                         line=line)
    return value


def _d_lines(tag: str, letter: str, value: str, line: int, ctx: _Context) -> Decoded:
    if _MATCHERS[tag](value) is None:
        _fields.check(tag, value, line)
    return tuple(value.split("\r\n"))


def _d_option_lines(tag: str, letter: str, value: str, line: int, ctx: _Context) -> Decoded:
    return _d_lines(tag, letter, value, line, ctx), letter


def _d_party(tag: str, letter: str, value: str, line: int, ctx: _Context) -> Decoded:
    # a failed match goes to check(), which raises naming what is wrong
    roles = (_MATCHERS[tag](value) or _fields.check(tag, value, line)).groupdict()
    lines = roles.get("lines")
    return Party(option=letter, mark=roles.get("mark"), account=roles.get("account"),
                 bic=roles.get("bic"), lines=() if lines is None else tuple(lines.split("\r\n")))


def _d_value_amount(tag: str, letter: str, value: str, line: int, ctx: _Context) -> Decoded:
    date, currency, amount = (_MATCHERS[tag](value) or _fields.check(tag, value, line)).groups()
    return (_date(date, tag, line), currency, _amount(amount, currency, tag, line))


def _d_money(tag: str, letter: str, value: str, line: int, ctx: _Context) -> Decoded:
    currency, amount = (_MATCHERS[tag](value) or _fields.check(tag, value, line)).groups()
    return Money(currency, _amount(amount, currency, tag, line))


def _d_balance(tag: str, letter: str, value: str, line: int, ctx: _Context) -> Decoded:
    roles = _fields.decode(tag, value, line)
    currency = roles["currency"]
    mark = roles["mark"]
    if mark not in ("C", "D"):
        raise MtBadField(f"balance mark {mark!r} is not C or D", tag=tag, line=line)
    if ctx.currency is None:
        ctx.currency = currency
    elif currency != ctx.currency:
        raise MtBadField(f"currency {currency} differs from the statement's {ctx.currency}",
                         tag=tag, line=line)
    return Balance(mark=mark, date=_date(roles["date"], tag, line), currency=currency,
                   amount=_amount(roles["amount"], currency, tag, line), option=letter)


_MARKS = ("RC", "RD", "C", "D")


def _d_statement_line(tag: str, letter: str, value: str, line: int, ctx: _Context) -> Decoded:
    roles = _fields.decode(tag, value, line)
    # 2a[1!a] is ambiguous for a regex: the mark is C, D, RC or RD, the funds code what follows
    letters = roles["mark"] + (roles["funds_code"] or "")
    mark = next((m for m in _MARKS if letters.startswith(m)), None)
    if mark is None or len(letters) - len(mark) > 1:
        raise MtBadField(f"{letters!r} is not a debit/credit mark [and funds code]", tag=tag,
                         line=line)
    entry_date = roles["entry_date"]
    if entry_date is not None:  # MMDD of any year, so 29 February passes
        try:
            datetime.date(2000, int(entry_date[:2]), int(entry_date[2:]))
        except ValueError:
            raise MtBadField(f"entry date {entry_date!r} is not MMDD", tag=tag,
                             line=line) from None
    customer_ref = roles["customer_ref"]
    bank_ref = roles["bank_ref"]
    if bank_ref is None and "//" in customer_ref:  # 16x swallows //16x: split it back
        customer_ref, _, bank_ref = customer_ref.partition("//")
    if ctx.currency is None:
        raise MtMissingField("no balance gives the statement currency", tag="60a", line=line)
    return StatementLine(
        value_date=_date(roles["date"], tag, line), mark=mark,
        amount=_amount(roles["amount"], ctx.currency, tag, line),
        transaction_type=roles["type"], customer_ref=customer_ref,
        entry_date=entry_date, funds_code=letters[len(mark):] or None,
        bank_ref=bank_ref, details=roles["details"])


_DECODERS: dict[str, Callable[[str, str, str, int, _Context], Decoded]] = {
    "text": _d_text,
    "lines": _d_lines,
    "option_lines": _d_option_lines,
    "party": _d_party,
    "value_amount": _d_value_amount,
    "money": _d_money,
    "balance": _d_balance,
    "statement_line": _d_statement_line,
}
_PLANS: dict[str, _Plan] = {mt: _Plan(specs) for mt, specs in _SPECS.items()}


# encoders: (value, tag, context) -> field text; the letter is chosen by _letter below


def _e_text(value: Any, tag: str, ctx: _Context) -> str:
    if not isinstance(value, str):
        raise MtBadField(f"expected text, got {type(value).__name__}", tag=tag)
    return _d_text(tag, "", value, 0, ctx)


def _e_lines(value: Any, tag: str, ctx: _Context) -> str:
    if not isinstance(value, tuple) or not value:
        raise MtBadField("expected a non-empty tuple of lines", tag=tag)
    _check_lines(value, tag)
    text = "\r\n".join(value)
    _fields.check(tag, text)
    return text


def _check_lines(lines: tuple[str, ...], tag: str) -> None:
    for i, text in enumerate(lines):
        if not isinstance(text, str) or "\r" in text or "\n" in text:
            raise MtBadField("each line must be text without a line break", tag=tag)
        if i and text[:1] in (":", "-"):
            raise MtBadField("a continuation line may not start with ':' or '-'", tag=tag)


def _e_option_lines(value: Any, tag: str, ctx: _Context) -> str:
    return _e_lines(value[0], tag, ctx)


def _e_party(value: Party, tag: str, ctx: _Context) -> str:
    _check_lines(value.lines, tag)
    roles: dict[str, _fields.RoleValue] = {"mark": value.mark, "account": value.account,
                                           "bic": value.bic, "lines": value.lines or None}
    text = _fields.encode(tag, roles)
    if _d_party(tag, value.option, text, 0, ctx) != value:
        raise MtBadField("party does not survive its format (ambiguous or unused parts)", tag=tag)
    return text


def _e_value_amount(value: Any, tag: str, ctx: _Context) -> str:
    day, currency, amount = value
    return _fields.encode(tag, {"date": _yymmdd(day, tag), "currency": currency,
                                "amount": _amount_text(amount, currency, tag)})


def _e_money(value: Money, tag: str, ctx: _Context) -> str:
    return _fields.encode(tag, {"currency": value.currency,
                                "amount": _amount_text(value.amount, value.currency, tag)})


def _e_balance(value: Balance, tag: str, ctx: _Context) -> str:
    if ctx.currency is None:
        ctx.currency = value.currency
    return _fields.encode(tag, {"mark": value.mark, "date": _yymmdd(value.date, tag),
                                "currency": value.currency,
                                "amount": _amount_text(value.amount, value.currency, tag)})


def _e_statement_line(value: StatementLine, tag: str, ctx: _Context) -> str:
    if ctx.currency is None:
        raise MtMissingField("no balance gives the statement currency", tag="60a")
    if "//" in value.customer_ref:
        raise MtBadField("a customer reference may not hold '//'", tag=tag)
    text = _fields.encode(tag, {
        "date": _yymmdd(value.value_date, tag), "entry_date": value.entry_date,
        "mark": value.mark, "funds_code": value.funds_code,
        "amount": _amount_text(value.amount, ctx.currency, tag),
        "type": value.transaction_type, "customer_ref": value.customer_ref,
        "bank_ref": value.bank_ref, "details": value.details})
    if value.mark not in _MARKS:
        raise MtBadField(f"mark {value.mark!r} is not C, D, RC or RD", tag=tag)
    if _d_statement_line(tag, "", text, 0, ctx) != msgspec.structs.replace(value, info=None):
        raise MtBadField("statement line does not survive its format (ambiguous parts)", tag=tag)
    return text


_ENCODERS: dict[str, Callable[[Any, str, _Context], str]] = {
    "text": _e_text,
    "lines": _e_lines,
    "option_lines": _e_option_lines,
    "party": _e_party,
    "value_amount": _e_value_amount,
    "money": _e_money,
    "balance": _e_balance,
    "statement_line": _e_statement_line,
}


# ---------------------------------------------------------------- block 4 against a spec

Field = tuple[str, str, int]


def _missing(spec: _Spec, line: int | None) -> MtMissingField:
    return MtMissingField(f"mandatory field :{spec.display}: is missing", tag=spec.display,
                          line=line)


def _walk(plan: _Plan, fields: list[Field], pos: int, out: dict[str, Any],
          ctx: _Context) -> int:
    """Read `fields` from `pos` into `out` (attribute -> value) while they follow the plan's
    specs in order; returns where it stopped. Absent optional fields keep their defaults."""
    moves = plan.moves
    n = len(fields)
    current = -1
    while pos < n:
        tag, value, line = fields[pos]
        move = moves.get((current, tag))
        if move is None:
            break  # not a field of this plan here: the caller decides
        current, missing, decode, letter, attr, store, group = move
        if missing >= 0:
            raise _missing(plan.specs[missing], line)
        if group is None:
            item = decode(tag, letter, value, line, ctx)
            pos += 1
        else:
            values: dict[str, Any] = {}
            pos = _walk(group, fields, pos, values, ctx)
            item = _group_value(plan.specs[current].kind, values)
        if store == _ONE:
            out[attr] = item
        elif store == _REPEAT:
            out.setdefault(attr, []).append(item)
        else:
            out.update(zip(attr, item, strict=True))
    missing = plan.mandatory_from[current + 1]
    if missing < len(plan.specs):
        raise _missing(plan.specs[missing], fields[pos][2] if pos < n else None)
    for attr in plan.repeats:
        if attr in out:
            out[attr] = tuple(out[attr])
    return pos


def _group_value(kind: str, group: dict[str, Any]) -> Any:
    if kind != "entry":
        raise MtBadField(f"unknown group kind {kind!r}")
    line: StatementLine = group["line"]
    info = group.get("info")
    return line if info is None else msgspec.structs.replace(line, info=info)


def _fields_of(spec: tuple[_Spec, ...], msg: MTMessage, ctx: _Context) -> list[str]:
    out: list[str] = []
    for entry in spec:
        if len(entry.attrs) == 1:
            value = getattr(msg, entry.attrs[0])
        else:
            parts = tuple(getattr(msg, attr) for attr in entry.attrs)
            value = None if all(p is None for p in parts) else parts
        values = value if entry.repeat else (() if value is None else (value,))
        if not isinstance(values, tuple):
            raise MtBadField(f"{entry.attrs[0]} must be a tuple", tag=entry.display)
        if entry.mandatory and not values:
            raise MtMissingField(f"mandatory field :{entry.display}: is missing",
                                 tag=entry.display)
        for item in values:
            if entry.tags is None:
                for sub in entry.group:
                    sub_value = item if sub.attrs[0] == "line" else item.info
                    if sub_value is not None:
                        _emit(out, sub, sub_value, ctx)
            else:
                _emit(out, entry, item, ctx)
    return out


def _emit(out: list[str], entry: _Spec, value: Any, ctx: _Context) -> None:
    assert entry.tags is not None
    if entry.kind in ("party", "balance"):
        letter = value.option
    elif entry.kind == "option_lines":
        letter = value[1]
    else:
        letter = next(iter(entry.tags.values()))
    tag = next((t for t, le in entry.tags.items() if le == letter), None)
    if tag is None:
        raise MtBadField(f"option {letter!r} is not allowed here", tag=entry.display)
    out.append(f":{tag}:{_ENCODERS[entry.kind](value, tag, ctx)}\r\n")


# ---------------------------------------------------------------- envelope


def _lift(err: MtSyntaxError) -> MtError:
    cls = _ERRORS.get(err.code, MtBadBlock)
    return cls(err.reason, tag=err.tag or None, line=err.line or None, offset=err.offset)


def _envelope(blocks: list[tuple[str, str, int]]) -> tuple[str, Envelope, str | None]:
    seen: dict[str, tuple[str, int]] = {}
    last = -1
    for block_id, content, offset in blocks:
        rank = _BLOCK_ORDER.find(block_id)
        if rank < 0:
            raise MtBadBlock(f"unknown block {block_id}", offset=offset)
        if rank <= last:
            raise MtBadBlock(f"block {block_id} is repeated or out of order", offset=offset)
        last = rank
        seen[block_id] = (content, offset)
    for block_id in "124":
        if block_id not in seen:
            raise MtBadBlock(f"block {block_id} is missing", block=block_id)
    basic = _BASIC.fullmatch(seen["1"][0])
    if basic is None:
        raise MtBadBlock("basic header is not F01 + 12-character address + session + sequence",
                         block="1")
    address, session, sequence = basic.groups()
    app = seen["2"][0]
    found = _INPUT.fullmatch(app)
    output = None if found is not None else _OUTPUT.fullmatch(app)
    if found is None and output is None:
        raise MtBadBlock("application header is neither input (I) nor output (O)", block="2")
    user: dict[str, str] = {}
    if "3" in seen:
        content, offset = seen["3"]
        last = -1
        for tag, value in _subblocks(content, offset):
            rank = _USER_RANK.get(tag, -1)
            if rank < 0:
                raise MtBadBlock(f"unknown block 3 field {tag}", block="3")
            if rank <= last:
                raise MtBadBlock(f"block 3 field {tag} is repeated or out of order", block="3")
            last = rank
            if _USER_RE[tag].fullmatch(value) is None:
                raise MtBadBlock(f"block 3 field {tag} {value!r} is malformed", block="3")
            user[_USER_ATTR[tag]] = value
    trailer: tuple[tuple[str, str], ...] = ()
    if "5" in seen:
        content, offset = seen["5"]
        trailer = tuple(_subblocks(content, offset))
    uetr = user.pop("uetr", None)
    header = UserHeader(**user) if user else _NO_USER_HEADER
    if found is not None:
        mt, receiver, priority, monitoring, obsolescence = found.groups()
        envelope = Envelope(sender=address, receiver=receiver, session=session,
                            sequence=sequence, priority=priority,
                            delivery_monitoring=monitoring, obsolescence=obsolescence,
                            user_header=header, trailer=trailer)
    elif output is not None:
        (mt, input_time, mir_date, sender, mir_session, mir_sequence, output_date, output_time,
         priority) = output.groups()
        envelope = Envelope(sender=sender, receiver=address, direction="O", session=session,
                            sequence=sequence, priority=priority, input_time=input_time,
                            mir_date=mir_date, mir_session=mir_session,
                            mir_sequence=mir_sequence, output_date=output_date,
                            output_time=output_time, user_header=header, trailer=trailer)
    if mt == "202" and header.validation_flag == "COV":
        mt = "202COV"
        envelope = msgspec.structs.replace(
            envelope, user_header=msgspec.structs.replace(header, validation_flag=None))
    return mt, envelope, uetr


def _subblocks(content: str, offset: int) -> list[tuple[str, str]]:
    try:
        return split_subblocks(content, offset)
    except MtSyntaxError as err:
        raise _lift(err) from None


def parse_mt(text: str, *, max_size: int = DEFAULT_MAX_SIZE) -> MTMessage:
    """Parse a FIN message into the typed message its block 2 names."""
    try:
        blocks, fields = tokenize(text, max_size)
    except MtSyntaxError as err:
        raise _lift(err) from None
    mt, envelope, uetr = _envelope(blocks)
    cls = MESSAGE_CLASSES.get(mt)
    if cls is None:
        raise MtUnsupportedType(f"MT{mt} is not supported", block="2")
    if cls.UETR_REQUIRED and uetr is None:
        raise MtMissingField(f"MT{mt} needs a UETR (block 3 field 121)", tag="121", block="3")
    values: dict[str, Any] = {}
    ctx = _Context()
    pos = _walk(_PLANS[mt], fields, 0, values, ctx)
    if pos < len(fields):
        tag, _, line = fields[pos]
        raise MtBadField(f"field :{tag}: is not expected here (unknown or out of sequence)",
                         tag=tag, line=line)
    return cls(envelope=envelope, uetr=uetr, **values)


def _header_blocks(msg: MTMessage) -> str:
    env = msg.envelope
    mt = msg.MESSAGE_TYPE[:3]
    for name in ("sender", "receiver"):
        if not isinstance(getattr(env, name), str) or not _ADDRESS.fullmatch(getattr(env, name)):
            raise MtBadBlock(f"{name} must be a 12-character address", block="1")
    if env.direction == "I":
        basic = f"F01{env.sender}{env.session}{env.sequence}"
        app = (f"I{mt}{env.receiver}{env.priority or ''}{env.delivery_monitoring or ''}"
               f"{env.obsolescence or ''}")
        header_re = _INPUT
    elif env.direction == "O":
        basic = f"F01{env.receiver}{env.session}{env.sequence}"
        app = (f"O{mt}{env.input_time or ''}{env.mir_date or ''}{env.sender}"
               f"{env.mir_session or ''}{env.mir_sequence or ''}{env.output_date or ''}"
               f"{env.output_time or ''}{env.priority or ''}")
        header_re = _OUTPUT
    else:
        raise MtBadBlock(f"direction {env.direction!r} is not I or O", block="2")
    if _BASIC.fullmatch(basic) is None:
        raise MtBadBlock("session must be 4 digits and sequence 6 digits", block="1")
    if header_re.fullmatch(app) is None:
        raise MtBadBlock(f"application header {app!r} is malformed", block="2")
    out = [f"{{1:{basic}}}{{2:{app}}}"]
    user = msgspec.structs.asdict(env.user_header)
    if isinstance(msg, MT202COV):
        if user["validation_flag"] not in (None, "COV"):
            raise MtBadBlock("an MT202COV carries 119:COV", block="3")
        user["validation_flag"] = "COV"
    elif isinstance(msg, MT202) and user["validation_flag"] == "COV":
        raise MtBadBlock("119:COV makes an MT202COV: build that type instead", block="3")
    user["uetr"] = msg.uetr
    if msg.UETR_REQUIRED and msg.uetr is None:
        raise MtMissingField(f"MT{msg.MESSAGE_TYPE} needs a UETR (block 3 field 121)", tag="121",
                             block="3")
    parts = []
    for tag, (attr, _) in USER_HEADER_TAGS.items():
        value = user[attr]
        if value is None:
            continue
        if not isinstance(value, str) or _USER_RE[tag].fullmatch(value) is None:
            raise MtBadBlock(f"block 3 field {tag} {value!r} is malformed", block="3")
        parts.append(f"{{{tag}:{value}}}")
    if parts:
        out.append("{3:" + "".join(parts) + "}")
    return "".join(out)


def build_mt(msg: MTMessage) -> str:
    """FIN text of a typed message (CrLf line ends, fields in the order of the message spec)."""
    spec = _SPECS.get(msg.MESSAGE_TYPE)
    if spec is None:
        raise MtUnsupportedType(f"{type(msg).__name__} is not a supported message")
    head = _header_blocks(msg)
    body = "".join(_fields_of(spec, msg, _Context()))
    trailer = ""
    if msg.envelope.trailer:
        for tag, value in msg.envelope.trailer:
            if not re.fullmatch(r"[A-Za-z0-9]{1,3}", tag) or not _TRAILER_VALUE.fullmatch(value) \
                    or "{" in value or "}" in value:
                raise MtBadBlock(f"trailer {tag}:{value!r} is malformed", block="5")
        trailer = "{5:" + "".join(f"{{{t}:{v}}}" for t, v in msg.envelope.trailer) + "}"
    return f"{head}{{4:\r\n{body}-}}{trailer}"
