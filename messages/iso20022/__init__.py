"""ISO 20022 (MX) codecs: msgspec structs in, validated UTF-8 documents out, and back."""

from messages.iso20022._xml import message_name
from messages.iso20022.camt029 import (
    Camt029,
    CancellationStatus,
    build_camt029,
    parse_camt029,
)
from messages.iso20022.camt053 import (
    Balance,
    BankTransactionCode,
    Camt053,
    Entry,
    EntryTransaction,
    Statement,
    build_camt053,
    parse_camt053,
)
from messages.iso20022.camt054 import Camt054, Notification, build_camt054, parse_camt054
from messages.iso20022.camt056 import (
    Camt056,
    TransferCancellation,
    build_camt056,
    parse_camt056,
)
from messages.iso20022.head001 import (
    AppHeader,
    RelatedHeader,
    build_business_message,
    build_head001,
    parse_business_message,
    parse_head001,
)
from messages.iso20022.pacs002 import Pacs002, TxStatus, build_pacs002, parse_pacs002
from messages.iso20022.pacs004 import Pacs004, ReturnedTransfer, build_pacs004, parse_pacs004
from messages.iso20022.pacs008 import (
    Agent,
    Charge,
    CreditTransfer,
    NextAgentInstruction,
    Pacs008,
    PartyAccount,
    build_pacs008,
    parse_pacs008,
)
from messages.iso20022.pacs009 import (
    BankTransfer,
    Pacs009,
    UnderlyingCustomerTransfer,
    build_pacs009,
    parse_pacs009,
)
from messages.iso20022.pacs028 import StatusRequest, build_pacs028, parse_pacs028
from messages.iso20022.profiles import PROFILES, Profile, check_pacs008

__all__ = [
    "PROFILES",
    "Agent",
    "AppHeader",
    "Balance",
    "BankTransactionCode",
    "BankTransfer",
    "Camt029",
    "Camt053",
    "Camt054",
    "Camt056",
    "CancellationStatus",
    "Charge",
    "CreditTransfer",
    "Entry",
    "EntryTransaction",
    "NextAgentInstruction",
    "Notification",
    "Pacs002",
    "Pacs004",
    "Pacs008",
    "Pacs009",
    "PartyAccount",
    "Profile",
    "RelatedHeader",
    "ReturnedTransfer",
    "Statement",
    "StatusRequest",
    "TransferCancellation",
    "TxStatus",
    "UnderlyingCustomerTransfer",
    "build_business_message",
    "build_camt029",
    "build_camt053",
    "build_camt054",
    "build_camt056",
    "build_head001",
    "build_pacs002",
    "build_pacs004",
    "build_pacs008",
    "build_pacs009",
    "build_pacs028",
    "check_pacs008",
    "message_name",
    "parse_business_message",
    "parse_camt029",
    "parse_camt053",
    "parse_camt054",
    "parse_camt056",
    "parse_head001",
    "parse_pacs002",
    "parse_pacs004",
    "parse_pacs008",
    "parse_pacs009",
    "parse_pacs028",
]
