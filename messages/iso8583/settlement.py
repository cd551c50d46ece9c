"""The UnionPay daily settlement file: fixed-width ASCII lines, one file per institution and
settlement date; the channel's end-of-day statement and what reconciliation reads.

Every line is `LINE_WIDTH` characters and ends with a newline. The first is the header (``H``:
settlement date, institution, creation time in UTC), the last the trailer (``T``: number of
items, debit and credit totals), and between them one ``D`` line per item whose layout
(`DETAIL`) is data: txn code, debit/credit from the institution's side, acquirer id (field 32),
sender id (field 33), STAN, transmission time MMDDhhmmss, account (PAN), amount n12 in minor
units, currency (ISO 4217 numeric), retrieval reference, order id. Numeric columns of fixed
width are zero-filled; the others are left-aligned and space-filled.

>>> f = SettlementFile(settlement_date=date(2026, 3, 2), institution="04290000",
...     created_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC), lines=(SettlementLine(
...     txn_code="0200", dc="D", acquirer_id="04290000", sender_id="04290000", stan="000042",
...     transmission_time="0302063015", account="6222000000000009", amount=12345,
...     currency="CNY", retrieval_ref="0A1B2C3D4E5F", order_id="E2E-1"),))
>>> data = build_settlement_file(f)
>>> data.splitlines()[1][:44]
b'D0200D04290000   04290000   0000420302063015'
>>> parse_settlement_file(data) == f
True
>>> parse_settlement_file(data.replace(b"000000012345", b"0000000123X5"))
Traceback (most recent call last):
...
messages.iso8583.settlement.SettlementFileError: SETTLEMENT_BAD_FIELD at line 2, column 74 ...
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Literal, NamedTuple

import msgspec

from messages.currency import CURRENCIES
from messages.errors import MessageError

__all__ = [
    "DETAIL",
    "FORMAT",
    "HEADER",
    "LINE_WIDTH",
    "TRAILER",
    "TXN_CODES",
    "Column",
    "SettlementFile",
    "SettlementFileError",
    "SettlementLine",
    "build_settlement_file",
    "parse_settlement_file",
    "read_settlement_items",
]

FORMAT = "unionpay-settlement"
"""The format name a statement service gives this file (`adapters.base.StatementFile`)."""

BAD_RECORD = "SETTLEMENT_BAD_RECORD"  # line length, record type or record order
BAD_FIELD = "SETTLEMENT_BAD_FIELD"  # a column's value
BAD_TOTALS = "SETTLEMENT_BAD_TOTALS"  # the trailer disagrees with the items

# Transaction codes: the MTI of the approved request that moved the money.
TXN_CODES: Mapping[str, str] = {
    "0200": "financial transaction (approved 0200)",
    "0400": "reversal (approved 0400)",
}


class Column(NamedTuple):
    """One column: ``n`` digits, ``an`` letters, digits and space, ``ans`` printable ASCII.

    A ``fixed`` column is exactly ``width`` characters (``n`` zero-filled by the builder); any
    other is left-aligned, space-filled, and at least ``min_len`` characters once unpadded.
    """

    name: str
    width: int
    type: Literal["n", "an", "ans"]
    fixed: bool = True
    min_len: int = 1


# Column 1 of every line is its record type; these layouts start at column 2.
HEADER: tuple[Column, ...] = (
    Column("settlement_date", 8, "n"),  # YYYYMMDD
    Column("institution", 11, "n", fixed=False),  # whose file it is
    Column("created_at", 14, "n"),  # YYYYMMDDhhmmss, UTC
)
DETAIL: tuple[Column, ...] = (
    Column("txn_code", 4, "n"),
    Column("dc", 1, "an"),  # D: the institution's account is debited; C: credited
    Column("acquirer_id", 11, "n", fixed=False),
    Column("sender_id", 11, "n", fixed=False),
    Column("stan", 6, "n"),
    Column("transmission_time", 10, "n"),  # MMDDhhmmss, UTC (field 7)
    Column("account", 19, "n", fixed=False, min_len=12),
    Column("amount", 12, "n"),
    Column("currency", 3, "n"),
    Column("retrieval_ref", 12, "an"),
    Column("order_id", 35, "ans", fixed=False, min_len=0),
)
TRAILER: tuple[Column, ...] = (
    Column("count", 9, "n"),
    Column("debit_total", 18, "n"),
    Column("credit_total", 18, "n"),
)
LINE_WIDTH = 1 + sum(c.width for c in DETAIL)
_LAYOUTS = {"H": HEADER, "D": DETAIL, "T": TRAILER}

_ALLOWED = {
    "n": frozenset("0123456789"),
    "an": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "),
    "ans": frozenset(chr(c) for c in range(0x20, 0x7F)),
}
_ALPHA = {row.numeric: alpha for alpha, row in CURRENCIES.items() if row.exponent is not None}


class SettlementFileError(MessageError):
    """A settlement file could not be built or parsed; ``line`` and ``column`` are 1-based.

    >>> err = SettlementFileError(BAD_FIELD, "not a date", line=1, column=2,
    ...                           field="settlement_date")
    >>> str(err)
    'SETTLEMENT_BAD_FIELD at line 1, column 2 (settlement_date): not a date'
    """

    def __init__(self, code: str, message: str, *, line: int, column: int | None = None,
                 field: str | None = None) -> None:
        where = f"line {line}" + (f", column {column}" if column is not None else "")
        super().__init__(code, message, where=where + (f" ({field})" if field else ""))
        self.line = line
        self.column = column
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.code, self.message, self.line, self.column, self.field))


def _rebuild(code: str, message: str, line: int, column: int | None,
             field: str | None) -> SettlementFileError:
    return SettlementFileError(code, message, line=line, column=column, field=field)


class SettlementLine(msgspec.Struct, frozen=True, kw_only=True):
    """One item as the channel settled it; ``amount`` in minor units of ``currency``."""

    txn_code: str
    dc: str
    acquirer_id: str
    sender_id: str
    stan: str
    transmission_time: str
    account: str
    amount: int
    currency: str
    retrieval_ref: str
    order_id: str = ""

    @property
    def signed_amount(self) -> int:
        """Negative when the institution's account is debited."""
        return -self.amount if self.dc == "D" else self.amount


