"""Hardened XML parsing and the shared value rules of ISO 20022 documents.

Parsing: one lxml parser configuration, a size limit checked before any parsing, DOCTYPE and
entity declarations refused outright, UTF-8 only. Reading: one pass over each container's
children (`kids`), looked up by Clark-notation tag (`Tags`); an element's XPath is built only
when an error needs it. Building: documents are written as text (an order of magnitude faster
than building an lxml tree), so every value goes through the checks below, which mirror the XSD
facets, and through `escape`. Each check has a regex fast path for the common valid value and
falls back to the detailed check, which words the error, only when that fails.
"""

from __future__ import annotations

import datetime
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from lxml import etree

from messages.currency import CURRENCIES, exponent, format_amount, parse_amount
from messages.errors import (
    BadAmount,
    MessageError,
    MxDtdForbidden,
    MxMalformed,
    MxTooLarge,
    MxWrongMessage,
    UnknownCurrency,
)

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
DEFAULT_MAX_BYTES = 1 << 20
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

Element = etree._Element
# A container's children by Clark tag: the element, or a list when the tag repeats.
Kids = dict[Any, Any]
T = TypeVar("T")
# A value check: (value, XPath or "" when the caller fills it in, suffix of the XPath) -> value.
Check = Callable[..., T]

_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_LEI = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
_UUID4 = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}")
# IBAN length by country (ISO 13616 registry); a country not listed is held to the pattern and
# the check digits alone.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
# ISO 7064 mod 97-10 reads each letter as its number: A (or a) is 10 ... Z is 35.
_IBAN_DIGITS = {ord(char): str(int(char, 36)) for char in
                "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_XML_CHARS = "\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff"
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML_CHAR = re.compile(f"[^{_XML_CHARS}]")
# XML characters that go out as they are: everything but & < > and CR (see `escape`).
_PLAIN_CHARS = "\t\n\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff"
# Amount digits the XSD allows (ActiveCurrencyAndAmount: totalDigits 18, fractionDigits 5).
_MAX_TOTAL_DIGITS = 18
_AMOUNT_LIMIT = 10**_MAX_TOTAL_DIGITS  # every exponent in use is <= 4, so digits <= 18 iff below
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
# Minor-unit exponent of every currency money can be counted in.
_EXPONENTS = {code: row.exponent for code, row in CURRENCIES.items() if row.exponent is not None}
_MINUTE = datetime.timedelta(minutes=1)
_MAX_OFFSET = datetime.timedelta(hours=14)


# ---------------------------------------------------------------- parsing


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        encoding="utf-8",  # ISO 20022 is UTF-8; overriding the declaration defeats UTF-16 tricks
    )


