"""camt.054.001.08 BankToCustomerDebitCreditNotification: entries booked on an account as they
happen (the MX counterpart of MT900/MT910). Entries are those of camt.053 (`_entries`).

>>> import datetime
>>> credit = Entry(100, "JPY", "CRDT", booking_date=datetime.date(2024, 5, 6),
...     transactions=(EntryTransaction(uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f"),))
>>> msg = Camt054(msg_id="N-1", notifications=(
...     Notification(id="NTF-1", account="6222020200000001", entries=(credit,)),),
...     created_at=datetime.datetime(2024, 5, 6, 10, 0, tzinfo=datetime.timezone.utc))
>>> b'<Amt Ccy="JPY">100</Amt><CdtDbtInd>CRDT</CdtDbtInd>' in build_camt054(msg)
True
>>> parse_camt054(build_camt054(msg)) == msg
True
"""

from __future__ import annotations

import datetime

import msgspec

from messages.iso20022 import _xml
from messages.iso20022._entries import (
    Entry,
    EntryReader,
    EntryTransaction,
    document_xml,
    entries_xml,
    report_head_xml,
)
from messages.iso20022._xml import Element, kids
from messages.iso20022.pacs008 import Agent

__all__ = [
    "MESSAGE_NAME",
    "Camt054",
    "Entry",
    "EntryTransaction",
    "Notification",
    "build_camt054",
    "parse_camt054",
]

MESSAGE_NAME = "camt.054.001.08"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "BkToCstmrDbtCdtNtfctn"
_PATH = f"/Document/{_ROOT}"
_HEAD = _PATH + "/GrpHdr"
_T = _xml.Tags(NAMESPACE, "GrpHdr MsgId CreDtTm Ntfctn AddtlNtfctnInf")
_READ = EntryReader(NAMESPACE)


class Notification(msgspec.Struct, frozen=True):
    """One Ntfctn: the account and the entries it reports (usually one).

    Pagination, period and account details as for `camt053.Statement`.
    """

    id: str
    account: str
    entries: tuple[Entry, ...] = ()
    account_currency: str | None = None
    account_name: str | None = None
    account_servicer: Agent | None = None
    sequence_number: int | None = None
    page_number: int | None = None
    last_page: bool = True
    created_at: datetime.datetime | None = None
    from_time: datetime.datetime | None = None
    to_time: datetime.datetime | None = None
    additional_info: str | None = None


class Camt054(msgspec.Struct, frozen=True):
    """The message: group header and its notifications (at least one)."""

    msg_id: str
    created_at: datetime.datetime
    notifications: tuple[Notification, ...]


def _notification_xml(notification: Notification, where: str) -> str:
    head, account = report_head_xml(notification, "NtfctnPgntn", where)
    info = "" if notification.additional_info is None else \
        "<AddtlNtfctnInf>" \
        f"{_xml.max500_xml(notification.additional_info, where, '/AddtlNtfctnInf')}" \
        "</AddtlNtfctnInf>"
    return f"<Ntfctn>{head}{account}{entries_xml(notification.entries, where)}{info}</Ntfctn>"


def build_camt054(msg: Camt054) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    return document_xml(NAMESPACE, _ROOT, msg.msg_id, msg.created_at, msg.notifications,
                        "Ntfctn", "notification", _notification_xml)


def _parse_notification(element: Element, where: str) -> Notification:
    node = kids(element)
    head = _READ.head(node, "NtfctnPgntn", where)
    return Notification(
        **head._asdict(),
        entries=_READ.entries(node, where),
        additional_info=_xml.optional_text(node, _T.AddtlNtfctnInf, _xml.max500, where),
    )


def parse_camt054(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Camt054:
    """Parse a camt.054.001.08 document (hardened; see `messages.iso20022._xml`)."""
    msg_id, created_at, notifications = _READ.document(data, _ROOT, MESSAGE_NAME, "Ntfctn",
                                                       _parse_notification, max_bytes)
    return Camt054(msg_id=msg_id, created_at=created_at, notifications=notifications)
