"""What a translation returns: the translated message and every piece of data it could not carry.

>>> loss = DataLoss(field="70", element="RmtInf/Ustrd", lost="text after 140 characters",
...                 rule=RULE_TRUNCATE)
>>> str(loss).startswith("70 <-> RmtInf/Ustrd: text after 140 characters")
True
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from messages.errors import MessageError

__all__ = [
    "RULE_AMBIGUOUS",
    "RULE_CHARSET",
    "RULE_LINE_BREAKS",
    "RULE_LINE_START",
    "RULE_NOT_VALID_MX",
    "RULE_NO_CODE",
    "RULE_NO_ELEMENT",
    "RULE_NO_FIELD",
    "RULE_TRUNCATE",
    "RULE_TRUNCATE_MX",
    "DataLoss",
    "Translation",
    "TranslationError",
]

M = TypeVar("M")

# The CBPR+ translation rules a loss cites; stable texts so callers may group by them.
RULE_TRUNCATE = "CBPR+ truncation: cut to the MT field size, last character replaced by '+'"
RULE_TRUNCATE_MX = "CBPR+ truncation: cut to the MX element size, last character replaced by '+'"
RULE_CHARSET = "CBPR+ character set: UTF-8 to SWIFT X set, untranslatable characters as '.'"
RULE_LINE_START = "SWIFT FIN: a line may not start with ':' or '-' (a name line not with '/');"\
    " replaced by '.'"
RULE_LINE_BREAKS = "CBPR+: field 72 travels instruction by instruction (a /code/ line and its"\
    " // continuations joined); its line breaks do not"
RULE_NO_CODE = "SWIFT FIN: a field 72 instruction starts with a /code/; /REC/ written before it"
RULE_AMBIGUOUS = "SWIFT FIN: the value would read back as something else; not translated"
RULE_NOT_VALID_MX = "ISO 20022: the value is not valid in the MX element; not translated"
RULE_NO_FIELD = "CBPR+: no MT field carries this element; not translated"
RULE_NO_ELEMENT = "payswitch MX model: no element carries this MT field; not translated"


class DataLoss(msgspec.Struct, frozen=True, kw_only=True):
    """One piece of data not carried over: the MT `field` tag, the MX `element` (XPath below
    /Document), what was `lost`, and the `rule` that dropped or changed it."""

    field: str
    element: str
    lost: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field} <-> {self.element}: {self.lost} [{self.rule}]"


class Translation(msgspec.Struct, Generic[M], frozen=True):
    """The translated `message` and the data-loss `warnings` (empty when nothing was lost)."""

    message: M
    warnings: tuple[DataLoss, ...] = ()


class TranslationError(MessageError):
    """The message cannot be translated at all (unsupported type, a mandatory value missing or
    too large for the other format); `where` names the field or element."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__("TRANSLATE_FAILED", message, where=where)