# lxml parsers must not be shared between threads: one per thread, made once.
_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _screen(data: bytes, max_bytes: int) -> bytes:
    """Checks that need no parsing: type, size, and any DTD machinery. Returns the bytes."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MxMalformed(f"document must be bytes, got {type(data).__name__}")
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    if size > max_bytes:
        raise MxTooLarge(size, max_bytes)
    if type(data) is not bytes:
        data = bytes(data)  # `in` on a memoryview compares items, not byte strings
    # A DOCTYPE is the only way to declare entities or pull in external DTDs: refuse it unread.
    if b"<!" in data and (b"<!DOCTYPE" in data or b"<!ENTITY" in data):
        raise MxDtdForbidden()
    return data


# (root element, message names) -> {Clark tag of an accepted Document: (namespace, body tag)}
_documents: dict[tuple[str, tuple[str, ...]], dict[str, tuple[str, str]]] = {}


def _accepted_documents(root_element: str, message_names: tuple[str, ...]
                        ) -> dict[str, tuple[str, str]]:
    accepted = _documents.get((root_element, message_names))
    if accepted is None:
        accepted = _documents[(root_element, message_names)] = {
            f"{{{NAMESPACE_PREFIX}{name}}}Document":
                (NAMESPACE_PREFIX + name, f"{{{NAMESPACE_PREFIX}{name}}}{root_element}")
            for name in message_names
        }
    return accepted


def parse_document(
    data: bytes, root_element: str, message_names: tuple[str, ...], max_bytes: int
) -> tuple[Element, str]:
    """Parse `data` as an ISO 20022 Document of one of `message_names`.

    Returns the message element (the Document's only child, named `root_element`) and the
    namespace in use. Every element below it is in that namespace (see `_normalise`).
    """
    data = _screen(data, max_bytes)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise MxMalformed(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise MxDtdForbidden()
    accepted = _accepted_documents(root_element, message_names).get(root.tag)
    if accepted is None:
        raise MxWrongMessage(
            f"expected Document of {' or '.join(message_names)}, got {root.tag}", where="/"
        )
    namespace, body_tag = accepted
    body = root[0] if len(root) == 1 else None
    if body is None or body.tag != body_tag:
        raise MxWrongMessage(
            f"Document must hold exactly one {root_element}", where=f"/Document/{root_element}"
        )
    # One declaration, a default namespace one: it is the root's, so every element is in it.
    if data.count(b"xmlns") != 1 or b'xmlns="' not in data:
        _normalise(root, namespace)
    return body, namespace


def _normalise(root: Element, namespace: str) -> None:
    """Move every element into `namespace`: children are matched by local name, as the XSD
    layout names them, whichever namespace (or none) a sender put them in."""
    prefix = f"{{{namespace}}}"
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and not tag.startswith(prefix):
            element.tag = prefix + tag[tag.find("}") + 1 :]


# The canonical start of a document: declaration (optional) and the root with its namespace.
_CANONICAL_ROOT = re.compile(
    rb'(?:<\?xml version="1\.0" encoding="UTF-8"\?>[ \t\r\n]*)?'
    rb'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.[0-9]{3}\.[0-9]{3}\.[0-9]{2})"'
    rb"[ \t\r\n]*/?>"
)
_CANONICAL_ROOT_BYTES = 256


def message_name(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Message name from the Document namespace, reading only as far as the root element.

    >>> message_name(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>')
    'pacs.008.001.08'
    """
    data = _screen(data, max_bytes)
    # The common, canonical start is read by a bounded regex; anything else goes to the parser.
    found = _CANONICAL_ROOT.match(data, 0, _CANONICAL_ROOT_BYTES)
    if found is not None:
        return found.group(1).decode("ascii")
    return _message_name_parsed(data)


def _message_name_parsed(data: bytes) -> str:
    target = _RootTag()
    parser = etree.XMLParser(
        target=target,  # type: ignore[arg-type]
        resolve_entities=False, no_network=True, load_dtd=False,
        huge_tree=False, encoding="utf-8",
    )
    tag: str | None = None
    try:
        etree.fromstring(data, parser)
    except _RootFound as found:
        tag = found.tag
    except etree.XMLSyntaxError as exc:
        raise MxMalformed(f"not well-formed XML: {exc}") from None
    if tag is None:
        raise MxMalformed("no root element")
    namespace, _, local = _split(tag)
    if local != "Document" or not namespace.startswith(NAMESPACE_PREFIX):
        raise MxWrongMessage(f"not an ISO 20022 Document: {tag}", where="/")
    return namespace[len(NAMESPACE_PREFIX) :]


class _RootFound(Exception):
    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


class _RootTag:
    """Parser target that stops the parse at the first start tag."""

    def start(self, tag: str, attrib: object, nsmap: object = None) -> None:
        raise _RootFound(tag)

    def close(self) -> None:
        return None


def _split(tag: object) -> tuple[str, str, str]:
    if not isinstance(tag, str):
        return "", "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, "}", local
    return "", "", tag


class Tags:
    """Clark-notation tags of one namespace, by local name.

    >>> Tags("urn:x", "MsgId TxId").MsgId
    '{urn:x}MsgId'
    """

    def __init__(self, namespace: str, names: str) -> None:
        self.__dict__.update({name: f"{{{namespace}}}{name}" for name in names.split()})

    def __getattr__(self, name: str) -> str:  # only reached for a name not declared
        raise AttributeError(name)


def local_name(tag: str) -> str:
    return tag[tag.find("}") + 1 :]


def kids(element: Element) -> Kids:
    """`element`'s children by tag, read in one pass; a repeated tag maps to a list."""
    count = len(element)
    if count == 1:  # common (FinInstnId, PstlAdr, Id): indexing beats setting up an iterator
        first = element[0]
        return {first.tag: first}
    index: Kids = {child.tag: child for child in element}
    if len(index) == count:
        return index
    index = {}
    for child in element:
        tag = child.tag
        if tag in index:
            seen = index[tag]
            if type(seen) is list:
                seen.append(child)
            else:
                index[tag] = [seen, child]
        else:
            index[tag] = child
    return index


