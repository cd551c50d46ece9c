"""Typed SWIFT MT messages: one msgspec Struct per message type, amounts in integer minor units.

Attribute names match the ``MESSAGE_SPECS`` entries; the envelope (blocks 1, 2, 3 and 5) is shared.
Two-digit years are read as 20YY.
"""

from __future__ import annotations

import datetime
from typing import ClassVar

import msgspec

__all__ = [
    "MT103",
    "MT192",
    "MT196",
    "MT199",
    "MT202",
    "MT202COV",
    "MT900",
    "MT910",
    "MT940",
    "MT950",
    "Balance",
    "Envelope",
    "MTMessage",
    "Money",
    "Party",
    "StatementLine",
    "UserHeader",
]


class Party(msgspec.Struct, frozen=True, kw_only=True):
    """A party or institution field (50a, 52a..59a, 25a); ``option`` is the tag letter.

    ``account`` is the /34x party identifier (50F: the 35x identifier, 25: the account),
    ``mark`` the optional /D or /C before it, ``lines`` name and address (B: the location).
    """

    option: str = ""
    mark: str | None = None
    account: str | None = None
    bic: str | None = None
    lines: tuple[str, ...] = ()


class Money(msgspec.Struct, frozen=True):
    """A currency and an amount in its minor units (33B, 71F, 71G)."""

    currency: str
    amount: int


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """A statement balance (60a, 62a, 64, 65); ``mark`` is C or D, ``option`` the tag letter."""

    mark: str
    date: datetime.date
    currency: str
    amount: int
    option: str = ""


class StatementLine(msgspec.Struct, frozen=True, kw_only=True):
    """One :61: statement line (with its :86: information in an MT940).

    ``mark`` is C, D, RC or RD; ``transaction_type`` the 4 characters such as ``NTRF``;
    ``entry_date`` the optional MMDD; the amount is in the statement currency's minor units.
    """

    value_date: datetime.date
    mark: str
    amount: int
    transaction_type: str
    customer_ref: str
    entry_date: str | None = None
    funds_code: str | None = None
    bank_ref: str | None = None
    details: str | None = None
    info: tuple[str, ...] | None = None


class UserHeader(msgspec.Struct, frozen=True, kw_only=True):
    """Block 3 fields other than 121 (which is ``MTMessage.uetr``)."""

    service_id: str | None = None  # 103
    banking_priority: str | None = None  # 113
    mur: str | None = None  # 108
    validation_flag: str | None = None  # 119 (STP, REMIT; COV is implied by MT202COV)
    service_type: str | None = None  # 111
    addressee_info: str | None = None  # 115


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Blocks 1, 2, 3 (less 121) and 5. ``sender``/``receiver`` are 12-character addresses.

    Input (``direction`` "I"): block 1 holds the sender, block 2 the receiver. Output ("O"):
    block 1 holds the receiver, and block 2 the input time, the MIR (date, sender, session,
    sequence) and the output date and time.
    """

    sender: str
    receiver: str
    direction: str = "I"
    session: str = "0000"
    sequence: str = "000000"
    priority: str | None = None
    delivery_monitoring: str | None = None
    obsolescence: str | None = None
    input_time: str | None = None
    mir_date: str | None = None
    mir_session: str | None = None
    mir_sequence: str | None = None
    output_date: str | None = None
    output_time: str | None = None
    user_header: UserHeader = msgspec.field(default_factory=UserHeader)
    trailer: tuple[tuple[str, str], ...] = ()


class MTMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the typed messages; ``uetr`` is block 3 field 121."""

    MESSAGE_TYPE: ClassVar[str] = ""
    UETR_REQUIRED: ClassVar[bool] = False

    envelope: Envelope
    uetr: str | None = None


class MT103(MTMessage, frozen=True, kw_only=True):
    """Single customer credit transfer."""

    MESSAGE_TYPE: ClassVar[str] = "103"
    UETR_REQUIRED: ClassVar[bool] = True

    sender_ref: str
    bank_operation_code: str
    value_date: datetime.date
    currency: str
    amount: int
    ordering_customer: Party
    beneficiary: Party
    charges: str
    time_indications: tuple[str, ...] = ()
    instruction_codes: tuple[str, ...] = ()
    transaction_type: str | None = None
    instructed_amount: Money | None = None
    exchange_rate: str | None = None
    sending_institution: Party | None = None
    ordering_institution: Party | None = None
    senders_correspondent: Party | None = None
    receivers_correspondent: Party | None = None
    third_reimbursement_institution: Party | None = None
    intermediary: Party | None = None
    account_with_institution: Party | None = None
    remittance_info: tuple[str, ...] | None = None
    sender_charges: tuple[Money, ...] = ()
    receiver_charges: Money | None = None
    sender_to_receiver_info: tuple[str, ...] | None = None
    regulatory_reporting: tuple[str, ...] | None = None


