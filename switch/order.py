"""The payment order as a core system sends it, and the payment the switch makes of it.

Money is integer minor units of the currency (DESIGN.md invariant 5); no float anywhere.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

# Wider than any real amount (validation caps at 18 digits), narrow enough for every store.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Party(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A debtor or creditor: the account, its holder and the bank that keeps it."""

    account: str
    name: str
    agent: str  # CNAPS bank code (12 digits) for domestic channels, BIC for SWIFT
    country: str = "CN"
    lei: str | None = None  # CIPS wants the LEI of the party's bank where it has one


class Order(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A payment order; `client_order_id` is the client's idempotency key."""

    client_order_id: str
    amount: Int64  # minor units
    currency: str  # ISO 4217 alphabetic code
    debtor: Party
    creditor: Party
    product: str = "CT"
    business_type: str = "A100"
    requested_execution: str | None = None  # ISO date YYYY-MM-DD; None means now
    urgency: str = "normal"  # "normal" or "urgent"
    charge_bearer: str = "SHAR"  # DEBT / CRED / SHAR / SLEV
    purpose: str | None = None
    remittance_info: str | None = None
    designated_channel: str | None = None


class Payment(msgspec.Struct, kw_only=True):
    """What the switch keeps for one order: identifiers it assigned, state and route."""

    payment_id: str
    client_id: str
    order: Order
    state: str
    reason: str | None = None
    channel: str | None = None
    fee: int = 0  # minor units of the order currency, charged to the debtor
    end_to_end_id: str  # never changes once assigned; reused on any resubmission
    uetr: str  # UUID v4, never changes once assigned
    created_at: str  # ISO 8601 UTC, from the injected clock
    updated_at: str