def _child_error(found: Any, tag: str, where: str) -> MessageError:
    name = local_name(tag)
    if found is None:
        return MessageError("MX_MISSING_ELEMENT", f"{name} is required", where=f"{where}/{name}")
    if type(found) is list:
        return MessageError(
            "MX_BAD_VALUE", f"{name} occurs {len(found)} times", where=f"{where}/{name}"
        )
    return MessageError("MX_BAD_VALUE", "expected text, found elements", where=f"{where}/{name}")


def child(index: Kids, tag: str, where: str) -> Element:
    """The one required child `tag` of the element at XPath `where`."""
    found = index.get(tag)
    if found is None or type(found) is list:
        raise _child_error(found, tag, where)
    return found


def only(element: Element, tag: str, where: str) -> Element:
    """The required child `tag` of the element at XPath `where`, for a container that
    normally holds just that child: no index is built when it does."""
    if len(element) == 1:
        first = element[0]
        if first.tag == tag:
            return first
    return child(kids(element), tag, where)


def only_text(element: Element, tag: str, check: Check[T], where: str) -> T:
    """`text` of the required leaf `tag` of a container that normally holds just that leaf."""
    if len(element) == 1:
        first = element[0]
        if first.tag == tag and not len(first):
            try:
                return check(first.text or "", "")
            except MessageError as exc:
                if not exc.where:
                    exc.where = f"{where}/{local_name(tag)}"
                raise
    return text(kids(element), tag, check, where)


def optional(index: Kids, tag: str, where: str) -> Element | None:
    """The child `tag` if present (at most once)."""
    found = index.get(tag)
    if type(found) is list:
        raise _child_error(found, tag, where)
    return found


def repeated(index: Kids, tag: str) -> list[Element]:
    """Every child `tag`, in document order."""
    found = index.get(tag)
    if found is None:
        return []
    if type(found) is list:
        return found
    return [found]


def text(index: Kids, tag: str, check: Check[T], where: str) -> T:
    """Text of the required leaf `tag`, passed through `check`; XPath built only on failure."""
    found = index.get(tag)
    if found is None or type(found) is list or len(found):
        raise _child_error(found, tag, where)
    try:
        return check(found.text or "", "")
    except MessageError as exc:
        if not exc.where:
            exc.where = f"{where}/{local_name(tag)}"
        raise


def optional_text(index: Kids, tag: str, check: Check[T], where: str) -> T | None:
    if tag not in index:
        return None
    return text(index, tag, check, where)


def own_text(element: Element, check: Check[T], where: str) -> T:
    """`element`'s own text (it must have no children) through `check`; `where` is its XPath."""
    if len(element):
        raise MessageError("MX_BAD_VALUE", "expected text, found elements", where=where)
    try:
        return check(element.text or "", "")
    except MessageError as exc:
        if not exc.where:
            exc.where = where
        raise


def amount(index: Kids, tag: str, where: str) -> tuple[int, str]:
    """(minor units, currency) of the amount child `tag` with a Ccy attribute."""
    element = child(index, tag, where)
    currency = element.get("Ccy")
    if currency is None or len(element):
        where = f"{where}/{local_name(tag)}"
        if currency is None:
            raise MessageError("MX_MISSING_ELEMENT", "Ccy attribute is required", where=where)
        raise MessageError("MX_BAD_VALUE", "expected text, found elements", where=where)
    value = element.text or ""
    exp = _EXPONENTS.get(currency)
    match = _DECIMAL.fullmatch(value)
    if exp is not None and match is not None:
        fraction = match.group(2) or ""
        if len(fraction) <= exp:
            return int(match.group(1) + fraction.ljust(exp, "0")), currency
    return parse_minor(value, currency, f"{where}/{local_name(tag)}"), currency


def parse_minor(text: str, currency: str, where: str) -> int:
    """Minor units of an amount element, errors naming the element."""
    try:
        return parse_amount(text, currency)
    except UnknownCurrency as exc:
        raise UnknownCurrency(currency, where=f"{where}/@Ccy", reason=exc.message) from None
    except BadAmount as exc:
        raise BadAmount(exc.message, where=where) from None


# ---------------------------------------------------------------- values (build and parse)

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def escape(text: str) -> str:
    """Escape character data; a CR is kept as a reference because parsers normalise it to LF.

    >>> escape("a<b & c\\r")
    'a&lt;b &amp; c&#13;'
    """
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return text.translate(_ESCAPES)
    return text


def _bad(where: str, message: str) -> MessageError:
    return MessageError("MX_BAD_VALUE", message, where=where)


