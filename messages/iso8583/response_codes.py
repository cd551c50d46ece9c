"""UnionPay field 39 response codes as data: meaning, outcome and ISO 20022 reason code.

`outcome` is what the switch concludes about the payment: approved, rejected, or unknown (no
answer: reverse with 0400 and resolve). `retry` marks codes after which a later attempt may pass.

>>> RESPONSE_CODES["51"].reason, RESPONSE_CODES["94"].reason, RESPONSE_CODES["94"].alternate
('AM04', 'AM05', 'DUPL')
>>> RESPONSE_CODES["68"].outcome
'unknown'
>>> response_code_for(MacMismatch())
'A0'
"""

from __future__ import annotations

from typing import Literal, NamedTuple, cast

from messages.errors import MessageError
from messages.iso8583.errors import MacMismatch

__all__ = ["APPROVED", "RESPONSE_CODES", "ResponseCode", "response_code_for"]

Outcome = Literal["approved", "rejected", "unknown"]


class ResponseCode(NamedTuple):
    """One field 39 value."""

    code: str
    meaning: str
    outcome: Outcome
    reason: str | None
    alternate: str | None = None
    retry: bool = False


# code | outcome | ISO 20022 reason | alternate | retry | meaning
# 25: NOOR (no original transaction) is the camt.029 code; 05, A0 have no ISO 20022 match (MS03).
_TABLE = """
00 | approved | -    | -    | no  | approved
05 | rejected | AG01 | -    | no  | authentication failed
12 | rejected | AG01 | -    | no  | invalid transaction
13 | rejected | AM12 | -    | no  | invalid amount
14 | rejected | AC01 | -    | no  | invalid card number
25 | rejected | NOOR | -    | no  | original transaction not found
30 | rejected | FF01 | -    | no  | format error
51 | rejected | AM04 | -    | yes | insufficient funds
61 | rejected | AM02 | -    | no  | exceeds amount limit
68 | unknown  | AB05 | -    | no  | response received too late (timeout)
90 | rejected | TM01 | -    | yes | day switch (cut-off) in progress
91 | rejected | AB06 | -    | yes | issuer or switch unavailable
94 | rejected | AM05 | DUPL | no  | duplicate transmission
96 | rejected | MS03 | -    | yes | system malfunction
A0 | rejected | MS03 | -    | yes | MAC verification failed
"""


def _load(table: str) -> dict[str, ResponseCode]:
    rows: dict[str, ResponseCode] = {}
    for line in table.strip().splitlines():
        code, outcome, reason, alternate, retry, meaning = (c.strip() for c in line.split("|"))
        assert outcome in ("approved", "rejected", "unknown")
        rows[code] = ResponseCode(code, meaning, cast(Outcome, outcome),
                                  None if reason == "-" else reason,
                                  None if alternate == "-" else alternate, retry == "yes")
    return rows


RESPONSE_CODES: dict[str, ResponseCode] = _load(_TABLE)
APPROVED = "00"


def response_code_for(error: MessageError) -> str:
    """The field 39 code answering a request that failed with `error`: A0 for a bad MAC, else 30.

    >>> from messages.iso8583.errors import Iso8583Error
    >>> response_code_for(Iso8583Error("ISO8583_TRUNCATED", "short"))
    '30'
    """
    return error.response_code if isinstance(error, MacMismatch) else "30"
