"""The collector of data losses, and the text fitting (charset, truncation, line rules) that
feeds it: every change to a value goes through here, so none is silent."""

from __future__ import annotations

import re

from messages.translate._model import (
    RULE_CHARSET,
    RULE_LINE_START,
    RULE_NO_ELEMENT,
    RULE_NO_FIELD,
    RULE_TRUNCATE,
    DataLoss,
)
from messages.translate.charset import to_x

BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")  # MT 4!a2!a2!c[3!c]; MX
# BICFI also allows digits in the first four characters, which an MT field cannot hold
COUNTRY = re.compile(r"[A-Z]{2}")


def cut(value: str, width: int) -> str:
    """`value` cut to `width` characters, the last one '+' when anything was cut."""
    return value if len(value) <= width else value[: width - 1] + "+"


def wrap(text: str, width: int) -> list[str]:
    """`text` cut into lines of `width` (no word wrap: CBPR+ concatenates lines back)."""
    return [text[i:i + width] for i in range(0, len(text), width)]


class Losses:
    """Collects the `DataLoss` records of one translation."""

    def __init__(self) -> None:
        self.items: list[DataLoss] = []

    def add(self, field: str, element: str, lost: str, rule: str) -> None:
        self.items.append(DataLoss(field=field, element=element, lost=lost, rule=rule))

    def no_field(self, field: str, element: str, value: object) -> None:
        """An MX element that no MT field carries."""
        self.add(field, element, f"{value!r}", RULE_NO_FIELD)

    def no_element(self, field: str, element: str, value: object) -> None:
        """An MT field that the MX model has no element for."""
        self.add(field, element, f"{value!r}", RULE_NO_ELEMENT)

    def x(self, value: str, field: str, element: str) -> str:
        """`value` in the X set; each replaced character a loss."""
        converted, changes = to_x(value)
        for original, replacement in changes:
            self.add(field, element, f"character {original!r} written as {replacement!r}",
                     RULE_CHARSET)
        return converted

    def fit(self, value: str, width: int, field: str, element: str) -> str:
        """`value` in the X set and at most `width` long (cut with '+')."""
        value = self.x(value, field, element)
        if len(value) > width:
            self.add(field, element, f"{value[width - 1:]!r} after {width - 1} characters",
                     RULE_TRUNCATE)
            return cut(value, width)
        return value

    def line(self, value: str, field: str, element: str, avoid: str = ":-") -> str:
        """A field line that may not begin with ':' or '-' (FIN reads a new field or the end),
        nor with any other character of `avoid` ('/' on a name line reads as an account)."""
        if value[:1] and value[0] in avoid:
            self.add(field, element, f"leading {value[0]!r} written as '.'", RULE_LINE_START)
            return "." + value[1:]
        return value

    def lines(self, text: str, count: int, width: int, field: str,
              element: str) -> tuple[str, ...]:
        """`text` as at most `count` lines of `width` (CBPR+: the last kept line ends in '+')."""
        text = self.x(text, field, element)
        chunks = wrap(text, width)
        if len(chunks) > count:
            dropped = "".join(chunks[count:])
            self.add(field, element,
                     f"{chunks[count - 1][-1] + dropped!r} beyond {count} lines of {width}",
                     RULE_TRUNCATE)
            chunks = chunks[:count]
            chunks[-1] = chunks[-1][:-1] + "+"
        return tuple(self.line(chunk, field, element) for chunk in chunks)

    def reference(self, value: str, field: str, element: str) -> str:
        """A 16x reference: X set, no leading/trailing '/', no '//', cut with '+'."""
        fitted = self.fit(value, 16, field, element)
        cleaned = fitted.replace("//", "/.")
        if cleaned.startswith("/"):
            cleaned = "." + cleaned[1:]
        if cleaned.endswith("/"):
            cleaned = cleaned[:-1] + "."
        if cleaned != fitted:
            self.add(field, element, "'/' at an end or doubled written as '.'", RULE_CHARSET)
        return cleaned
