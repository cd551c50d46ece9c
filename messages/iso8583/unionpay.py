"""Typed UnionPay channel messages over the generic `Message`: amounts in integer minor units,
currencies as ISO 4217 alpha codes, the PAN masked whenever a message is shown.

>>> req = FinancialRequest(
...     pan="6222020200000001234", processing_code="000000", amount=12345, currency="CNY",
...     transmission_time="0506093015", stan="000001", acquirer_id="01020000",
...     retrieval_ref="240506000001", terminal_id="TERM0001", merchant_id="898310048990001")
>>> req
FinancialRequest(mti='0200', pan='622202*********1234', processing_code='000000', amount=12345, ...)
>>> msg = req.to_message()
>>> msg.get(4), msg.get(49)
('000000012345', '156')
>>> from_message(msg) == req
True
>>> req.respond("51").response.reason
'AM04'
>>> msgspec.structs.replace(req, amount=-1)
Traceback (most recent call last):
...
messages.iso8583.errors.Iso8583Error: ISO8583_BAD_FIELD at field 4: amount must be 0 to ...
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from messages.currency import CURRENCIES
from messages.iso8583._plan import plan_for
from messages.iso8583.encoder import encode_field
from messages.iso8583.errors import BAD_FIELD, BAD_MTI, MISSING_FIELD, Iso8583Error
from messages.iso8583.message import FieldValue, Message, mask_pan, masked
from messages.iso8583.response_codes import RESPONSE_CODES, ResponseCode
from messages.iso8583.specs import UNIONPAY

__all__ = [
    "NETWORK_CODES",
    "ChannelMessage",
    "FinancialRequest",
    "FinancialResponse",
    "NetworkManagement",
    "Reversal",
    "from_message",
    "transmission_time",
]

# Field 70 network management information codes.
NETWORK_CODES = {"001": "sign-on", "002": "sign-off", "301": "echo test"}

# ISO 4217 numeric -> alpha for currencies money is counted in; 532 is shared by ANG and XCG
# while XCG replaces ANG (2025): the later table entry, XCG, wins.
_ALPHA = {row.numeric: alpha for alpha, row in CURRENCIES.items() if row.exponent is not None}
_MAX_AMOUNT = 10**12 - 1
_PLAN = plan_for(UNIONPAY)


def transmission_time(moment: datetime.datetime) -> str:
    """Field 7 (MMDDhhmmss, UTC) of an aware datetime.

    >>> transmission_time(datetime.datetime(2024, 5, 6, 17, 30, 15,
    ...                   tzinfo=datetime.timezone(datetime.timedelta(hours=8))))
    '0506093015'
    """
    if moment.tzinfo is None:
        raise ValueError("transmission time needs an aware datetime")
    return moment.astimezone(datetime.UTC).strftime("%m%d%H%M%S")


def _check_time(value: object) -> None:
    try:
        if not (isinstance(value, str) and len(value) == 10 and value.isascii()
                and value.isdigit()):
            raise ValueError(value)
        # 2000 is a leap year, so 0229 passes: field 7 carries no year.
        datetime.datetime.strptime("2000" + value, "%Y%m%d%H%M%S")
    except ValueError:
        raise Iso8583Error(BAD_FIELD, "transmission time is not a valid MMDDhhmmss",
                           field=7) from None


class ChannelMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the typed messages: attribute <-> field table, conversion, masked repr.

    `other` carries any further fields of the spec unchanged (the MAC, field 128, is left to
    the codec and never kept).
    """

    mti: str

    # (field, attribute) in field order; "amount" and "currency" are converted.
    _FIELDS: ClassVar[tuple[tuple[int, str], ...]]
    # Required fields by MTI; the MTIs this type takes.
    _REQUIRED: ClassVar[Mapping[str, frozenset[int]]]

    def __post_init__(self) -> None:
        if self.mti not in self._REQUIRED:
            raise Iso8583Error(BAD_MTI, f"a {type(self).__name__} is "
                               f"{' or '.join(self._REQUIRED)}, not {self.mti!r}", field="t")
        if self.mti in ("0400", "0800") and getattr(self, "response_code", None) is not None:
            raise Iso8583Error(BAD_FIELD, f"an {self.mti} carries no response code", field=39)
        values = self._values()
        for number, value in values:
            field = _PLAN.fields[number]
            if field is None:
                raise Iso8583Error(BAD_FIELD, "field not defined for UnionPay", field=number)
            try:
                encode_field(field, value, 0)
            except Iso8583Error as exc:
                raise Iso8583Error(exc.code, exc.message, field=number) from None
        missing = self._REQUIRED[self.mti] - {n for n, _ in values}
        if missing:
            raise Iso8583Error(MISSING_FIELD, f"{self.mti} needs field {min(missing)}",
                               field=min(missing))

    def _values(self) -> list[tuple[int, FieldValue]]:
        values: list[tuple[int, FieldValue]] = []
        for number, attr in self._FIELDS:
            value = getattr(self, attr)
            if value is None:
                continue
            if attr == "amount":
                if type(value) is not int or not 0 <= value <= _MAX_AMOUNT:
                    raise Iso8583Error(BAD_FIELD, f"amount must be 0 to {_MAX_AMOUNT} minor "
                                       "units", field=number)
                value = f"{value:012d}"
            elif attr == "currency":
                row = CURRENCIES.get(value) if isinstance(value, str) else None
                if row is None or row.exponent is None:
                    raise Iso8583Error(BAD_FIELD, f"unknown ISO 4217 currency {value!r}",
                                       field=number)
                value = row.numeric
            elif number == 7:
                _check_time(value)
            elif number == 70 and value not in NETWORK_CODES:
                raise Iso8583Error(BAD_FIELD, f"network management code {value!r} is not one "
                                   f"of {sorted(NETWORK_CODES)}", field=number)
            values.append((number, value))
        other: Mapping[int, FieldValue] = getattr(self, "other", {})
        for number, value in other.items():
            if type(number) is not int or not 2 <= number <= 128:
                raise Iso8583Error(BAD_FIELD, "not a field number", field=str(number))
            if number in self._known():
                raise Iso8583Error(BAD_FIELD, "field is an attribute; not in other",
                                   field=number)
            if number != UNIONPAY.mac_field:
                values.append((number, value))
        return values

    @classmethod
    def _known(cls) -> frozenset[int]:
        return frozenset(n for n, _ in cls._FIELDS)

    def to_message(self) -> Message:
        """The generic message, fields in number order."""
        return Message(self.mti, dict(sorted(self._values())))

    @classmethod
    def from_message(cls, msg: Message) -> Any:
        """The typed message of `msg`; ISO8583_BAD_MTI / MISSING_FIELD / BAD_FIELD if it is not."""
        if msg.mti not in cls._REQUIRED:
            raise Iso8583Error(BAD_MTI, f"MTI {msg.mti} is not a {cls.__name__}", field="t")
        missing = cls._REQUIRED[msg.mti] - msg.fields.keys()
        if missing:
            raise Iso8583Error(MISSING_FIELD, f"{msg.mti} needs field {min(missing)}",
                               field=min(missing))
        kwargs: dict[str, Any] = {}
        known = cls._known()
        for number, attr in cls._FIELDS:
            value = msg.fields.get(number)
            if value is None:
                continue
            if attr == "amount" and isinstance(value, str):
                kwargs[attr] = int(value) if value.isascii() and value.isdigit() else value
            elif attr == "currency":
                alpha = _ALPHA.get(value) if isinstance(value, str) else None
                if alpha is None:
                    raise Iso8583Error(BAD_FIELD, f"unknown ISO 4217 numeric code {value!r}",
                                       field=number)
                kwargs[attr] = alpha
            else:
                kwargs[attr] = value
        kwargs["other"] = {n: v for n, v in msg.fields.items() if n not in known and n != 128}
        return cls(mti=msg.mti, **kwargs)

    def __repr__(self) -> str:
        parts = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if name == "pan" and isinstance(value, str):
                value = mask_pan(value)
            elif name == "other":
                value = masked(value)
            parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    __str__ = __repr__