def text_check(max_length: int) -> Check[str]:
    """A check for MaxNText: 1..N characters, all of them representable in XML."""
    def check(value: str, where: str, suffix: str = "") -> str:
        # Printable ASCII is always XML; anything else is searched for what XML cannot carry.
        if type(value) is str and 0 < len(value) <= max_length and (
            (value.isascii() and value.isprintable()) or _NOT_XML_CHAR.search(value) is None
        ):
            return value
        where += suffix
        if not isinstance(value, str):
            raise _bad(where, f"expected text, got {type(value).__name__}")
        if not 1 <= len(value) <= max_length:
            raise _bad(where, f"length {len(value)} outside 1..{max_length}")
        bad = _NOT_XML_CHAR.search(value)
        if bad is not None:
            raise _bad(where, f"character U+{ord(bad.group()):04X} cannot appear in XML")
        return value

    return check


def text_xml(max_length: int) -> Callable[[str, str, str], str]:
    """Build side of MaxNText: the checked value, escaped for character data."""
    plain = re.compile(f"[{_PLAIN_CHARS}]{{1,{max_length}}}").fullmatch
    check = text_check(max_length)

    def to_xml(value: str, where: str, suffix: str = "") -> str:
        # Most values are valid and hold nothing to escape: one regex call says both.
        if type(value) is str and plain(value) is not None:
            return value
        return escape(check(value, where, suffix))

    return to_xml


def pattern_check(pattern: re.Pattern[str], what: str) -> Check[str]:
    """A check for an identifier with an XSD pattern (its values never need escaping)."""
    fullmatch = pattern.fullmatch

    def check(value: str, where: str, suffix: str = "") -> str:
        if type(value) is str and fullmatch(value) is not None:
            return value
        if isinstance(value, str) and fullmatch(value) is not None:
            return value
        raise _bad(where + suffix, f"{value!r} is not a valid {what}")

    return check


def code_check(codes: frozenset[str]) -> Check[str]:
    """A check for a closed code list (an XSD enumeration; codes never need escaping)."""

    def check(value: str, where: str, suffix: str = "") -> str:
        if value not in codes:
            raise _bad(where + suffix, f"{value!r} is not one of {', '.join(sorted(codes))}")
        return value

    return check


max35 = text_check(35)
max34 = text_check(34)
max70 = text_check(70)
max105 = text_check(105)
max140 = text_check(140)
max4 = text_check(4)  # external code lists (status, reason, purpose): 1..4 characters
max35_xml = text_xml(35)
max34_xml = text_xml(34)
max70_xml = text_xml(70)
max105_xml = text_xml(105)
max140_xml = text_xml(140)
max4_xml = text_xml(4)
bic = pattern_check(_BIC, "BICFI")
any_bic = pattern_check(_BIC, "AnyBIC")  # AnyBICDec2014Identifier: the BICFI pattern
lei = pattern_check(_LEI, "LEI")
uetr = pattern_check(_UUID4, "UUIDv4 UETR")
country = pattern_check(_COUNTRY, "ISO 3166 country code")


def is_iban(account: str) -> bool:
    """True when `account` matches the IBAN pattern, its country's IBAN length and its ISO 7064
    mod-97 check digits.

    >>> is_iban("GB82WEST12345698765432"), is_iban("GB00WEST12345698765432")
    (True, False)
    >>> is_iban("GB82WEST1234569876543")  # a digit short for GB
    False
    """
    if _IBAN.fullmatch(account) is None or \
            IBAN_LENGTHS.get(account[:2], len(account)) != len(account):
        return False
    return int((account[4:] + account[:4]).translate(_IBAN_DIGITS)) % 97 == 1


def currency_check(value: str, where: str) -> str:
    if not isinstance(value, str) or _CURRENCY.fullmatch(value) is None:
        raise UnknownCurrency(str(value), where=where)
    try:
        exponent(value)
    except UnknownCurrency as exc:
        raise UnknownCurrency(value, where=where, reason=exc.message) from None
    return value


def amount_text(minor: int, currency: str, where: str) -> str:
    """Decimal text of an amount for an ActiveCurrencyAndAmount element."""
    exp = _EXPONENTS.get(currency) if type(currency) is str else None
    if exp is not None and type(minor) is int and 0 < minor < _AMOUNT_LIMIT:
        if exp == 0:
            return str(minor)
        digits = str(minor).rjust(exp + 1, "0")  # slicing: a nested format spec is 3x slower
        return f"{digits[:-exp]}.{digits[-exp:]}"
    # Something is wrong (or unusual): the detailed checks word the error.
    currency_check(currency, f"{where}/@Ccy")
    if type(minor) is not int or minor <= 0:
        raise BadAmount(f"amount must be a positive integer of minor units, got {minor!r}",
                        where=where)
    text = format_amount(minor, currency)
    if len(text) - ("." in text) > _MAX_TOTAL_DIGITS:
        raise BadAmount(f"{text} has more than {_MAX_TOTAL_DIGITS} digits", where=where)
    return text