class SettlementFile(msgspec.Struct, frozen=True, kw_only=True):
    """One institution's settlement file for one settlement date."""

    settlement_date: date
    institution: str
    created_at: datetime
    lines: tuple[SettlementLine, ...] = ()

    @property
    def debit_total(self) -> int:
        return sum(ln.amount for ln in self.lines if ln.dc == "D")

    @property
    def credit_total(self) -> int:
        return sum(ln.amount for ln in self.lines if ln.dc == "C")


# -- build -----------------------------------------------------------------------------------


def build_settlement_file(f: SettlementFile) -> bytes:
    """The file's bytes; SETTLEMENT_BAD_FIELD names the line and column a value cannot go in."""
    if f.created_at.tzinfo is None:
        raise SettlementFileError(BAD_FIELD, "creation time needs a timezone", line=1,
                                  column=_column(HEADER, "created_at"), field="created_at")
    out = [_line("H", HEADER, {
        "settlement_date": f.settlement_date.strftime("%Y%m%d"),
        "institution": f.institution,
        "created_at": f.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S")}, 1)]
    for n, ln in enumerate(f.lines, start=2):
        out.append(_line("D", DETAIL, _detail_values(ln, n), n))
    out.append(_line("T", TRAILER, {
        "count": _digits(len(f.lines), 9, "count", TRAILER, len(out) + 1),
        "debit_total": _digits(f.debit_total, 18, "debit_total", TRAILER, len(out) + 1),
        "credit_total": _digits(f.credit_total, 18, "credit_total", TRAILER, len(out) + 1)},
        len(out) + 1))
    return "".join(out).encode("ascii")


def _detail_values(ln: SettlementLine, n: int) -> dict[str, str]:
    def bad(field: str, why: str) -> SettlementFileError:
        return SettlementFileError(BAD_FIELD, why, line=n, column=_column(DETAIL, field),
                                   field=field)

    if ln.txn_code not in TXN_CODES:
        raise bad("txn_code", f"unknown txn code {ln.txn_code!r}")
    if ln.dc not in ("D", "C"):
        raise bad("dc", "must be D or C")
    if not _valid_time(ln.transmission_time):
        raise bad("transmission_time", "not a valid MMDDhhmmss")
    row = CURRENCIES.get(ln.currency)
    if row is None or row.exponent is None:
        raise bad("currency", f"unknown ISO 4217 currency {ln.currency!r}")
    if type(ln.amount) is not int or ln.amount < 0:
        raise bad("amount", "must be a non-negative integer of minor units")
    return {"txn_code": ln.txn_code, "dc": ln.dc, "acquirer_id": ln.acquirer_id,
            "sender_id": ln.sender_id, "stan": ln.stan,
            "transmission_time": ln.transmission_time, "account": ln.account,
            "amount": _digits(ln.amount, 12, "amount", DETAIL, n), "currency": row.numeric,
            "retrieval_ref": ln.retrieval_ref, "order_id": ln.order_id}


def _digits(value: int, width: int, field: str, layout: tuple[Column, ...], n: int) -> str:
    text = str(value)
    if len(text) > width:
        raise SettlementFileError(BAD_FIELD, f"{value} does not fit in {width} digits", line=n,
                                  column=_column(layout, field), field=field)
    return text.zfill(width)


def _line(record: str, layout: tuple[Column, ...], values: Mapping[str, str], n: int) -> str:
    parts = [record]
    at = 2
    for col in layout:
        value = values[col.name]
        _check(col, value, n, at, building=True)
        parts.append(value if col.fixed else value.ljust(col.width))
        at += col.width
    return "".join(parts).ljust(LINE_WIDTH) + "\n"


# -- parse -----------------------------------------------------------------------------------


def parse_settlement_file(data: bytes) -> SettlementFile:
    """The file in ``data``; every error names the line and column (1-based) where it is."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise SettlementFileError(BAD_RECORD, "empty file: no header", line=1, column=1)
    header = _fields(lines[0], 1, "H")
    items = [_item(_fields(raw, n, "D"), n) for n, raw in enumerate(lines[1:-1], start=2)]
    if len(lines) < 2:
        raise SettlementFileError(BAD_RECORD, "no trailer: the file is truncated", line=2,
                                  column=1)
    last = len(lines)
    trailer = _fields(lines[-1], last, "T")
    f = SettlementFile(
        settlement_date=_date(header["settlement_date"], 1),
        institution=header["institution"],
        created_at=_timestamp(header["created_at"], 1),
        lines=tuple(items))
    for name, stated, actual in (("count", int(trailer["count"]), len(items)),
                                 ("debit_total", int(trailer["debit_total"]), f.debit_total),
                                 ("credit_total", int(trailer["credit_total"]), f.credit_total)):
        if stated != actual:
            raise SettlementFileError(BAD_TOTALS, f"trailer states {stated}, the items make "
                                      f"{actual}", line=last, column=_column(TRAILER, name),
                                      field=name)
    return f


class SettlementItem(NamedTuple):
    """What reconciliation reads of an item line (`read_settlement_items`)."""

    order_id: str
    retrieval_ref: str
    signed_amount: int  # negative when the institution's account is debited
    currency: str
    txn_code: str


def _span(name: str) -> slice:
    at = _column(DETAIL, name) - 1
    return slice(at, at + next(c.width for c in DETAIL if c.name == name))


def read_settlement_items(data: bytes) -> tuple[date, str, list[SettlementItem]]:
    """(settlement date, institution, items) for reconciliation, at several times the speed
    of `parse_settlement_file`: the header and trailer are checked in full, every item line's
    record type and width, and the columns returned (txn code, D/C, amount, currency, order
    id, retrieval reference); the trailer's count and totals must agree. Anything off is
    handed to `parse_settlement_file`, so the error names its line and column as ever.

    >>> f = SettlementFile(settlement_date=date(2026, 3, 2), institution="04290000",
    ...     created_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC), lines=(SettlementLine(
    ...     txn_code="0200", dc="D", acquirer_id="04290000", sender_id="04290000",
    ...     stan="000042", transmission_time="0302063015", account="6222000000000009",
    ...     amount=12345, currency="CNY", retrieval_ref="0A1B2C3D4E5F", order_id="E2E-1"),))
    >>> read_settlement_items(build_settlement_file(f))[2]
    [SettlementItem(order_id='E2E-1', retrieval_ref='0A1B2C3D4E5F', signed_amount=-12345, \
currency='CNY', txn_code='0200')]
    """
    items = _fast_items(data)
    if items is None:
        parse_settlement_file(data)  # raises the located error
        raise SettlementFileError(BAD_RECORD, "unreadable settlement file", line=1, column=1)
    return items


def _fast_items(data: bytes) -> tuple[date, str, list[SettlementItem]] | None:
    if not data.isascii():
        return None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) < 2:
        return None
    try:
        header = _fields(lines[0], 1, "H")
        trailer = _fields(lines[-1], len(lines), "T")
        day = _date(header["settlement_date"], 1)
    except SettlementFileError:
        return None
    txn, dc, amount, ccy = _span("txn_code"), _span("dc"), _span("amount"), _span("currency")
    rrn, oid = _span("retrieval_ref"), _span("order_id")
    alpha = {k.encode(): v for k, v in _ALPHA.items()}
    codes = {c.encode(): c for c in TXN_CODES}
    out: list[SettlementItem] = []
    append = out.append
    debits = credits = 0
    for raw in lines[1:-1]:
        if len(raw) != LINE_WIDTH or raw[0] != 0x44:  # "D"
            return None
        code, mark, digits = codes.get(raw[txn]), raw[dc], raw[amount]
        currency = alpha.get(raw[ccy])
        if code is None or currency is None or not digits.isdigit() or mark not in (b"D", b"C"):
            return None
        value = int(digits)
        if mark == b"D":
            debits += value
            value = -value
        else:
            credits += value
        append(SettlementItem(raw[oid].rstrip(b" ").decode(), raw[rrn].decode(), value,
                              currency, code))
    if (int(trailer["count"]), int(trailer["debit_total"]), int(trailer["credit_total"])) != (
            len(out), debits, credits):
        return None
    return day, header["institution"], out


def _fields(raw: bytes, n: int, record: str) -> dict[str, str]:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise SettlementFileError(BAD_FIELD, f"non-ASCII byte 0x{raw[exc.start]:02x}", line=n,
                                  column=exc.start + 1) from None
    if text[:1] != record:
        kind = {"H": "header", "D": "item", "T": "trailer"}[record]
        raise SettlementFileError(BAD_RECORD, f"expected the {kind} record {record!r}, found "
                                  f"{text[:1]!r}", line=n, column=1)
    if len(text) != LINE_WIDTH:
        raise SettlementFileError(BAD_RECORD, f"line is {len(text)} characters, not "
                                  f"{LINE_WIDTH}", line=n, column=min(len(text), LINE_WIDTH) + 1)
    values: dict[str, str] = {}
    at = 2
    layout = _LAYOUTS[record]
    for col in layout:
        cell = text[at - 1 : at - 1 + col.width]
        value = cell if col.fixed else cell.rstrip(" ")
        _check(col, value, n, at, building=False)
        values[col.name] = value
        at += col.width
    if text[at - 1 :].strip(" "):
        raise SettlementFileError(BAD_RECORD, "filler must be spaces", line=n, column=at)
    return values


def _item(v: dict[str, str], n: int) -> SettlementLine:
    def bad(field: str, why: str) -> SettlementFileError:
        return SettlementFileError(BAD_FIELD, why, line=n, column=_column(DETAIL, field),
                                   field=field)

    if v["txn_code"] not in TXN_CODES:
        raise bad("txn_code", f"unknown txn code {v['txn_code']!r}")
    if v["dc"] not in ("D", "C"):
        raise bad("dc", f"must be D or C, not {v['dc']!r}")
    if not _valid_time(v["transmission_time"]):
        raise bad("transmission_time", "not a valid MMDDhhmmss")
    currency = _ALPHA.get(v["currency"])
    if currency is None:
        raise bad("currency", f"unknown ISO 4217 numeric code {v['currency']!r}")
    return SettlementLine(
        txn_code=v["txn_code"], dc=v["dc"], acquirer_id=v["acquirer_id"],
        sender_id=v["sender_id"], stan=v["stan"], transmission_time=v["transmission_time"],
        account=v["account"], amount=int(v["amount"]), currency=currency,
        retrieval_ref=v["retrieval_ref"], order_id=v["order_id"])


# -- shared ----------------------------------------------------------------------------------


def _check(col: Column, value: str, n: int, at: int, *, building: bool) -> None:
    """``value`` fits ``col`` (first column ``at``), else SETTLEMENT_BAD_FIELD at the culprit."""

    def bad(why: str, offset: int = 0) -> SettlementFileError:
        return SettlementFileError(BAD_FIELD, why, line=n, column=at + offset, field=col.name)

    if not isinstance(value, str):
        raise bad(f"must be text, not {type(value).__name__}")
    allowed = _ALLOWED[col.type]
    for i, ch in enumerate(value):
        if ch not in allowed:
            # Card numbers are never quoted, not even one character.
            shown = "a refused character" if col.name == "account" else repr(ch)
            kind = {"n": "digits", "an": "letters, digits and spaces",
                    "ans": "printable ASCII"}[col.type]
            raise bad(f"{kind} only: {shown} at position {i + 1}", i)
    if col.fixed and len(value) != col.width:
        raise bad(f"{len(value)} characters, exactly {col.width} needed")
    if not col.fixed:
        if len(value) > col.width:
            raise bad(f"{len(value)} characters, at most {col.width}")
        if len(value) < col.min_len:
            raise bad(f"{len(value)} characters, at least {col.min_len}")
        if building and value != value.rstrip(" "):
            raise bad("trailing spaces would be lost in the padding")


def _column(layout: tuple[Column, ...], name: str) -> int:
    at = 2
    for col in layout:
        if col.name == name:
            return at
        at += col.width
    raise KeyError(name)


def _valid_time(value: str) -> bool:
    try:
        # 2000 is a leap year, so 0229 passes: field 7 carries no year.
        datetime.strptime("2000" + value, "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return len(value) == 10


def _date(value: str, n: int) -> date:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise SettlementFileError(BAD_FIELD, "not a valid YYYYMMDD date", line=n,
                                  column=_column(HEADER, "settlement_date"),
                                  field="settlement_date") from None


def _timestamp(value: str, n: int) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise SettlementFileError(BAD_FIELD, "not a valid YYYYMMDDhhmmss time", line=n,
                                  column=_column(HEADER, "created_at"),
                                  field="created_at") from None
