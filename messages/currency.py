"""ISO 4217 currencies and the conversion of amounts between integer minor units and decimal text.

Money is integer minor units everywhere; this module is the only place that turns it into the
decimal text of a message and back, with the currency's exponent and without a float.

>>> exponent("CNY"), exponent("JPY"), exponent("BHD")
(2, 0, 3)
>>> format_amount(12345, "CNY")
'123.45'
>>> parse_amount("123.45", "CNY")
12345
"""

from __future__ import annotations

import re
from typing import NamedTuple

from messages.errors import BadAmount, UnknownCurrency

__all__ = ["CURRENCIES", "Currency", "exponent", "format_amount", "is_known", "parse_amount"]


class Currency(NamedTuple):
    """One row of the ISO 4217 list: numeric code and minor-unit exponent (None for "N.A.")."""

    numeric: str
    exponent: int | None


# ISO 4217 list one (active codes), as published by the maintenance agency (SIX), 2025 edition.
# Funds codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) are listed because they are active
# codes; metals, SDR-like units and test codes have no minor unit ("N.A.") and hold None.
# ANG and XCG share 532 while the Caribbean guilder replaces the Antillean guilder (2025).
_TABLE = """
AED 784 2|AFN 971 2|ALL 008 2|AMD 051 2|ANG 532 2|AOA 973 2|ARS 032 2|AUD 036 2|AWG 533 2
AZN 944 2|BAM 977 2|BBD 052 2|BDT 050 2|BGN 975 2|BHD 048 3|BIF 108 0|BMD 060 2|BND 096 2
BOB 068 2|BOV 984 2|BRL 986 2|BSD 044 2|BTN 064 2|BWP 072 2|BYN 933 2|BZD 084 2|CAD 124 2
CDF 976 2|CHE 947 2|CHF 756 2|CHW 948 2|CLF 990 4|CLP 152 0|CNY 156 2|COP 170 2|COU 970 2
CRC 188 2|CUC 931 2|CUP 192 2|CVE 132 2|CZK 203 2|DJF 262 0|DKK 208 2|DOP 214 2|DZD 012 2
EGP 818 2|ERN 232 2|ETB 230 2|EUR 978 2|FJD 242 2|FKP 238 2|GBP 826 2|GEL 981 2|GHS 936 2
GIP 292 2|GMD 270 2|GNF 324 0|GTQ 320 2|GYD 328 2|HKD 344 2|HNL 340 2|HTG 332 2|HUF 348 2
IDR 360 2|ILS 376 2|INR 356 2|IQD 368 3|IRR 364 2|ISK 352 0|JMD 388 2|JOD 400 3|JPY 392 0
KES 404 2|KGS 417 2|KHR 116 2|KMF 174 0|KPW 408 2|KRW 410 0|KWD 414 3|KYD 136 2|KZT 398 2
LAK 418 2|LBP 422 2|LKR 144 2|LRD 430 2|LSL 426 2|LYD 434 3|MAD 504 2|MDL 498 2|MGA 969 2
MKD 807 2|MMK 104 2|MNT 496 2|MOP 446 2|MRU 929 2|MUR 480 2|MVR 462 2|MWK 454 2|MXN 484 2
MXV 979 2|MYR 458 2|MZN 943 2|NAD 516 2|NGN 566 2|NIO 558 2|NOK 578 2|NPR 524 2|NZD 554 2
OMR 512 3|PAB 590 2|PEN 604 2|PGK 598 2|PHP 608 2|PKR 586 2|PLN 985 2|PYG 600 0|QAR 634 2
RON 946 2|RSD 941 2|RUB 643 2|RWF 646 0|SAR 682 2|SBD 090 2|SCR 690 2|SDG 938 2|SEK 752 2
SGD 702 2|SHP 654 2|SLE 925 2|SOS 706 2|SRD 968 2|SSP 728 2|STN 930 2|SVC 222 2|SYP 760 2
SZL 748 2|THB 764 2|TJS 972 2|TMT 934 2|TND 788 3|TOP 776 2|TRY 949 2|TTD 780 2|TWD 901 2
TZS 834 2|UAH 980 2|UGX 800 0|USD 840 2|USN 997 2|UYI 940 0|UYU 858 2|UYW 927 4|UZS 860 2
VED 926 2|VES 928 2|VND 704 0|VUV 548 0|WST 882 2|XAF 950 0|XCD 951 2|XCG 532 2|XOF 952 0
XPF 953 0|YER 886 2|ZAR 710 2|ZMW 967 2|ZWG 924 2
XAG 961 -|XAU 959 -|XBA 955 -|XBB 956 -|XBC 957 -|XBD 958 -|XDR 960 -|XPD 964 -|XPT 962 -
XSU 994 -|XTS 963 -|XUA 965 -|XXX 999 -
"""


