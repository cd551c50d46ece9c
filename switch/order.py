"""The payment order as a core system sends it, and the payment the switch makes of it.

Money is integer minor units of the currency (DESIGN.md invariant 5); no float anywhere.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

# Wider than any real amount (validation caps at 18 digits), narrow enough for every store.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
# No control characters in any text: they break stores (PostgreSQL refuses NUL), logs and
# every channel format, so they are refused when the frame is decoded.
Text = Annotated[str, msgspec.Meta(pattern=r"^[^\x00-\x1f\x7f]*$")]


class Party(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A debtor or creditor: the account, its holder and the bank that keeps it."""

    account: Text
    name: Text
    agent: Text  # CNAPS bank code (12 digits) for domestic channels, BIC for SWIFT
    country: Text = "CN"
    lei: Text | None = None  # CIPS wants the LEI of the party's bank where it has one


class Order(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A payment order; `client_order_id` is the client's idempotency key."""

    client_order_id: Text
    amount: Int64  # minor units
    currency: Text  # ISO 4217 alphabetic code
    debtor: Party
    creditor: Party
    product: Text = "CT"
    business_type: Text = "A100"
    requested_execution: Text | None = None  # ISO date YYYY-MM-DD; None means now
    urgency: Text = "normal"  # "normal" or "urgent"
    charge_bearer: Text = "SHAR"  # DEBT / CRED / SHAR / SLEV
    purpose: Text | None = None
    remittance_info: Text | None = None
    designated_channel: Text | None = None


class Payment(msgspec.Struct, kw_only=True):
    """What the switch keeps for one order: identifiers it assigned, state and route."""

    payment_id: str
    client_id: str
    order: Order
    state: str
    reason: str | None = None
    channel: str | None = None
    fee: int = 0  # minor units of the order currency, charged to the debtor
    business_date: str | None = None  # ISO date: the channel business day whose caps it holds
    end_to_end_id: str  # never changes once assigned; reused on any resubmission
    uetr: str  # UUID v4, never changes once assigned
    created_at: str  # ISO 8601 UTC, from the injected clock
    updated_at: str
    # When it is expected to move on (a batch window's close); kept in memory, not stored.
    expected_at: str | None = None
