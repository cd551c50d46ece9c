"""Intake validation of payment orders: each failure names an ISO 20022 reason code.

A failing order is still recorded (REJECTED with the code), never dropped (DESIGN.md inv. 3).
"""

from __future__ import annotations

import re
from datetime import date

from messages.currency import is_known
from switch.order import Order, Party

MAX_AMOUNT = 10**18 - 1  # ISO 20022 amounts carry at most 18 digits
CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_./:]{0,34}")
ACCOUNT = re.compile(r"[A-Za-z0-9]{1,34}")
CNAPS_CODE = re.compile(r"\d{12}")
BIC = re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?")
COUNTRY = re.compile(r"[A-Z]{2}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
CHARGE_BEARERS = frozenset({"DEBT", "CRED", "SHAR", "SLEV"})
URGENCIES = frozenset({"normal", "urgent"})


class Invalid(Exception):
    """An order the switch refuses at intake: `code` is an ISO 20022 reason code."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(f"{code} {field}: {message}")
        self.code = code
        self.field = field


def valid_client_order_id(value: str) -> bool:
    """The idempotency key's form: 1-35 characters that survive every channel's format.

    >>> valid_client_order_id("ORD-2026-000001"), valid_client_order_id("has space")
    (True, False)
    """
    return CLIENT_ORDER_ID.fullmatch(value) is not None


def validate_order(order: Order) -> None:
    """Raise Invalid for the first problem found; return quietly for a well-formed order."""
    if order.amount == 0:
        raise Invalid("AM01", "amount", "amount is zero")
    if order.amount < 0 or order.amount > MAX_AMOUNT:
        raise Invalid("AM12", "amount", f"amount {order.amount} out of range")
    if not is_known(order.currency):
        raise Invalid("AM03", "currency", f"{order.currency!r} is not an ISO 4217 currency")
    _party(order.debtor, "debtor", account_code="AC02", name_code="RR02")
    _party(order.creditor, "creditor", account_code="AC03", name_code="RR03")
    if order.charge_bearer not in CHARGE_BEARERS:
        raise Invalid("FF01", "charge_bearer", f"{order.charge_bearer!r}: DEBT/CRED/SHAR/SLEV")
    if order.urgency not in URGENCIES:
        raise Invalid("FF01", "urgency", f"{order.urgency!r} not normal or urgent")
    if order.requested_execution is not None:
        try:
            # fromisoformat also takes 20260315 and 2026-W11-1; channels want YYYY-MM-DD only.
            if ISO_DATE.fullmatch(order.requested_execution) is None:
                raise ValueError(order.requested_execution)
            date.fromisoformat(order.requested_execution)
        except ValueError:
            raise Invalid(
                "DT01", "requested_execution", f"{order.requested_execution!r} is not YYYY-MM-DD"
            ) from None
    if order.remittance_info is not None and len(order.remittance_info) > 140:
        raise Invalid("FF01", "remittance_info", "longer than 140 characters")
    if order.purpose is not None and not re.fullmatch(r"[A-Z0-9]{1,4}", order.purpose):
        raise Invalid("FF01", "purpose", "must be an ISO external purpose code of up to 4")


def _party(party: Party, role: str, *, account_code: str, name_code: str) -> None:
    if ACCOUNT.fullmatch(party.account) is None:
        raise Invalid(account_code, f"{role}.account", "1-34 letters or digits expected")
    if not party.name.strip() or len(party.name) > 140:
        raise Invalid(name_code, f"{role}.name", "1-140 characters expected")
    if CNAPS_CODE.fullmatch(party.agent) is None and BIC.fullmatch(party.agent) is None:
        raise Invalid("RC01", f"{role}.agent", f"{party.agent!r} is neither a CNAPS code nor a BIC")
    if COUNTRY.fullmatch(party.country) is None:
        # BE09: ISO 20022 "country code missing or invalid".
        raise Invalid("BE09", f"{role}.country", "ISO 3166 two-letter code expected")
    if party.lei is not None and re.fullmatch(r"[A-Z0-9]{18}[0-9]{2}", party.lei) is None:
        raise Invalid("RC01", f"{role}.lei", "20-character LEI expected")
