"""Hardened XML parsing and the shared value rules of ISO 20022 documents.

Parsing: one lxml parser configuration, a size limit checked before any parsing, DOCTYPE and
entity declarations refused outright, UTF-8 only. Building: documents are written as text
(an order of magnitude faster than building an lxml tree), so every value goes through the
checks below, which mirror the XSD facets, and through `escape`.
"""

from __future__ import annotations

import datetime
import re
import threading
from collections.abc import Callable
from typing import TypeVar

from lxml import etree

from messages.currency import exponent, format_amount, parse_amount
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
T = TypeVar("T")

_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_LEI = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
_UUID4 = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Amount digits the XSD allows (ActiveCurrencyAndAmount: totalDigits 18, fractionDigits 5).
_MAX_TOTAL_DIGITS = 18


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


# lxml parsers must not be shared between threads.
_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _screen(data: bytes, max_bytes: int) -> None:
    """Checks that need no parsing: type, size, and any DTD machinery."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MxMalformed(f"document must be bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise MxTooLarge(len(data), max_bytes)
    # A DOCTYPE is the only way to declare entities or pull in external DTDs: refuse it unread.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise MxDtdForbidden()


def parse_document(
    data: bytes, root_element: str, message_names: tuple[str, ...], max_bytes: int
) -> tuple[Element, str]:
    """Parse `data` as an ISO 20022 Document of one of `message_names`.

    Returns the message element (the Document's only child, named `root_element`) and the
    namespace in use.
    """
    _screen(data, max_bytes)
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        raise MxMalformed(f"not well-formed XML: {exc}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype:  # type: ignore[union-attr]
        raise MxDtdForbidden()
    namespace, _, local = _split(root.tag)
    name = namespace[len(NAMESPACE_PREFIX) :] if namespace.startswith(NAMESPACE_PREFIX) else ""
    if name not in message_names or local != "Document":
        raise MxWrongMessage(
            f"expected Document of {' or '.join(message_names)}, got {root.tag}", where="/"
        )
    children = list(root)
    if len(children) != 1 or children[0].tag != f"{{{namespace}}}{root_element}":
        raise MxWrongMessage(
            f"Document must hold exactly one {root_element}", where=f"/Document/{root_element}"
        )
    return children[0], namespace


def message_name(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Message name from the Document namespace, reading only as far as the root element.

    >>> message_name(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>')
    'pacs.008.001.08'
    """
    _screen(data, max_bytes)
    target = _RootTag()
    parser = etree.XMLParser(
        target=target,  # type: ignore[arg-type]
        resolve_entities=False, no_network=True, load_dtd=False,
        huge_tree=False, encoding="utf-8",
    )
    tag: str | None = None
    try:
        etree.fromstring(bytes(data), parser)
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


class Node:
    """An element with its children indexed by local name, and its XPath for errors."""

    __slots__ = ("_kids", "_name", "_parent", "_path", "element")

    def __init__(
        self, element: Element, path: str | None = None, parent: Node | None = None,
        name: str = "",
    ) -> None:
        self.element = element
        # The XPath is built only when an error needs it; parsing stays cheap.
        self._path = path
        self._parent = parent
        self._name = name
        self._kids: dict[str, list[Element]] | None = None

    @property
    def path(self) -> str:
        path = self._path
        if path is None:
            assert self._parent is not None
            path = self._path = f"{self._parent.path}/{self._name}"
        return path

    @property
    def kids(self) -> dict[str, list[Element]]:
        # Indexed on first use: most nodes are leaves whose children are never asked for.
        kids = self._kids
        if kids is None:
            kids = self._kids = {}
            for child in self.element:
                tag = child.tag
                if isinstance(tag, str):
                    kids.setdefault(tag[tag.find("}") + 1 :], []).append(child)
        return kids

    def child(self, name: str) -> Node:
        """The one required child `name`."""
        found = (self._kids if self._kids is not None else self.kids).get(name)
        if not found:
            raise MessageError(
                "MX_MISSING_ELEMENT", f"{name} is required", where=f"{self.path}/{name}"
            )
        if len(found) > 1:
            raise MessageError(
                "MX_BAD_VALUE", f"{name} occurs {len(found)} times", where=f"{self.path}/{name}"
            )
        return Node(found[0], None, self, name)

    def optional(self, name: str) -> Node | None:
        """The child `name` if present (at most once)."""
        if name not in self.kids:
            return None
        return self.child(name)

    def repeated(self, name: str) -> list[Node]:
        """Every child `name`, with 1-based XPath positions."""
        return [
            Node(element, None, self, f"{name}[{index}]")
            for index, element in enumerate(self.kids.get(name, ()), start=1)
        ]

    def text(self, name: str, check: Callable[[str, str], T]) -> T:
        """Text of the required child `name`, passed through `check(value, where)`."""
        return self.child(name).checked(check)

    def optional_text(self, name: str, check: Callable[[str, str], T]) -> T | None:
        node = self.optional(name)
        return None if node is None else node.checked(check)

    def checked(self, check: Callable[[str, str], T]) -> T:
        """Own text passed through `check`; the XPath is filled in only if it fails."""
        try:
            return check(self.own_text(), "")
        except MessageError as exc:
            if not exc.where:
                exc.where = self.path
            raise

    def own_text(self) -> str:
        if len(self.element):
            raise MessageError("MX_BAD_VALUE", "expected text, found elements", where=self.path)
        return self.element.text or ""

    def amount(self, name: str) -> tuple[int, str]:
        """(minor units, currency) of an amount child with a Ccy attribute."""
        node = self.child(name)
        currency = node.element.get("Ccy")
        if currency is None:
            raise MessageError("MX_MISSING_ELEMENT", "Ccy attribute is required", where=node.path)
        return parse_minor(node.own_text(), currency, node.path), currency


def parse_minor(text: str, currency: str, where: str) -> int:
    """Minor units of an amount element, errors naming the element."""
    try:
        return parse_amount(text, currency)
    except UnknownCurrency as exc:
        raise UnknownCurrency(currency, where=f"{where}/@Ccy", reason=exc.message) from None
    except BadAmount as exc:
        raise BadAmount(exc.message, where=where) from None


# ---------------------------------------------------------------- values (build and parse)


def escape(text: str) -> str:
    """Escape character data; a CR is kept as a reference because parsers normalise it to LF."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _bad(where: str, message: str) -> MessageError:
    return MessageError("MX_BAD_VALUE", message, where=where)


def text_check(max_length: int) -> Callable[[str, str], str]:
    """A check for MaxNText: 1..N characters, all of them representable in XML."""

    def check(value: str, where: str) -> str:
        if not isinstance(value, str):
            raise _bad(where, f"expected text, got {type(value).__name__}")
        if not 1 <= len(value) <= max_length:
            raise _bad(where, f"length {len(value)} outside 1..{max_length}")
        bad = _NOT_XML_CHAR.search(value)
        if bad is not None:
            raise _bad(where, f"character U+{ord(bad.group()):04X} cannot appear in XML")
        return value

    return check


def pattern_check(pattern: re.Pattern[str], what: str) -> Callable[[str, str], str]:
    """A check for an identifier with an XSD pattern."""

    def check(value: str, where: str) -> str:
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            raise _bad(where, f"{value!r} is not a valid {what}")
        return value

    return check


def code_check(codes: frozenset[str]) -> Callable[[str, str], str]:
    """A check for a closed code list (an XSD enumeration)."""

    def check(value: str, where: str) -> str:
        if value not in codes:
            raise _bad(where, f"{value!r} is not one of {', '.join(sorted(codes))}")
        return value

    return check


max35 = text_check(35)
max34 = text_check(34)
max70 = text_check(70)
max105 = text_check(105)
max140 = text_check(140)
max4 = text_check(4)  # external code lists (status, reason, purpose): 1..4 characters
bic = pattern_check(_BIC, "BICFI")
lei = pattern_check(_LEI, "LEI")
uetr = pattern_check(_UUID4, "UUIDv4 UETR")
country = pattern_check(_COUNTRY, "ISO 3166 country code")


def is_iban(account: str) -> bool:
    """True when `account` matches the IBAN pattern and its ISO 7064 mod-97 check digits.

    >>> is_iban("GB82WEST12345698765432"), is_iban("GB00WEST12345698765432")
    (True, False)
    """
    if _IBAN.fullmatch(account) is None:
        return False
    rearranged = account[4:] + account[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


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
    currency_check(currency, f"{where}/@Ccy")
    if type(minor) is not int or minor <= 0:
        raise BadAmount(f"amount must be a positive integer of minor units, got {minor!r}",
                        where=where)
    text = format_amount(minor, currency)
    if len(text) - ("." in text) > _MAX_TOTAL_DIGITS:
        raise BadAmount(f"{text} has more than {_MAX_TOTAL_DIGITS} digits", where=where)
    return text


def datetime_text(value: datetime.datetime, where: str) -> str:
    """xs:dateTime text of a tz-aware datetime."""
    if not isinstance(value, datetime.datetime):
        raise _bad(where, f"expected a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise _bad(where, "datetime must carry a time zone")
    if offset % datetime.timedelta(minutes=1) or abs(offset) > datetime.timedelta(hours=14):
        raise _bad(where, f"time zone offset {offset} is not expressible in xs:dateTime")
    return value.isoformat()


def parse_datetime(text: str, where: str) -> datetime.datetime:
    if _DATETIME.fullmatch(text) is None:
        raise _bad(where, f"{text!r} is not an ISO date-time with a time zone")
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise _bad(where, f"{text!r}: {exc}") from None


def date_text(value: datetime.date, where: str) -> str:
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise _bad(where, f"expected a date, got {type(value).__name__}")
    return value.isoformat()


def parse_date(text: str, where: str) -> datetime.date:
    if _DATE.fullmatch(text) is None:
        raise _bad(where, f"{text!r} is not an ISO date")
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise _bad(where, f"{text!r}: {exc}") from None


def tag(name: str, value: str) -> str:
    """`<name>escaped value</name>`."""
    return f"<{name}>{escape(value)}</{name}>"
