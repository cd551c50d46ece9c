"""UTF-8 text to the SWIFT X character set, explicitly: every changed character is reported.

Common Latin letters with diacritics are transliterated through a table (é -> e, ß -> ss);
anything else outside the X set becomes '.'.

>>> to_x("Café Müller & Söhne")
('Cafe Muller . Sohne', (('é', 'e'), ('ü', 'u'), ('&', '.'), ('ö', 'o')))
>>> to_x("张三")
('..', (('张', '.'), ('三', '.')))
>>> is_x("PAYMENT 1/2")
True
"""

from __future__ import annotations

import string
import unicodedata

__all__ = ["TRANSLITERATION", "X_CHARACTERS", "is_x", "to_x"]

X_CHARACTERS = frozenset(string.ascii_letters + string.digits + "/-?:().,'+ ")

# Letters that do not decompose into a base letter and combining marks (NFD handles the rest).
TRANSLITERATION: dict[str, str] = {
    "ß": "ss", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ø": "O", "ø": "o", "Ð": "D",
    "ð": "d", "Đ": "D", "đ": "d", "Þ": "TH", "þ": "th", "Ł": "L", "ł": "l", "Ħ": "H",
    "ħ": "h", "ı": "i", "Ŀ": "L", "ŀ": "l", "ŉ": "n", "Ŋ": "N", "ŋ": "n", "ĸ": "k",
    "ſ": "s", "Ŧ": "T", "ŧ": "t", "‘": "'", "’": "'", "‚": ",", "–": "-", "—": "-",
}
_LATIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _transliterate(char: str) -> str | None:
    """The X-set spelling of a Latin letter with diacritics, or None."""
    mapped = TRANSLITERATION.get(char)
    if mapped is not None:
        return mapped
    base = unicodedata.normalize("NFD", char)
    if len(base) > 1 and base[0] in _LATIN and all(unicodedata.combining(c) for c in base[1:]):
        return base[0]
    return None


def is_x(text: str) -> bool:
    """True when every character of `text` is in the X set."""
    return all(char in X_CHARACTERS for char in text)


def to_x(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """`text` in the X set, and each (original, replacement) made, in order."""
    if is_x(text):
        return text, ()
    out: list[str] = []
    changes: list[tuple[str, str]] = []
    for char in text:
        if char in X_CHARACTERS:
            out.append(char)
            continue
        replacement = _transliterate(char) or "."
        out.append(replacement)
        changes.append((char, replacement))
    return "".join(out), tuple(changes)
