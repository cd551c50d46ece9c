"""ISO 20022 (MX) codecs: msgspec structs in, validated UTF-8 documents out, and back."""

from messages.iso20022._xml import message_name
from messages.iso20022.pacs002 import Pacs002, TxStatus, build_pacs002, parse_pacs002
from messages.iso20022.pacs008 import (
    Agent,
    CreditTransfer,
    Pacs008,
    PartyAccount,
    build_pacs008,
    parse_pacs008,
)
from messages.iso20022.pacs028 import StatusRequest, build_pacs028, parse_pacs028

__all__ = [
    "Agent",
    "CreditTransfer",
    "Pacs002",
    "Pacs008",
    "PartyAccount",
    "StatusRequest",
    "TxStatus",
    "build_pacs002",
    "build_pacs008",
    "build_pacs028",
    "message_name",
    "parse_pacs002",
    "parse_pacs008",
    "parse_pacs028",
]