_CARD_FIELDS = (
    (2, "pan"), (3, "processing_code"), (4, "amount"), (7, "transmission_time"), (11, "stan"),
    (32, "acquirer_id"), (33, "forwarder_id"), (37, "retrieval_ref"), (39, "response_code"),
    (41, "terminal_id"), (42, "merchant_id"), (49, "currency"), (90, "original_data"),
)
_REQUEST = frozenset({2, 3, 4, 7, 11, 32, 37, 41, 42, 49})
_ECHO = frozenset({3, 4, 7, 11, 32, 37, 39, 41, 42, 49})


class FinancialRequest(ChannelMessage, frozen=True, kw_only=True):
    """0200 financial request; `amount` in minor units of `currency` (ISO 4217 alpha)."""

    mti: str = "0200"
    pan: str
    processing_code: str
    amount: int
    currency: str
    transmission_time: str
    stan: str
    acquirer_id: str
    retrieval_ref: str
    terminal_id: str
    merchant_id: str
    forwarder_id: str | None = None
    other: dict[int, FieldValue] = msgspec.field(default_factory=dict)

    _FIELDS = tuple(f for f in _CARD_FIELDS if f[0] not in (39, 90))
    _REQUIRED = {"0200": _REQUEST}

    def respond(self, response_code: str) -> FinancialResponse:
        """The 0210 answering this request with `response_code`, echoing its fields."""
        return FinancialResponse(
            response_code=response_code, pan=self.pan, processing_code=self.processing_code,
            amount=self.amount, currency=self.currency, transmission_time=self.transmission_time,
            stan=self.stan, acquirer_id=self.acquirer_id, retrieval_ref=self.retrieval_ref,
            terminal_id=self.terminal_id, merchant_id=self.merchant_id,
            forwarder_id=self.forwarder_id)

    def reversal(self, *, stan: str, transmission_time: str) -> Reversal:
        """The 0400 reversing this request (e.g. after the acquirer timeout), field 90 set."""
        original = (self.mti + self.stan + self.transmission_time
                    + self.acquirer_id.rjust(11, "0") + (self.forwarder_id or "").rjust(11, "0"))
        return Reversal(
            mti="0400", pan=self.pan, processing_code=self.processing_code, amount=self.amount,
            currency=self.currency, transmission_time=transmission_time, stan=stan,
            acquirer_id=self.acquirer_id, retrieval_ref=self.retrieval_ref,
            terminal_id=self.terminal_id, merchant_id=self.merchant_id,
            forwarder_id=self.forwarder_id, original_data=original)


