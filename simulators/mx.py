"""An ISO 20022 clearing channel as the switch sees it over a 4-byte framed link.

This is what IBPS, HVPS, BEPS and CIPS have in common (each module adds its own rules):

- pacs.008: every transaction is checked and then handled by the channel (`accept`): settled
  at once, queued, or held for a session. The reply is a pacs.002 per message. An end-to-end
  id seen before with identical content is a resend: not booked again, answered with the
  item's current status; with different content it is RJCT AM05.
- pacs.028 (status inquiry): a pacs.002 with each item's current status. **Convention:** an
  end-to-end id never received is answered RJCT with reason ``NARR`` and AddtlInf
  ``NOT_FOUND``; adapters map that to "the channel never got it".
- Later changes of an item (a queued item settles, a session settles a package, an item is
  returned) reach the sender as unsolicited pacs.002 / pacs.004, held while it is offline.
- Unparseable input: a pacs.002 RJCT FF01 (group status RJCT, end-to-end id ``NOTPROVIDED``)
  when the message id can be read, otherwise the connection is closed.
- A reject fault's code goes out as an ISO code (Cd) when it is one, else as the channel's
  native code (Prtry), which adapters map through their table.
- Statements are camt.053.001.08 of the participant's settlement account.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import ClassVar

from messages.channel_framing import FRAMING
from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    Balance,
    BankTransactionCode,
    Camt053,
    CreditTransfer,
    Entry,
    EntryTransaction,
    Pacs002,
    Pacs004,
    Pacs008,
    ReturnedTransfer,
    Statement,
    TxStatus,
    build_camt053,
    build_pacs002,
    build_pacs004,
    message_name,
    parse_pacs008,
    parse_pacs028,
)
from simulators.base import ChannelSimulator
from simulators.books import ItemState, SimItem, StatementData, StatementLine
from simulators.faults import FaultAction, FaultDecision
from simulators.link import SimLink

__all__ = ["CNAPS_CODE", "ISO_REASONS", "NOT_FOUND", "MxSimulator"]

log = logging.getLogger("payswitch.simulators")

NOT_FOUND = "NOT_FOUND"
_NOT_PROVIDED = "NOTPROVIDED"  # ISO placeholder when a reject cannot name the transaction
_NO_FAULT = FaultDecision(FaultAction.NONE)
_MSG_ID = re.compile(rb"<(?:\w+:)?MsgId>([^<]{1,35})</(?:\w+:)?MsgId>")
CNAPS_CODE = re.compile(r"\d{12}")

# The ISO 20022 external status reason codes the simulators emit (CHANNELS.md), plus AM03 and
# RC03/RC04 (debtor / creditor agent identifier invalid or missing: CIPS's LEI checks).
ISO_REASONS = frozenset({
    "AC01", "AC03", "AC04", "AC06", "AG01", "AM02", "AM03", "AM04", "AM05", "DUPL", "BE04",
    "RC01", "RC03", "RC04", "RR01", "RR02", "RR03", "RR04", "FF01", "TM01", "AB05", "AB06",
    "FOCR", "NARR", "MS03",
})


class MxSimulator(ChannelSimulator):
    framing = FRAMING
    clearing_system: ClassVar[str] = "CNAPS"

    # -- the channel's rules (override) ------------------------------------------------------

    def check(self, item: SimItem) -> str | None:
        """The ISO reason the channel refuses the item with, or None when it takes it."""
        if item.currency != self.config.currency:
            return "AM03"
        if item.debtor_agent not in self.books.participants:
            return "RC01"
        if item.creditor_account in self.config.closed_accounts:
            return "AC04"
        if item.creditor_account in self.config.blocked_accounts:
            return "AC06"
        return None

    def accept(self, item: SimItem) -> None:
        """Handle an item that passed `check`: by default gross settlement now, AM04 if short."""
        if self.books.balance(item.debtor_agent, item.currency) < item.amount:
            self.books.reject(item, "AM04", self.now())
        else:
            self.books.settle(item, self.business_date(), self.now())

    def on_message(self, link: SimLink, kind: str, frame: bytes, name: str,
                   decision: FaultDecision) -> bytes | None:
        """A message other than pacs.008 / pacs.028: the reply, or None. Override to take more."""
        raise MessageError("MX_WRONG_MESSAGE", f"{self.name} does not take {name}")

    # -- messages ----------------------------------------------------------------------------

    def on_frame(self, link: SimLink, frame: bytes) -> None:
        try:
            name = message_name(frame)
        except MessageError as err:
            self.dice.decide("?")
            self._refuse(link, frame, "", err)
            return
        kind = name[:8]
        decision = self.dice.decide(kind)
        if decision.action is FaultAction.REFUSE:
            link.close()
            return
        try:
            if kind == "pacs.008":
                reply: bytes | None = build_pacs002(self._on_credit(link, frame, name, decision))
            elif kind == "pacs.028":
                reply = build_pacs002(self._on_inquiry(link, frame, name))
            else:
                reply = self.on_message(link, kind, frame, name, decision)
        except MessageError as err:
            self._refuse(link, frame, name, err)
            return
        if reply is not None:
            self.answer(link, reply, decision)

    def _on_credit(self, link: SimLink, frame: bytes, name: str,
                   decision: FaultDecision) -> Pacs002:
        doc = parse_pacs008(frame)
        sender = _sender(doc)
        if sender:
            self.bind(link, sender)
        forced = decision.code if decision.action is FaultAction.REJECT else None
        statuses = tuple(self.credit(self.item_of(tx, doc.msg_id, name), forced)
                         for tx in doc.transactions)
        return Pacs002(msg_id=self.next_id(), created_at=self.now(), orgnl_msg_id=doc.msg_id,
                       orgnl_msg_name=name, transactions=statuses)

    def item_of(self, tx: CreditTransfer, msg_id: str, msg_name: str) -> SimItem:
        return SimItem(
            end_to_end_id=tx.end_to_end_id, tx_id=tx.tx_id, uetr=tx.uetr, amount=tx.amount,
            currency=tx.currency, debtor_agent=_agent_code(tx.debtor_agent),
            debtor_account=tx.debtor.account, creditor_agent=_agent_code(tx.creditor_agent),
            creditor_account=tx.creditor.account, received_at=self.now(),
            remittance_info=tx.remittance_info, msg_id=msg_id, msg_name=msg_name,
        )

    def credit(self, item: SimItem, forced: str | None = None) -> TxStatus:
        """Book one arriving item (or recognise a resend) and say its status."""
        kept = self.books.receive(item)
        if kept is not item:
            if kept.content() == item.content():
                return self.status_of(kept)  # a resend: never booked twice
            return TxStatus(item.end_to_end_id, "RJCT", orgnl_tx_id=item.tx_id,
                            orgnl_uetr=item.uetr, reason="AM05")
        reason = (forced or self.faults.reject_accounts.get(item.creditor_account or "")
                  or self.faults.reject_accounts.get(item.debtor_account or "")
                  or self.check(item))
        if reason is not None:
            self.books.reject(item, reason, self.now())
        else:
            self.accept(item)
        return self.status_of(item)

    def status_of(self, item: SimItem) -> TxStatus:
        e2e, tx_id, uetr = item.end_to_end_id, item.tx_id, item.uetr
        if item.state in (ItemState.SETTLED, ItemState.RETURNED):
            # A returned item did settle; its return travels as its own pacs.004.
            return TxStatus(e2e, "ACSC", orgnl_tx_id=tx_id, orgnl_uetr=uetr,
                            accepted_at=item.decided_at, additional_info=item.detail)
        if item.state is ItemState.REJECTED:
            reason = item.reason or "NARR"
            if reason in ISO_REASONS:
                return TxStatus(e2e, "RJCT", orgnl_tx_id=tx_id, orgnl_uetr=uetr, reason=reason,
                                additional_info=item.detail)
            return TxStatus(e2e, "RJCT", orgnl_tx_id=tx_id, orgnl_uetr=uetr,
                            reason_proprietary=reason, additional_info=item.detail)
        status = "PDNG" if item.state is ItemState.QUEUED else "ACTC"
        return TxStatus(e2e, status, orgnl_tx_id=tx_id, orgnl_uetr=uetr,
                        additional_info=item.detail)

    def notify_status(self, item: SimItem) -> None:
        """Tell the sender that ``item`` changed (settled from a queue or session, rejected)."""
        report = Pacs002(msg_id=self.next_id(), created_at=self.now(),
                         orgnl_msg_id=item.msg_id or _NOT_PROVIDED,
                         orgnl_msg_name=item.msg_name or "pacs.008.001.08",
                         transactions=(self.status_of(item),))
        self.notify(item.debtor_agent, build_pacs002(report))

    def return_item(self, item: SimItem, reason: str) -> None:
        """The receiving bank sends a settled item back: money moves back, pacs.004 to the
        sender."""
        self.books.unwind(item, reason, self.business_date(), self.now())
        ret = ReturnedTransfer(
            orgnl_msg_id=item.msg_id or _NOT_PROVIDED,
            orgnl_msg_name=item.msg_name or "pacs.008.001.08",
            orgnl_end_to_end_id=item.end_to_end_id, amount=item.amount, currency=item.currency,
            settlement_date=self.business_date(), return_id=self.next_id("RTR"),
            orgnl_tx_id=item.tx_id, orgnl_uetr=item.uetr, reason=reason,
        )
        doc = Pacs004(msg_id=self.next_id(), created_at=self.now(), transactions=(ret,),
                      clearing_system=self.clearing_system)
        self.notify(item.debtor_agent, build_pacs004(doc))

    def _on_inquiry(self, link: SimLink, frame: bytes, name: str) -> Pacs002:
        req = parse_pacs028(frame)
        statuses = []
        for e2e in req.orgnl_end_to_end_ids:
            item = self.books.items.get(e2e)
            if item is None:
                statuses.append(TxStatus(e2e, "RJCT", reason="NARR", additional_info=NOT_FOUND))
            else:
                self.bind(link, item.debtor_agent)  # only its sender asks about an item
                statuses.append(self.status_of(item))
        return Pacs002(msg_id=self.next_id(), created_at=self.now(), orgnl_msg_id=req.msg_id,
                       orgnl_msg_name=name, transactions=tuple(statuses))

    def _refuse(self, link: SimLink, frame: bytes, name: str, err: MessageError) -> None:
        m = _MSG_ID.search(frame)
        if m is None:
            log.warning("%s: unreadable message (%s); closing the connection", self.name, err)
            link.close()
            return
        log.info("%s: rejecting message %r FF01: %s", self.name, m.group(1), err)
        reply = Pacs002(
            msg_id=self.next_id(), created_at=self.now(),
            orgnl_msg_id=m.group(1).decode("utf-8", "replace"),
            orgnl_msg_name=name or _NOT_PROVIDED,
            transactions=(TxStatus(_NOT_PROVIDED, "RJCT", reason="FF01",
                                   additional_info=err.code),),
            group_status="RJCT",
        )
        # Through answer() like every reply, so a channel's envelope (CIPS: head.001) is kept.
        self.answer(link, build_pacs002(reply), _NO_FAULT)

    # -- statements --------------------------------------------------------------------------

    def statement_document(self, participant: str, day: date) -> tuple[str, bytes]:
        data = self.books.statement(participant, day)
        created = self.now()
        entries = self.statement_entries(data)
        statement = Statement(
            id=f"{self.name}{day:%Y%m%d}{participant[-6:]}", account=participant,
            balances=(_balance("OPBD", data.opening, data.currency, day),
                      _balance("CLBD", data.closing, data.currency, day)),
            entries=entries, account_currency=data.currency,
            account_servicer=Agent(member_id=participant, clearing_system=self.clearing_system)
            if CNAPS_CODE.fullmatch(participant) else None,
            created_at=created,
        )
        doc = Camt053(msg_id=self.next_id("STMT"), created_at=created, statements=(statement,))
        return "camt.053.001.08", build_camt053(doc)

    def statement_entries(self, data: StatementData) -> tuple[Entry, ...]:
        """The statement's entries: one per line of the books (BEPS books sessions net)."""
        return tuple(self.line_entry(ln, data.business_date) for ln in data.lines)

    def line_entry(self, ln: StatementLine, day: date) -> Entry:
        """One line of the books as its own entry."""
        return Entry(abs(ln.signed_amount), ln.currency,
                     "DBIT" if ln.signed_amount < 0 else "CRDT",
                     booking_date=day, value_date=day, reference=ln.end_to_end_id[:35],
                     bank_tx_code=BankTransactionCode(proprietary=ln.kind.upper(),
                                                      issuer=self.name),
                     transactions=(EntryTransaction(end_to_end_id=ln.end_to_end_id,
                                                    tx_id=ln.tx_id, uetr=ln.uetr),))


def _balance(kind: str, amount: int, currency: str, day: date) -> Balance:
    return Balance(kind, abs(amount), currency, "DBIT" if amount < 0 else "CRDT", day)


def _agent_code(agent: Agent | None) -> str:
    if agent is None:
        return ""
    return agent.member_id or agent.bic or ""


def _sender(doc: Pacs008) -> str:
    if doc.instructing_agent is not None:
        return _agent_code(doc.instructing_agent)
    return _agent_code(doc.transactions[0].debtor_agent) if doc.transactions else ""

