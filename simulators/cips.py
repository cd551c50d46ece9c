"""CIPS simulator: the Cross-border Interbank Payment System (RMB, RTGS) as the switch sees it.

5x24+4 (CHANNELS.md): business day D, a China working day, takes items from 08:30 on the
calendar day before D until 20:30 on D, when it closes (`simulators.windowed`; outside: TM01).

Every message travels as a business message: a head.001.001.02 header (AppHdr) and the
Document, siblings in a RequestPayload (`messages.iso20022.head001`). The header's sender (Fr)
is the direct participant on the line, addressed To the CIPS operator (``operator_bic``);
answers and notices come back From the operator To the participant. A message whose header
cannot be read is refused FF01 (or, when the line has not said who it is, the line closes).

Agents are identified by BIC. A direct participant (``participants``, by BIC) settles on its
own account; an indirect one reaches CIPS through its direct participant (``indirect``: BIC ->
direct participant's BIC), whose account settles its payments. Each pacs.008 transaction is
checked: TM01 outside the window; AM03 not CNY; RC01 the sender is not a direct participant;
AC04/AC06 closed/blocked creditor account; RC01 the debtor agent is neither the sender nor one
of its indirect participants; with ``require_lei``, RC03 the debtor agent's LEI missing or
invalid; RC04 the creditor agent without a BIC, or its LEI missing or invalid (ISO 17442 layout
and MOD 97-10 check digits); AM04 the sender short of funds. RC03/RC04 are the ISO codes for
"debtor / creditor agent identifier invalid or missing": the LEI identifies each agent, and the
code tells the sender which side to correct. An LEI that breaks the ISO 17442 layout breaks
the XSD pattern as well: the whole message is refused FF01, as any invalid document is.
Returns are pacs.004; statements camt.053 of the direct participant's account.
"""

from __future__ import annotations

import re
from typing import ClassVar, cast

import msgspec

from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    AppHeader,
    CreditTransfer,
    build_business_message,
    message_name,
    parse_business_message,
)
from messages.iso20022.lei import is_lei
from simulators.books import SimItem
from simulators.faults import FaultDecision
from simulators.link import SimLink
from simulators.windowed import WindowConfig, WindowedSimulator

__all__ = ["CipsConfig", "CipsItem", "CipsSimulator"]

_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_MSG_ID = re.compile(rb"<MsgId>([^<]{1,35})</MsgId>")  # the first: GrpHdr's, in our documents


class CipsConfig(WindowConfig, frozen=True, forbid_unknown_fields=True):
    """The channel's rules (CHANNELS.md, CIPS); amounts in fen."""

    participants: dict[str, int] = msgspec.field(
        default_factory=lambda: {"ICBKCNBJXXX": 10**13})  # direct participants by BIC
    # indirect participant's BIC -> the direct participant it reaches CIPS through
    indirect: dict[str, str] = msgspec.field(
        default_factory=lambda: {"PYSWCNSHXXX": "ICBKCNBJXXX"})
    operator_bic: str = "CIPSCNSHXXX"  # CIPS itself, in every header (cfg)
    require_lei: bool = True
    opens: str = "08:30"  # on the calendar day before the business day
    cutoff: str = "20:30"
    day_switch: str = "20:30"


class CipsItem(SimItem, kw_only=True):
    """An item with what CIPS checks beyond the books: the debtor agent (the settling direct
    participant is `debtor_agent`) and both agents' LEIs."""

    debtor_bank: str | None = None
    debtor_bank_lei: str | None = None
    creditor_bank_lei: str | None = None


class CipsSimulator(WindowedSimulator):
    name = "CIPS"
    Config = CipsConfig
    config: CipsConfig
    clearing_system: ClassVar[str] = "CIPS"

    _sender: str = ""  # the Fr of the message being handled

    # -- envelope ----------------------------------------------------------------------------

    def on_frame(self, link: SimLink, frame: bytes) -> None:
        try:
            header, document = parse_business_message(frame)
            sender = header.sender.bic
            if sender is None:
                raise MessageError("MX_MISSING_ELEMENT", "the sender is identified by BIC",
                                   where="/RequestPayload/AppHdr/Fr/FIId/FinInstnId/BICFI")
            if header.receiver.bic != self.config.operator_bic:
                raise MessageError("MX_BAD_VALUE",
                                   f"addressed to {header.receiver.bic}, not to CIPS",
                                   where="/RequestPayload/AppHdr/To/FIId/FinInstnId/BICFI")
        except MessageError as err:
            self.dice.decide("?")  # one draw per message, read or not, as the base does
            self._refuse(link, frame, "", err)
            return
        link.session["peer"] = sender
        self.bind(link, sender)
        self._sender = sender
        try:
            super().on_frame(link, document)
        finally:
            self._sender = ""

    def envelope(self, document: bytes, to: str) -> bytes:
        """``document`` from CIPS to participant ``to``, with its head.001 header."""
        found = _MSG_ID.search(document)
        header = AppHeader(
            sender=Agent(bic=self.config.operator_bic), receiver=Agent(bic=to),
            biz_msg_id=found.group(1).decode() if found else self.next_id("BIZ"),
            msg_def_id=message_name(document), created_at=self.now())
        return build_business_message(header, document)

    def answer(self, link: SimLink, message: bytes, decision: FaultDecision) -> None:
        peer = link.session.get("peer")
        if peer is None:  # nobody to address an answer to: as with unreadable bytes, hang up
            link.close()
            return
        super().answer(link, self.envelope(message, peer), decision)

    def notify(self, participant: str, message: bytes, delay_ms: int = 0,
               decision: FaultDecision | None = None) -> None:
        # CIPS sends no faulty notices: the envelope is addressed here, not by answer()
        super().notify(participant, self.envelope(message, participant), delay_ms)

    # -- the channel's rules -----------------------------------------------------------------

    def item_of(self, tx: CreditTransfer, msg_id: str, msg_name: str) -> SimItem:
        item = super().item_of(tx, msg_id, msg_name)
        return CipsItem(**{**msgspec.structs.asdict(item), "debtor_agent": self._sender,
                           "creditor_agent": tx.creditor_agent.bic or ""},
                        debtor_bank=tx.debtor_agent.bic, debtor_bank_lei=tx.debtor_agent.lei,
                        creditor_bank_lei=tx.creditor_agent.lei)

    def check(self, item: SimItem) -> str | None:
        return super().check(item) or self._agents(cast(CipsItem, item))

    def _agents(self, item: CipsItem) -> str | None:
        sender = item.debtor_agent  # a direct participant: the base check saw to that
        if item.debtor_bank != sender and self.config.indirect.get(item.debtor_bank or "") \
                != sender:
            return "RC01"
        if self.config.require_lei and not is_lei(item.debtor_bank_lei):
            return "RC03"
        if _BIC.fullmatch(item.creditor_agent) is None or (
                self.config.require_lei and not is_lei(item.creditor_bank_lei)):
            return "RC04"
        return None
