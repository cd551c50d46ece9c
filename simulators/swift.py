"""SWIFT simulator: correspondent banking in MT and MX (CBPR+) with gpi tracking and covers.

A participant (a bank, by BIC) holds a nostro per currency at that currency's correspondent
(cfg); the books keep those balances. One message per 4-byte frame: an MT (FIN text, blocks 1
to 5, starting ``{1:``) or an MX business message (AppHdr and Document in a RequestPayload).
Everything after the first bytes is `messages/`: MT is read and written by `messages.mt` and
translated to and from MX by `messages.translate`, so both formats take one path.

- **Customer transfers** (pacs.008 / MT103, UETR mandatory) are checked at once: AM03 a
  currency without a correspondent, RC01 a sender without a nostro or a creditor agent that is
  not a BIC, AM05 a UETR or end-to-end id already used for other content, AC04 / AC06 a closed /
  blocked creditor account. A resend (same ids and content) is not booked again. The reply is
  the gpi status ACSP with G000 (sent on to a gpi bank) or G001 (a bank outside gpi, cfg).
- **gpi**: when the transfer reaches the creditor agent (``hop_delay_ms`` later) it may wait:
  G004 for its cover funds, G003 for documents (cfg accounts), G002 when its value date is a
  later day. Each new G-code goes to the sender as a status update (pacs.002 for MX, MT199 for
  MT, from the tracker); then ACCC when the creditor is credited (the sender's nostro is debited
  on the value date) or RJCT with the ISO reason (AM04: the nostro is short then).
- **Value dates**: before the currency's cut-off (cfg, CET) the value date is today, after it
  the next business day (weekdays less cfg holidays), plus D+n where cfg says (JPY, HKD); a
  later requested date is kept. After the cut-off is not a reject.
- **Covers**: in a cover currency (cfg) the customer transfer goes to the creditor agent and its
  money by pacs.009 COV / MT202 COV (same UETR) to the correspondent; the transfer is not
  credited before its cover arrives (G004), and is rejected AB05 when none comes in time (cfg).
  A cover gets no answer of its own: what it does shows in its transfer's status.
- **Inquiry**: pacs.028 (on either kind of link), answered by a pacs.002; a UETR or end-to-end
  id never received is RJCT NARR with AddtlInf NOT_FOUND (the simulators' convention).
- **Returns**: pacs.004, or an MT103 return (72 /RETN/) for a transfer that came as MT103.
- **Faults** (`simulators.faults`): a transfer's fault also governs its status updates: drop
  loses the reply and every update (only an inquiry finds the truth), duplicate doubles them,
  a delayed (late) reply holds the transfer back as long.
  A reject code that is not ISO (a FIN error code such as T27) travels as Rsn/Prtry in MX and
  as a ``/T27/`` line after ``//RJCT`` in an MT199, for the adapter's table to map.
- **Statements**: MT950 per participant, currency and business day (fields 20, 25, 28C, 60F,
  61, 62F, 64; paged with 60M/62M), sent by the currency's correspondent; without a currency,
  every currency's MT950 in one file, '$' between messages as in an RJE file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    AppHeader,
    BankTransfer,
    CreditTransfer,
    Pacs002,
    Pacs004,
    ReturnedTransfer,
    TxStatus,
    build_business_message,
    build_pacs002,
    build_pacs004,
    message_name,
    parse_business_message,
    parse_pacs008,
    parse_pacs009,
    parse_pacs028,
)
from messages.mt import (
    MT103,
    MT202COV,
    MT950,
    Balance,
    Envelope,
    Party,
    StatementLine,
    build_mt,
    parse_mt,
)
from messages.translate import (
    mt103_to_pacs008,
    mt202_to_pacs009,
    pacs002_to_mt199,
    pacs004_to_mt103_return,
)
from messages.translate.returns import is_return
from simulators.base import SimConfig
from simulators.books import ItemState, SimBooks, SimItem
from simulators.faults import FaultAction, FaultDecision, FaultPlan
from simulators.link import SimLink
from simulators.mx import ISO_REASONS, NOT_FOUND, MxSimulator
from switch.clock import Clock, Timer

__all__ = ["GPI_REASONS", "NOT_FOUND", "SwiftConfig", "SwiftSimulator"]

log = logging.getLogger("payswitch.simulators")

# gpi status reason codes of an ACSP (in progress)
GPI_REASONS: dict[str, str] = {
    "G000": "sent on to a gpi bank",
    "G001": "sent on to a bank outside gpi",
    "G002": "credit may not be same day",
    "G003": "pending documents",
    "G004": "pending cover funds",
}
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_NOT_PROVIDED = "NOTPROVIDED"
_CUSTOMER, _COVER, _INQUIRY = "pacs.008", "pacs.009", "pacs.028"
_MX_CUSTOMER = "pacs.008.001.08"
_MT_CUSTOMER = "MT103"
_SERVICE = "swift.cbprplus.02"
# MT parts a refusal can still name when the message itself is unreadable
_MT_SENDER = re.compile(rb"\{1:F01([A-Z0-9]{12})")
_MT_REF = re.compile(rb":20:([A-Za-z0-9/\-?().,'+ ]{1,16})\r\n")
_MT_UETR = re.compile(rb"\{121:([0-9a-f-]{36})\}")


def bic11(bic: str) -> str:
    """The 11-character form of a BIC (branch XXX when it has none), the books' key.

    >>> bic11("CHASUS33"), bic11("CHASUS33NYC")
    ('CHASUS33XXX', 'CHASUS33NYC')
    """
    return bic if len(bic) == 11 else bic + "XXX"


def _address(bic: str) -> str:
    """The 12-character FIN address of a BIC (logical terminal X)."""
    bic = bic11(bic)
    return bic[:8] + "X" + bic[8:]


class SwiftConfig(SimConfig, frozen=True, forbid_unknown_fields=True):
    """The network and the correspondents (CHANNELS.md, SWIFT); amounts in minor units.

    Every participant (BIC) holds a nostro in each correspondent currency, opened with its
    ``participants`` figure unless ``nostros`` names another.
    """

    participants: dict[str, int] = msgspec.field(
        default_factory=lambda: {"PYSWCNSHXXX": 10**13})
    currency: str = "USD"  # the currency `balances()` and the books admin answer in
    # BIC -> currency -> opening balance, where it is not the participants figure
    nostros: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    # currency -> the correspondent that holds the nostros and settles it (CNY: offshore CNH)
    correspondents: dict[str, str] = msgspec.field(default_factory=lambda: {
        "USD": "CHASUS33XXX", "EUR": "DEUTDEFFXXX", "GBP": "BARCGB22XXX",
        "JPY": "MHCBJPJTXXX", "HKD": "HSBCHKHHXXX", "CNY": "BKCHHKHHXXX"})
    cover_currencies: tuple[str, ...] = ("USD", "EUR")  # money travels by a separate cover
    cutoffs: dict[str, str] = msgspec.field(default_factory=lambda: {  # CET value cut-offs
        "USD": "17:30", "EUR": "15:45", "GBP": "17:30", "JPY": "16:30", "HKD": "16:30",
        "CNY": "06:45"})
    value_days: dict[str, int] = msgspec.field(default_factory=lambda: {"JPY": 1, "HKD": 1})
    holidays: tuple[date, ...] = ()  # network holidays besides weekends
    non_gpi_banks: tuple[str, ...] = ()  # creditor agents (BIC8 or BIC11) outside gpi: G001
    documents_accounts: tuple[str, ...] = ()  # creditor accounts held for documents: G003
    documents_delay_s: float = 3_600.0
    hop_delay_ms: int = 0  # until a transfer reaches its creditor agent
    credit_delay_ms: int = 0  # the creditor agent's time to credit once nothing holds it
    cover_timeout_s: float = 86_400.0  # no cover by then: the transfer is rejected AB05
    tracker: str = "TRCKCHZZXXX"  # who sends gpi status updates and answers inquiries
    statement_page_lines: int = 50  # :61: lines per MT950 page

    def __post_init__(self) -> None:
        for ccy, bic in self.correspondents.items():
            if _BIC.fullmatch(bic) is None:
                raise ValueError(f"correspondents.{ccy}: {bic!r} is not a BIC")
            if _HHMM.fullmatch(self.cutoffs.get(ccy, "")) is None:
                raise ValueError(f"cutoffs.{ccy}: a correspondent currency needs HH:MM")
        for ccy in self.cover_currencies:
            if ccy not in self.correspondents:
                raise ValueError(f"cover_currencies: {ccy} has no correspondent")
        for bic in (*self.participants, self.tracker):
            if _BIC.fullmatch(bic) is None or len(bic) != 11:
                raise ValueError(f"{bic!r} is not an 11-character BIC")
        for bic in self.nostros:
            if bic not in self.participants:
                raise ValueError(f"nostros.{bic}: not a participant")
        if self.currency not in self.correspondents:
            raise ValueError(f"currency {self.currency} has no correspondent")
        if self.statement_page_lines < 1:
            raise ValueError("statement_page_lines must be at least 1")
        if min(self.hop_delay_ms, self.credit_delay_ms) < 0 or min(
                self.documents_delay_s, self.cover_timeout_s) <= 0:
            raise ValueError("delays must not be negative, timeouts must be positive")


class _Flow:
    """A customer transfer on its way to the creditor: what holds it and how it is told."""

    __slots__ = ("cover", "covered", "documents_until", "doubled", "item", "mt", "muted",
                 "reached", "timers", "trn", "value_date")

    def __init__(self, item: SimItem, trn: str, value_date: date, mt: bool) -> None:
        self.item = item
        self.trn = trn  # the sender's reference (field 20, InstrId): its statement reference
        self.value_date = value_date
        self.mt = mt  # came as MT103: its updates go as MT199, its return as an MT103
        self.cover = False  # its money comes by a cover payment
        self.covered = False
        self.documents_until: datetime | None = None
        self.reached = False  # the creditor agent has it
        self.muted = False  # a dropped reply: no update reaches the sender either
        self.doubled = False
        self.timers: list[Timer] = []


class SwiftSimulator(MxSimulator):
    name = "SWIFT"
    Config = SwiftConfig
    config: SwiftConfig
    timezone = "Europe/Paris"  # the correspondents' cut-offs are quoted in CET

    def __init__(self, config: SwiftConfig, clock: Clock, seed: int = 0,
                 faults: FaultPlan | None = None) -> None:
        super().__init__(config, clock, seed, faults)
        opening = {bic: {ccy: config.nostros.get(bic, {}).get(ccy, amount)
                         for ccy in config.correspondents}
                   for bic, amount in config.participants.items()}
        self.books = SimBooks({bic: own[config.currency] for bic, own in opening.items()},
                              currency=config.currency, seed=seed,
                              statement_faults=self.faults.statement)
        for bic, own in opening.items():
            for ccy, amount in own.items():
                if ccy != config.currency:
                    self.books.open_account(bic, ccy, amount)
        self._cutoffs = {ccy: int(text[:2]) * 60 + int(text[3:])
                         for ccy, text in config.cutoffs.items()}
        self._non_gpi = {b[:8] for b in config.non_gpi_banks}
        self._flows: dict[str, _Flow] = {}  # by the item's key (end-to-end id, MT: field 20)
        self._by_uetr: dict[str, str] = {}  # UETR -> item key
        self._covers: dict[str, tuple[int, str, str | None]] = {}  # UETR -> amount, ccy, reject
        self._deferred: list[Callable[[], None]] = []  # run once the current reply is out

    def by_uetr(self, uetr: str) -> SimItem | None:
        """The transfer of a UETR, in whichever format it came."""
        key = self._by_uetr.get(uetr)
        return None if key is None else self.books.items.get(key)

    async def stop(self) -> None:
        for flow in self._flows.values():
            for timer in flow.timers:
                timer.cancel()
        await super().stop()

    # -- calendar ----------------------------------------------------------------------------

    def _open(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.config.holidays

    def open_day(self, day: date) -> date:
        """``day``, or the first business day after it."""
        while not self._open(day):
            day += timedelta(days=1)
        return day

    def value_date(self, currency: str, requested: date | None = None,
                   at: datetime | None = None) -> date:
        """The value date of a transfer in ``currency`` taken at ``at`` (default: now).

        Before the currency's cut-off it is today, after it the next business day, plus the
        currency's value days; a later ``requested`` date is kept (moved to a business day).
        """
        local = (at or self.now()).astimezone(self.tz)
        day = local.date()
        if self._open(day) and local.hour * 60 + local.minute < self._cutoffs[currency]:
            value = day
        else:
            value = self.open_day(day + timedelta(days=1))
        for _ in range(self.config.value_days.get(currency, 0)):
            value = self.open_day(value + timedelta(days=1))
        if requested is not None and requested > value:
            value = self.open_day(requested)
        return value

    def _seconds_until(self, day: date) -> float:
        return (datetime.combine(day, time(), self.tz) - self.now()).total_seconds()

    # -- messages in -------------------------------------------------------------------------

    def on_frame(self, link: SimLink, frame: bytes) -> None:
        self._deferred = []
        if frame.startswith(b"{1:"):
            self._on_mt(link, frame)
        else:
            self._on_mx(link, frame)
        deferred, self._deferred = self._deferred, []
        for step in deferred:
            step()

    def _on_mx(self, link: SimLink, frame: bytes) -> None:
        try:
            header, document = parse_business_message(frame)
            name = message_name(document)
        except MessageError as err:
            self.dice.decide("?")
            self._refuse(link, frame, "", err)
            return
        decision = self.dice.decide(name[:8])
        if decision.action is FaultAction.REFUSE:
            link.close()
            return
        sender = bic11(header.sender.bic or "")
        try:
            if name.startswith(_CUSTOMER):
                doc = parse_pacs008(document)
                self.bind(link, sender)
                statuses = tuple(self._customer(tx, doc.msg_id, name, sender, decision, mt=False)
                                 for tx in doc.transactions)
                reply: bytes | None = self._mx_status(sender, Pacs002(
                    msg_id=self.next_id("G"), created_at=self.now(), orgnl_msg_id=doc.msg_id,
                    orgnl_msg_name=name, transactions=statuses))
            elif name.startswith(_COVER):
                self.bind(link, sender)
                for bank_tx in parse_pacs009(document).transactions:
                    self._cover(bank_tx, decision)
                reply = None  # a cover shows in its transfer's status, not in answers of its own
            elif name.startswith(_INQUIRY):
                reply = self._mx_status(sender, self._on_inquiry(link, document, name))
            else:
                raise MessageError("MX_WRONG_MESSAGE", f"{self.name} does not take {name}")
        except MessageError as err:
            self._refuse(link, frame, name, err)
            return
        if reply is not None:
            self.answer(link, reply, decision)

    def _on_mt(self, link: SimLink, frame: bytes) -> None:
        try:
            msg = parse_mt(frame.decode("ascii"))
        except (MessageError, UnicodeDecodeError) as err:
            self.dice.decide("?")
            self._refuse_mt(link, frame, getattr(err, "code", "MT_BAD_CHARSET"))
            return
        decision = self.dice.decide("MT" + msg.MESSAGE_TYPE[:3])
        if decision.action is FaultAction.REFUSE:
            link.close()
            return
        sender = bic11(msg.envelope.sender[:8] + msg.envelope.sender[9:])
        try:
            if isinstance(msg, MT103) and not is_return(msg):
                doc = mt103_to_pacs008(msg, created_at=self.now()).message
                self.bind(link, sender)
                (tx,) = doc.transactions
                status = self._customer(tx, doc.msg_id, _MT_CUSTOMER, sender, decision, mt=True)
                reply: bytes | None = self._mt_status(sender, doc.msg_id, status)
            elif isinstance(msg, MT202COV):
                self.bind(link, sender)
                for bank_tx in mt202_to_pacs009(msg, created_at=self.now()).message.transactions:
                    self._cover(bank_tx, decision)
                reply = None
            else:
                raise MessageError("MT_UNSUPPORTED_TYPE",
                                   f"{self.name} does not take MT{msg.MESSAGE_TYPE} here")
        except MessageError as err:
            self._refuse_mt(link, frame, err.code)
            return
        if reply is not None:
            self.answer(link, reply, decision)

    def _refuse_mt(self, link: SimLink, frame: bytes, code: str) -> None:
        """An MT199 RJCT FF01 to the sender block 1 names, else the connection is closed."""
        sender = _MT_SENDER.search(frame)
        ref, uetr = _MT_REF.search(frame), _MT_UETR.search(frame)
        try:
            if sender is None:
                raise MessageError("MT_BAD_BLOCK", "no sender address")
            address = sender.group(1).decode("ascii")
            status = TxStatus(_NOT_PROVIDED, "RJCT", reason="FF01", additional_info=code,
                              orgnl_uetr=uetr.group(1).decode("ascii") if uetr else None)
            reply = self._mt_status(bic11(address[:8] + address[9:]),
                                    ref.group(1).decode("ascii") if ref else _NOT_PROVIDED,
                                    status)
        except MessageError as err:
            log.warning("%s: unreadable MT (%s); closing the connection", self.name, err)
            link.close()
            return
        log.info("%s: rejecting an MT FF01: %s", self.name, code)
        link.send(reply, self.config.reply_delay_ms)

    # -- customer transfers ------------------------------------------------------------------

    def _customer(self, tx: CreditTransfer, msg_id: str, msg_name: str, sender: str,
                  decision: FaultDecision, *, mt: bool) -> TxStatus:
        item = self.item_of(tx, msg_id, msg_name)
        item.debtor_agent = sender  # the nostro debited is the instructing bank's
        known = self._by_uetr.get(item.uetr or "")
        if known is not None and known != item.end_to_end_id:
            return TxStatus(item.end_to_end_id, "RJCT", orgnl_tx_id=item.tx_id,
                            orgnl_uetr=item.uetr, reason="AM05",
                            additional_info="UETR already used")
        fresh = item.end_to_end_id not in self.books.items
        forced = decision.code if decision.action is FaultAction.REJECT else None
        status = self.credit(item, forced)
        if fresh:
            self._by_uetr[item.uetr or ""] = item.end_to_end_id
            if item.state is ItemState.RECEIVED:
                self._start(item, tx.instr_id or tx.tx_id, tx.settlement_date, mt, decision)
        return status

    def item_of(self, tx: CreditTransfer, msg_id: str, msg_name: str) -> SimItem:
        # An MT103 names no end-to-end id: its field 20 is its key
        key = tx.end_to_end_id if tx.end_to_end_id != _NOT_PROVIDED else tx.tx_id
        return SimItem(
            end_to_end_id=key, tx_id=tx.tx_id, uetr=tx.uetr, amount=tx.amount,
            currency=tx.currency, debtor_agent="", debtor_account=tx.debtor.account,
            creditor_agent=bic11(tx.creditor_agent.bic or ""),
            creditor_account=tx.creditor.account, received_at=self.now(),
            remittance_info=tx.remittance_info, msg_id=msg_id, msg_name=msg_name,
        )

    def check(self, item: SimItem) -> str | None:
        if item.currency not in self.config.correspondents:
            return "AM03"
        if item.debtor_agent not in self.config.participants:
            return "RC01"
        if _BIC.fullmatch(item.creditor_agent) is None:
            return "RC01"
        if item.creditor_account in self.config.closed_accounts:
            return "AC04"
        if item.creditor_account in self.config.blocked_accounts:
            return "AC06"
        return None

    def accept(self, item: SimItem) -> None:
        """Taken and sent on: G000, or G001 towards a bank outside gpi."""
        item.channel_ref = self.next_id("S")
        item.detail = "G001" if item.creditor_agent[:8] in self._non_gpi else "G000"

    def _start(self, item: SimItem, trn: str, requested: date, mt: bool,
               decision: FaultDecision) -> None:
        """The transfer's way to the creditor agent, which has it ``hop_delay_ms`` (and the
        reply's fault delay) after the reply has gone out."""
        flow = _Flow(item, _reference(_x(trn)), self.value_date(item.currency, requested), mt)
        flow.muted = decision.action is FaultAction.DROP
        flow.doubled = decision.action is FaultAction.DUPLICATE
        self._flows[item.end_to_end_id] = flow
        if item.currency in self.config.cover_currencies:
            flow.cover = True
            if item.uetr not in self._covers:
                self._later(flow, self.config.cover_timeout_s, self._no_cover)
        if item.creditor_account in self.config.documents_accounts:
            flow.documents_until = self.now() + timedelta(
                seconds=self.config.documents_delay_s)
        # a late reply is a slow channel: the transfer travels as late as its reply
        hop_s = (self.config.hop_delay_ms + decision.delay_ms) / 1000
        self._deferred.append(lambda: self._later(flow, hop_s, self._reach))

    def _later(self, flow: _Flow, delay_s: float, step: Callable[[_Flow], None]) -> None:
        """``step(flow)`` after ``delay_s`` of the clock; at once when the delay is 0."""
        if delay_s <= 0:
            step(flow)
            return
        flow.timers.append(self.clock.call_later(delay_s, step, flow))

    def _reach(self, flow: _Flow) -> None:
        flow.reached = True
        cover = self._covers.get(flow.item.uetr or "")
        if flow.cover and cover is not None:
            self._apply_cover(flow, *cover)
        else:
            self._progress(flow)

    def _progress(self, flow: _Flow) -> None:
        """What holds the transfer now, told to the sender; else its credit."""
        item = flow.item
        if item.state is not ItemState.RECEIVED or not flow.reached:
            return
        if flow.cover and not flow.covered:
            self._hold(flow, "G004")
        elif flow.documents_until is not None and self.now() < flow.documents_until:
            self._hold(flow, "G003")
            self._later(flow, (flow.documents_until - self.now()).total_seconds(),
                        self._progress)
        elif flow.value_date > self.business_date():
            self._hold(flow, "G002")
            self._later(flow, self._seconds_until(flow.value_date), self._progress)
        else:
            self._later(flow, self.config.credit_delay_ms / 1000, self._credit)

    def _hold(self, flow: _Flow, code: str) -> None:
        if flow.item.detail != code:
            flow.item.detail = code
            self._tell(flow)

    def _credit(self, flow: _Flow) -> None:
        item = flow.item
        if item.state is not ItemState.RECEIVED:
            return
        item.detail = None
        if self.books.balance(item.debtor_agent, item.currency) < item.amount:
            self.books.reject(item, "AM04", self.now())
        else:
            # booked on its value date, or today when it could only be credited later
            day = max(flow.value_date, self.open_day(self.business_date()))
            self.books.settle(item, day, self.now())
        self._tell(flow)

    def _no_cover(self, flow: _Flow) -> None:
        if flow.item.state is ItemState.RECEIVED and not flow.covered:
            self._reject(flow, "AB05", "no cover funds in time")

    def _reject(self, flow: _Flow, reason: str, detail: str | None = None) -> None:
        self.books.reject(flow.item, reason, self.now())
        flow.item.detail = detail
        self._tell(flow)

    # -- covers ------------------------------------------------------------------------------

    def _cover(self, tx: BankTransfer, decision: FaultDecision) -> None:
        if tx.underlying is None:
            raise MessageError("MX_WRONG_MESSAGE",
                               "a bank transfer without its underlying customer transfer is "
                               "not a cover", where="/Document/FICdtTrf/CdtTrfTxInf")
        if tx.uetr in self._covers:
            return  # a resent cover: its money moves once
        forced = decision.code if decision.action is FaultAction.REJECT else None
        self._covers[tx.uetr] = (tx.amount, tx.currency, forced)
        key = self._by_uetr.get(tx.uetr)
        flow = self._flows.get(key) if key is not None else None
        if flow is not None and flow.reached:
            self._apply_cover(flow, tx.amount, tx.currency, forced)

    def _apply_cover(self, flow: _Flow, amount: int, currency: str,
                     refused: str | None) -> None:
        item = flow.item
        if item.state is not ItemState.RECEIVED or not flow.cover or flow.covered:
            return
        if refused is not None:
            self._reject(flow, refused, "cover refused")
        elif (amount, currency) != (item.amount, item.currency):
            self._reject(flow, "NARR", f"cover of {amount} {currency} does not match")
        else:
            flow.covered = True
            self._progress(flow)

    # -- statuses out ------------------------------------------------------------------------

    def status_of(self, item: SimItem) -> TxStatus:
        e2e, tx_id, uetr = item.end_to_end_id, item.tx_id, item.uetr
        if item.state in (ItemState.SETTLED, ItemState.RETURNED):
            return TxStatus(e2e, "ACCC", orgnl_tx_id=tx_id, orgnl_uetr=uetr,
                            accepted_at=item.decided_at)
        if item.state is ItemState.RECEIVED:
            return TxStatus(e2e, "ACSP", orgnl_tx_id=tx_id, orgnl_uetr=uetr,
                            reason=item.detail)
        return super().status_of(item)

    def _tell(self, flow: _Flow) -> None:
        """A gpi status update about ``flow`` to its sender (held while it is away)."""
        if flow.muted:
            return
        item = flow.item
        status = self.status_of(item)
        if flow.mt:
            message = self._mt_status(item.debtor_agent, item.msg_id or _NOT_PROVIDED, status)
        else:
            message = self._mx_status(item.debtor_agent, Pacs002(
                msg_id=self.next_id("G"), created_at=self.now(),
                orgnl_msg_id=item.msg_id or _NOT_PROVIDED, orgnl_msg_name=_MX_CUSTOMER,
                transactions=(status,)))
        for _ in range(2 if flow.doubled else 1):
            self.notify(item.debtor_agent, message)

    def _business_message(self, sender: str, receiver: str, msg_id: str, document: bytes
                          ) -> bytes:
        header = AppHeader(sender=Agent(bic=sender), receiver=Agent(bic=receiver),
                           biz_msg_id=msg_id, msg_def_id=message_name(document),
                           biz_service=_SERVICE, created_at=self.now())
        return build_business_message(header, document)

    def _mx_status(self, receiver: str, report: Pacs002) -> bytes:
        return self._business_message(self.config.tracker, receiver, report.msg_id,
                                      build_pacs002(report))

    def _mt_status(self, receiver: str, related: str, status: TxStatus) -> bytes:
        """An MT199 gpi confirmation from the tracker: //STATUS[/REASON], a native code as a
        ``/CODE/`` line after it."""
        info = status.additional_info
        if status.reason_proprietary is not None:
            info = f"/{status.reason_proprietary}/{info or ''}"
        accepted = status.accepted_at
        report = Pacs002(
            msg_id=self.next_id("G"), created_at=self.now(), orgnl_msg_id=related,
            orgnl_msg_name=_MX_CUSTOMER, transactions=(msgspec.structs.replace(
                status, orgnl_end_to_end_id=_NOT_PROVIDED, orgnl_tx_id=None,
                reason_proprietary=None, additional_info=info,
                accepted_at=None if accepted is None else accepted.replace(
                    second=0, microsecond=0)),))
        mt = pacs002_to_mt199(report, sender=self.config.tracker, receiver=receiver).message
        return build_mt(mt).encode("ascii")

    # -- inquiry and returns -----------------------------------------------------------------

    def _on_inquiry(self, link: SimLink, frame: bytes, name: str) -> Pacs002:
        """Each asked transfer's status, found by UETR (either format) or end-to-end id."""
        req = parse_pacs028(frame)
        uetrs = req.orgnl_uetrs or (None,) * len(req.orgnl_end_to_end_ids)
        statuses = []
        for e2e, uetr in zip(req.orgnl_end_to_end_ids, uetrs, strict=True):
            item = self.books.items.get(self._by_uetr.get(uetr or "", e2e))
            if item is None or (uetr is not None and item.uetr != uetr):
                statuses.append(TxStatus(e2e, "RJCT", orgnl_uetr=uetr, reason="NARR",
                                         additional_info=NOT_FOUND))
            else:
                self.bind(link, item.debtor_agent)  # only its sender asks about a transfer
                statuses.append(self.status_of(item))
        return Pacs002(msg_id=self.next_id("G"), created_at=self.now(), orgnl_msg_id=req.msg_id,
                       orgnl_msg_name=name, transactions=tuple(statuses))

    def return_item(self, item: SimItem, reason: str) -> None:
        """The creditor agent sends a credited transfer back through the correspondent: the
        nostro is credited again, and the sender gets a pacs.004 (MT103 return for an MT103)."""
        day = self.open_day(self.business_date())
        self.books.unwind(item, reason, day, self.now())
        flow = self._flows.get(item.end_to_end_id)
        mt = flow is not None and flow.mt
        correspondent = self.config.correspondents[item.currency]
        back = ReturnedTransfer(
            orgnl_msg_id=item.msg_id or _NOT_PROVIDED, orgnl_msg_name=_MX_CUSTOMER,
            orgnl_end_to_end_id=item.end_to_end_id, amount=item.amount, currency=item.currency,
            settlement_date=day, return_id=self.next_id("R"),
            orgnl_tx_id=None if mt else item.tx_id, orgnl_uetr=item.uetr, charge_bearer="SHAR",
            reason=reason if reason in ISO_REASONS else None,
            reason_proprietary=None if reason in ISO_REASONS else reason)
        doc = Pacs004(msg_id=back.return_id or "", created_at=self.now(), transactions=(back,),
                      settlement_method="INDA", instructing_agent=Agent(bic=correspondent),
                      instructed_agent=Agent(bic=item.debtor_agent))
        if mt:
            message = build_mt(pacs004_to_mt103_return(doc).message).encode("ascii")
        else:
            message = self._business_message(correspondent, item.debtor_agent, doc.msg_id,
                                             build_pacs004(doc))
        self.notify(item.debtor_agent, message)

    # -- statements --------------------------------------------------------------------------

    def statement_document(self, participant: str, day: date) -> tuple[str, bytes]:
        """Every currency's MT950 of ``participant`` for ``day``, '$' between messages."""
        pages = [page for ccy in self.config.correspondents
                 for page in self.mt950(participant, day, ccy)]
        return "MT950", "$".join(pages).encode("ascii")

    def mt950(self, participant: str, day: date, currency: str) -> list[str]:
        """The nostro statement of ``participant`` in ``currency`` for business day ``day``,
        from its correspondent: one MT950 per page of ``statement_page_lines`` entries."""
        data = self.books.statement(participant, day, currency)
        per = self.config.statement_page_lines
        chunks = [data.lines[i:i + per] for i in range(0, len(data.lines), per)] or [()]
        envelope = Envelope(sender=_address(self.config.correspondents[currency]),
                            receiver=_address(participant))
        number = day.timetuple().tm_yday  # one statement per day: its number is the day's
        running = data.opening
        pages = []
        for page, lines in enumerate(chunks, start=1):
            last = page == len(chunks)
            opening = _balance(running, day, currency, "F" if page == 1 else "M")
            running += sum(ln.signed_amount for ln in lines)
            pages.append(build_mt(MT950(
                envelope=envelope, sender_ref=f"{currency}{day:%y%m%d}{page:04d}",
                account=Party(account=f"{participant}{currency}"),
                statement_number=f"{number}/{page}", opening_balance=opening,
                closing_balance=_balance(running, day, currency, "F" if last else "M"),
                entries=tuple(self._statement_line(ln.end_to_end_id, ln.signed_amount, ln.kind,
                                                   day) for ln in lines),
                closing_available_balance=_balance(running, day, currency) if last else None)))
        return pages

    def _statement_line(self, ref: str, signed: int, kind: str, day: date) -> StatementLine:
        item = self.books.items.get(ref)
        flow = self._flows.get(ref)
        if item is None or kind == "fund":
            tx_type = "NTRF"
        else:
            tx_type = "S202" if flow is not None and flow.cover else "S103"
        text = _x(ref)
        return StatementLine(
            value_date=day, mark="D" if signed < 0 else "C", amount=abs(signed),
            transaction_type=tx_type,
            customer_ref=flow.trn if flow is not None else _reference(text),
            bank_ref=None if item is None else item.channel_ref,
            details=text if 16 < len(text) <= 34 else None)

    def admin(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The base operations; ``statement`` also takes a ``currency`` (one MT950)."""
        if request["op"] == "statement" and request.get("currency"):
            day = date.fromisoformat(str(request["date"]))
            participant = str(request.get("participant") or next(iter(self.config.participants)))
            currency = str(request["currency"])
            if currency not in self.config.correspondents:
                raise ValueError(f"no correspondent for {currency}")
            return {"format": "MT950", "participant": participant, "date": day.isoformat(),
                    "currency": currency,
                    "data": "$".join(self.mt950(participant, day, currency))}
        return super().admin(request)


def _balance(signed: int, day: date, currency: str, option: str = "") -> Balance:
    return Balance(mark="D" if signed < 0 else "C", date=day, currency=currency,
                   amount=abs(signed), option=option)


_NOT_X = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


def _x(text: str) -> str:
    """``text`` in the SWIFT X character set (others as '.')."""
    return _NOT_X.sub(".", text)


def _reference(text: str) -> str:
    """A 16x reference of ``text``: its first 16 characters, no '/' at an end, no '//'.

    >>> _reference("0123456789abcdef0123"), _reference("/A//B/"), _reference("")
    ('0123456789abcdef', '.A/.B.', 'NONREF')
    """
    ref = text[:16].replace("//", "/.")
    if ref.startswith("/"):
        ref = "." + ref[1:]
    if ref.endswith("/"):
        ref = ref[:-1] + "."
    return ref or "NONREF"