class FinancialResponse(ChannelMessage, frozen=True, kw_only=True):
    """0210 financial response; `response` gives the field 39 meaning and ISO 20022 reason."""

    mti: str = "0210"
    response_code: str
    processing_code: str
    amount: int
    currency: str
    transmission_time: str
    stan: str
    acquirer_id: str
    retrieval_ref: str
    terminal_id: str
    merchant_id: str
    pan: str | None = None
    forwarder_id: str | None = None
    other: dict[int, FieldValue] = msgspec.field(default_factory=dict)

    _FIELDS = tuple(f for f in _CARD_FIELDS if f[0] != 90)
    _REQUIRED = {"0210": _ECHO}

    @property
    def response(self) -> ResponseCode | None:
        """The table row of `response_code` (None for a code the table does not know)."""
        return RESPONSE_CODES.get(self.response_code)


class Reversal(ChannelMessage, frozen=True, kw_only=True):
    """0400 reversal request or 0410 reversal response; field 39 only on 0410."""

    mti: str = "0400"
    processing_code: str
    amount: int
    currency: str
    transmission_time: str
    stan: str
    acquirer_id: str
    retrieval_ref: str
    terminal_id: str
    merchant_id: str
    pan: str | None = None
    forwarder_id: str | None = None
    response_code: str | None = None
    original_data: str | None = None
    other: dict[int, FieldValue] = msgspec.field(default_factory=dict)

    _FIELDS = _CARD_FIELDS
    _REQUIRED = {"0400": _ECHO - {39}, "0410": _ECHO}

    def respond(self, response_code: str = "00") -> Reversal:
        """The 0410 answering this 0400."""
        return msgspec.structs.replace(self, mti="0410", response_code=response_code)


class NetworkManagement(ChannelMessage, frozen=True, kw_only=True):
    """0800 / 0810 network management: field 70 001 sign-on, 002 sign-off, 301 echo test."""

    mti: str = "0800"
    code: str
    transmission_time: str
    stan: str
    acquirer_id: str | None = None
    forwarder_id: str | None = None
    response_code: str | None = None
    other: dict[int, FieldValue] = msgspec.field(default_factory=dict)

    _FIELDS = ((7, "transmission_time"), (11, "stan"), (32, "acquirer_id"),
               (33, "forwarder_id"), (39, "response_code"), (70, "code"))
    _REQUIRED = {"0800": frozenset({7, 11, 70}), "0810": frozenset({7, 11, 39, 70})}

    def respond(self, response_code: str = "00") -> NetworkManagement:
        """The 0810 answering this 0800."""
        return msgspec.structs.replace(self, mti="0810", response_code=response_code)


_BY_MTI: dict[str, type[ChannelMessage]] = {
    "0200": FinancialRequest, "0210": FinancialResponse, "0400": Reversal, "0410": Reversal,
    "0800": NetworkManagement, "0810": NetworkManagement,
}


Typed = FinancialRequest | FinancialResponse | Reversal | NetworkManagement


def from_message(msg: Message) -> Typed:
    """The typed message for `msg`'s MTI."""
    cls = _BY_MTI.get(msg.mti)
    if cls is None:
        raise Iso8583Error(BAD_MTI, f"no typed message for MTI {msg.mti}", field="t")
    typed: Typed = cls.from_message(msg)
    return typed