def _load(table: str) -> dict[str, Currency]:
    rows: dict[str, Currency] = {}
    for cell in table.replace("\n", "|").split("|"):
        if not cell:
            continue
        alpha, numeric, minor = cell.split()
        rows[alpha] = Currency(numeric, None if minor == "-" else int(minor))
    return rows


CURRENCIES: dict[str, Currency] = _load(_TABLE)

# ISO 20022 decimal form as written in messages: no sign, no exponent, no bare leading/trailing dot.
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


def exponent(code: str) -> int:
    """Minor-unit exponent of an active currency that money can be counted in.

    >>> exponent("KWD")
    3
    >>> exponent("XAU")
    Traceback (most recent call last):
    ...
    messages.errors.UnknownCurrency: UNKNOWN_CURRENCY: XAU has no minor unit
    >>> exponent("cny")
    Traceback (most recent call last):
    ...
    messages.errors.UnknownCurrency: UNKNOWN_CURRENCY: unknown ISO 4217 currency code cny
    """
    row = CURRENCIES.get(code)
    if row is None:
        raise UnknownCurrency(code)
    if row.exponent is None:
        raise UnknownCurrency(code, reason=f"{code} has no minor unit")
    return row.exponent


def is_known(code: str) -> bool:
    """True for an active ISO 4217 code with a minor unit (usable for payment amounts).

    >>> is_known("CNY"), is_known("XAU"), is_known("HRK")
    (True, False, False)
    """
    row = CURRENCIES.get(code)
    return row is not None and row.exponent is not None


def format_amount(minor: int, currency: str) -> str:
    """Decimal text of an amount in minor units, with exactly the currency's decimals.

    >>> format_amount(12345, "CNY"), format_amount(100, "JPY"), format_amount(5, "BHD")
    ('123.45', '100', '0.005')
    >>> format_amount(-1, "CNY")
    Traceback (most recent call last):
    ...
    messages.errors.BadAmount: BAD_AMOUNT: negative amount -1
    """
    exp = exponent(currency)
    # bool is an int subclass and a float is never money: both are refused.
    if type(minor) is not int:
        raise BadAmount(f"amount must be integer minor units, got {type(minor).__name__}")
    if minor < 0:
        raise BadAmount(f"negative amount {minor}")
    if exp == 0:
        return str(minor)
    digits = str(minor).rjust(exp + 1, "0")
    return f"{digits[:-exp]}.{digits[-exp:]}"


def parse_amount(text: str, currency: str) -> int:
    """Integer minor units of a decimal amount with at most the currency's decimals.

    >>> parse_amount("123.4", "CNY"), parse_amount("100", "JPY"), parse_amount("0.005", "BHD")
    (12340, 100, 5)
    >>> parse_amount("1.005", "CNY")
    Traceback (most recent call last):
    ...
    messages.errors.BadAmount: BAD_AMOUNT: '1.005' has more than 2 decimals for CNY
    >>> parse_amount("1e3", "CNY")
    Traceback (most recent call last):
    ...
    messages.errors.BadAmount: BAD_AMOUNT: '1e3' is not a decimal amount
    """
    exp = exponent(currency)
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise BadAmount(f"{text!r} is not a decimal amount")
    units, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > exp:
        raise BadAmount(f"{text!r} has more than {exp} decimals for {currency}")
    return int(units + fraction.ljust(exp, "0"))