class MT202(MTMessage, frozen=True, kw_only=True):
    """General financial institution transfer."""

    MESSAGE_TYPE: ClassVar[str] = "202"
    UETR_REQUIRED: ClassVar[bool] = True

    sender_ref: str
    related_ref: str
    value_date: datetime.date
    currency: str
    amount: int
    beneficiary_institution: Party
    time_indications: tuple[str, ...] = ()
    ordering_institution: Party | None = None
    senders_correspondent: Party | None = None
    receivers_correspondent: Party | None = None
    intermediary: Party | None = None
    account_with_institution: Party | None = None
    sender_to_receiver_info: tuple[str, ...] | None = None


class MT202COV(MT202, frozen=True, kw_only=True):
    """MT202 with sequence B, the underlying customer credit transfer (block 3 119:COV)."""

    MESSAGE_TYPE: ClassVar[str] = "202COV"

    underlying_ordering_customer: Party
    underlying_beneficiary: Party
    underlying_ordering_institution: Party | None = None
    underlying_intermediary: Party | None = None
    underlying_account_with_institution: Party | None = None
    underlying_remittance_info: tuple[str, ...] | None = None
    underlying_sender_to_receiver_info: tuple[str, ...] | None = None
    underlying_instructed_amount: Money | None = None


class MT199(MTMessage, frozen=True, kw_only=True):
    """Free format message (gpi confirmations travel as MT199)."""

    MESSAGE_TYPE: ClassVar[str] = "199"

    sender_ref: str
    narrative: tuple[str, ...]
    related_ref: str | None = None


class MT192(MTMessage, frozen=True, kw_only=True):
    """Request for cancellation; ``original_message`` is 11S (MT, date[, session, ISN])."""

    MESSAGE_TYPE: ClassVar[str] = "192"

    sender_ref: str
    related_ref: str
    original_message: tuple[str, ...]
    narrative: tuple[str, ...] | None = None


class MT196(MTMessage, frozen=True, kw_only=True):
    """Answers; ``original_message`` is 11R or 11S (``original_message_option``) as lines."""

    MESSAGE_TYPE: ClassVar[str] = "196"

    sender_ref: str
    related_ref: str
    answers: tuple[str, ...]
    narrative_answer: tuple[str, ...] | None = None
    original_message: tuple[str, ...] | None = None
    original_message_option: str | None = None
    narrative: tuple[str, ...] | None = None


class MT900(MTMessage, frozen=True, kw_only=True):
    """Confirmation of debit."""

    MESSAGE_TYPE: ClassVar[str] = "900"

    sender_ref: str
    related_ref: str
    account: Party
    value_date: datetime.date
    currency: str
    amount: int
    debit_time: str | None = None
    ordering_institution: Party | None = None
    sender_to_receiver_info: tuple[str, ...] | None = None


class MT910(MTMessage, frozen=True, kw_only=True):
    """Confirmation of credit."""

    MESSAGE_TYPE: ClassVar[str] = "910"

    sender_ref: str
    related_ref: str
    account: Party
    value_date: datetime.date
    currency: str
    amount: int
    credit_time: str | None = None
    ordering_customer: Party | None = None
    ordering_institution: Party | None = None
    intermediary: Party | None = None
    sender_to_receiver_info: tuple[str, ...] | None = None


class MT940(MTMessage, frozen=True, kw_only=True):
    """Customer statement."""

    MESSAGE_TYPE: ClassVar[str] = "940"

    sender_ref: str
    account: Party
    statement_number: str
    opening_balance: Balance
    closing_balance: Balance
    related_ref: str | None = None
    entries: tuple[StatementLine, ...] = ()
    closing_available_balance: Balance | None = None
    forward_available_balances: tuple[Balance, ...] = ()
    information: tuple[str, ...] | None = None


class MT950(MTMessage, frozen=True, kw_only=True):
    """Statement message (nostro reconciliation)."""

    MESSAGE_TYPE: ClassVar[str] = "950"

    sender_ref: str
    account: Party
    statement_number: str
    opening_balance: Balance
    closing_balance: Balance
    entries: tuple[StatementLine, ...] = ()
    closing_available_balance: Balance | None = None