def datetime_text(value: datetime.datetime, where: str, suffix: str = "") -> str:
    """xs:dateTime text of a tz-aware datetime."""
    if not isinstance(value, datetime.datetime):
        raise _bad(where + suffix, f"expected a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise _bad(where + suffix, "datetime must carry a time zone")
    if offset and (offset % _MINUTE or abs(offset) > _MAX_OFFSET):
        raise _bad(where + suffix, f"time zone offset {offset} is not expressible in xs:dateTime")
    return value.isoformat()


def parse_datetime(text: str, where: str) -> datetime.datetime:
    if _DATETIME.fullmatch(text) is None:
        raise _bad(where, f"{text!r} is not an ISO date-time with a time zone")
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise _bad(where, f"{text!r}: {exc}") from None


def date_text(value: datetime.date, where: str, suffix: str = "") -> str:
    if type(value) is datetime.date:
        return value.isoformat()
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise _bad(where + suffix, f"expected a date, got {type(value).__name__}")
    return value.isoformat()


def parse_date(text: str, where: str) -> datetime.date:
    if _DATE.fullmatch(text) is None:
        raise _bad(where, f"{text!r} is not an ISO date")
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise _bad(where, f"{text!r}: {exc}") from None


# ---------------------------------------------------------------- values of the camt reports

max500 = text_check(500)
max500_xml = text_xml(500)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_COUNT = re.compile(r"[0-9]{1,18}")
_PAGE = re.compile(r"[0-9]{1,5}")


def balance_amount_text(minor: int, currency: str, where: str) -> str:
    """Decimal text of a balance: like `amount_text`, but zero is a valid balance."""
    if minor == 0 and type(minor) is int:
        currency_check(currency, f"{where}/@Ccy")
        return format_amount(0, currency)
    return amount_text(minor, currency, where)


def parse_boolean(text: str, where: str) -> bool:
    """xs:boolean: true, false, 1 or 0."""
    found = _BOOLEANS.get(text)
    if found is None:
        raise _bad(where, f"{text!r} is not a boolean")
    return found


def count_text(value: int, where: str, suffix: str = "") -> str:
    """A Number with no fraction (sequence numbers): a non-negative integer of up to 18 digits."""
    if type(value) is int and 0 <= value < _AMOUNT_LIMIT:
        return str(value)
    raise _bad(where + suffix, f"expected an integer 0..{_AMOUNT_LIMIT - 1}, got {value!r}")


def parse_count(text: str, where: str) -> int:
    if _COUNT.fullmatch(text) is None:
        raise _bad(where, f"{text!r} is not a whole number of at most 18 digits")
    return int(text)


def page_text(value: int, where: str, suffix: str = "") -> str:
    """Max5NumericText of a page number."""
    if type(value) is int and 0 <= value <= 99999:
        return str(value)
    raise _bad(where + suffix, f"expected a page number 0..99999, got {value!r}")


def parse_page(text: str, where: str) -> int:
    if _PAGE.fullmatch(text) is None:
        raise _bad(where, f"{text!r} is not a page number of at most 5 digits")
    return int(text)


def date_or_datetime_xml(value: datetime.date, where: str, suffix: str = "") -> str:
    """A DateAndDateTime2Choice: `<DtTm>` for a datetime (tz-aware), `<Dt>` for a date."""
    if isinstance(value, datetime.datetime):
        return f"<DtTm>{datetime_text(value, where, suffix + '/DtTm')}</DtTm>"
    return f"<Dt>{date_text(value, where, suffix + '/Dt')}</Dt>"


def parse_root(data: bytes, max_bytes: int) -> Element:
    """Parse `data` with the hardened parser and return its root, whatever it is (an AppHdr,
    an envelope); the same screening as `parse_document`."""
    data = _screen(data, max_bytes)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise MxMalformed(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise MxDtdForbidden()
    return root


def normalise(root: Element, namespace: str) -> None:
    """Move every element below (and including) `root` into `namespace` (see `_normalise`)."""
    _normalise(root, namespace)
