"""Legal Entity Identifiers (ISO 17442): 18 alphanumeric characters and two check digits.

The check digits follow ISO 7064 MOD 97-10, as in an IBAN: with letters read as numbers
(A = 10 ... Z = 35) the whole identifier, taken as one number, leaves 1 when divided by 97.
They are made as 98 minus (prefix followed by 00) mod 97, so they always lie in 02..98.

>>> is_lei("5493001KJTIIGC8Y1R12")
True
>>> is_lei("5493001KJTIIGC8Y1R13"), is_lei("5493001KJTIIGC8Y1R1")
(False, False)
>>> with_check_digits("5493001KJTIIGC8Y1R")
'5493001KJTIIGC8Y1R12'
"""

from __future__ import annotations

import re

__all__ = ["is_lei", "with_check_digits"]

_LEI = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
_PREFIX = re.compile(r"[A-Z0-9]{18}")


def _number(text: str) -> int:
    return int("".join(str(int(char, 36)) for char in text))


def is_lei(value: object) -> bool:
    """True when ``value`` is an LEI: the ISO 17442 layout and valid MOD 97-10 check digits."""
    if not isinstance(value, str) or _LEI.fullmatch(value) is None:
        return False
    return 2 <= int(value[18:]) <= 98 and _number(value) % 97 == 1


def with_check_digits(prefix: str) -> str:
    """The LEI made of an 18-character ``prefix`` and the check digits it calls for."""
    if _PREFIX.fullmatch(prefix) is None:
        raise ValueError(f"{prefix!r} is not 18 characters A-Z or 0-9")
    return f"{prefix}{98 - _number(prefix + '00') % 97:02d}"
