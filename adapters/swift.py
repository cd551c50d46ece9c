"""SWIFT adapter: cross-border payments through correspondents, in MX (CBPR+) or MT, with gpi.

Each payment is a customer transfer from this bank's BIC: a pacs.008 in a business message
(AppHdr + Document) by default, or an MT103 with ``format = "mt"`` on an older link (made from
the same pacs.008 by `messages.translate`). In a cover currency (cfg) the transfer goes to the
creditor's bank (settlement method COVE) and its money follows at once as a pacs.009 COV /
MT202 COV to the currency's correspondent, with the same UETR; otherwise it goes to the
correspondent (INDA: our nostro there). The value date is the payment's business date (the
router's, after the currency's cut-off), else today where the correspondents are.

Answers arrive as gpi status updates, matched by UETR (an MT199 carries no end-to-end id):
ACSP (G000..G004) -> PENDING with the G-code and its meaning in the detail, and the pending
deadline (cfg: gpi takes minutes to a day); ACCC -> SETTLED; RJCT -> REJECTED with the ISO
reason, a FIN error code (Rsn/Prtry, or a ``/T27/`` line in an MT199) mapped through
``reason_map``. Inquiry is pacs.028 on either kind of link, with the NOT_FOUND convention of
`adapters.mx`; a pacs.004 or MT103 return -> RETURNED. Deadlines, UNKNOWN once, reconnects:
`adapters.mx.MxAdapter`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo

import msgspec

from adapters.base import ChannelStatus, Outcome
from adapters.mx import MxAdapter, MxLinkConfig
from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    AppHeader,
    BankTransfer,
    CreditTransfer,
    Pacs002,
    Pacs004,
    Pacs008,
    Pacs009,
    StatusRequest,
    TxStatus,
    UnderlyingCustomerTransfer,
    build_business_message,
    build_pacs008,
    build_pacs009,
    build_pacs028,
    message_name,
    parse_business_message,
    parse_pacs002,
    parse_pacs004,
)
from messages.mt import MT103, MT199, build_mt, parse_mt
from messages.translate import (
    mt103_return_to_pacs004,
    mt199_to_pacs002,
    pacs008_to_mt103,
    pacs009_to_mt202,
)
from messages.translate.returns import is_return
from switch.clock import Clock
from switch.order import Party, Payment

__all__ = ["CORRESPONDENTS", "FIN_REASONS", "GPI_REASONS", "SwiftAdapter", "SwiftLinkConfig"]

log = logging.getLogger("payswitch.adapters")

# FIN validation error codes (a NAK's, or a gateway's reject) -> ISO 20022 reason codes
FIN_REASONS: dict[str, str] = {
    "T27": "RC01",  # BIC incorrect
    "T28": "RC01",  # BIC incorrect (not a financial institution's)
    "T29": "RC01",  # BIC incorrect (not connected)
    "T50": "DT01",  # invalid date
    "T52": "AM03",  # invalid currency code
    "T73": "BE09",  # invalid country code
}
GPI_REASONS: dict[str, str] = {
    "G000": "sent on to a gpi bank",
    "G001": "sent on to a bank outside gpi",
    "G002": "credit may not be same day",
    "G003": "pending documents",
    "G004": "pending cover funds",
}
# currency -> the correspondent holding our nostro (must agree with the network's)
CORRESPONDENTS: dict[str, str] = {
    "USD": "CHASUS33XXX", "EUR": "DEUTDEFFXXX", "GBP": "BARCGB22XXX", "JPY": "MHCBJPJTXXX",
    "HKD": "HSBCHKHHXXX", "CNY": "BKCHHKHHXXX",  # CNY: offshore renminbi (CNH)
}
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_NATIVE = re.compile(r"/([A-Z0-9]{1,4})/(.*)", re.DOTALL)
_NOT_PROVIDED = "NOTPROVIDED"
_CHARGE_BEARERS = frozenset({"DEBT", "CRED", "SHAR"})  # CBPR+ forbids SLEV: it goes as SHAR
_SENT_MEMORY = 200_000  # UETRs of sent payments kept to match MT returns (which carry no id)


class SwiftLinkConfig(MxLinkConfig, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[channels.swift]`: the link, its format, the correspondents and the gpi deadlines."""

    reply_timeout_s: float = 60.0
    pending_timeout_s: float | None = 86_400.0  # gpi: minutes to a day after an ACSP
    reason_map: dict[str, str] = msgspec.field(default_factory=dict)  # over FIN_REASONS
    format: Literal["mx", "mt"] = "mx"  # "mt": MT103 / MT202 COV on a link not yet on CBPR+
    correspondents: dict[str, str] = msgspec.field(default_factory=lambda: dict(CORRESPONDENTS))
    cover_currencies: tuple[str, ...] = ("USD", "EUR")  # sent by the cover method
    tracker: str = "TRCKCHZZXXX"  # the gpi tracker, which answers status inquiries
    timezone: str = "Europe/Paris"  # where today's value date is read
    business_service: str = "swift.cbprplus.02"

    def __post_init__(self) -> None:
        for name, bic in (*self.correspondents.items(), ("tracker", self.tracker)):
            if _BIC.fullmatch(bic) is None:
                raise ValueError(f"{name}: {bic!r} is not a BIC")
        for ccy in self.cover_currencies:
            if ccy not in self.correspondents:
                raise ValueError(f"cover_currencies: {ccy} has no correspondent")
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"timezone: {self.timezone!r} is not an IANA time zone") from None


class SwiftAdapter(MxAdapter):
    channel = "SWIFT"
    Config: ClassVar[type[MxLinkConfig]] = SwiftLinkConfig
    reasons: ClassVar[Mapping[str, str]] = FIN_REASONS  # under the configured reason_map

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock,
        sender_bank: str,
        format: Literal["mx", "mt"] = "mx",
        correspondents: Mapping[str, str] | None = None,
        cover_currencies: tuple[str, ...] = ("USD", "EUR"),
        tracker: str = "TRCKCHZZXXX",
        timezone: str = "Europe/Paris",
        business_service: str = "swift.cbprplus.02",
        **link: Any,
    ) -> None:
        super().__init__(host, port, clock=clock, sender_bank=sender_bank, **link)
        self.format = format
        self._correspondents = dict(CORRESPONDENTS if correspondents is None
                                    else correspondents)
        self._cover_currencies = frozenset(cover_currencies)
        self._tracker = tracker
        self._tz = ZoneInfo(timezone)
        self._service = business_service
        self._refs: dict[str, str] = {}  # UETR and field 20 of payments in flight -> e2e id
        self._refs_of: dict[str, tuple[str, str]] = {}  # e2e id -> its UETR and field 20
        self._sent: dict[str, tuple[str, str]] = {}  # UETR -> payment id, e2e id

    @classmethod
    def from_config(cls, config: MxLinkConfig, *, clock: Clock, bank: Any) -> Self:
        if not isinstance(config, SwiftLinkConfig):
            raise TypeError("the SWIFT adapter needs a SwiftLinkConfig")
        return cls(config.host, config.port, clock=clock, sender_bank=cls.bank_code(bank),
                   reply_timeout=config.reply_timeout_s,
                   pending_timeout=config.pending_timeout_s, reason_map=config.reason_map,
                   format=config.format, correspondents=config.correspondents,
                   cover_currencies=config.cover_currencies, tracker=config.tracker,
                   timezone=config.timezone, business_service=config.business_service,
                   silent_link_s=config.silent_link_s)

    @classmethod
    def bank_code(cls, bank: Any) -> str:
        return str(bank.bic)

    def sender_agent(self, code: str) -> Agent:
        return Agent(bic=code)

    # -- outbound ----------------------------------------------------------------------------

    async def submit(self, payment: Payment) -> None:
        """The customer transfer, and in a cover currency its cover right behind it."""
        msg_id = self._next_msg_id("T")
        transfer = self.pacs008(payment, msg_id)
        documents = [self._customer_message(transfer)]
        cover_id = None
        if payment.order.currency in self._cover_currencies:
            cover_id = self._next_msg_id("C")
            documents.append(self._cover_message(self.cover(payment, cover_id)))
        await self._send(payment, msg_id, documents[0])
        self._remember(payment)
        if cover_id is not None:
            # the same loop turn as the transfer, so both leave in one write, in order
            flight = self._flights[payment.end_to_end_id]
            flight.msg_ids.append(cover_id)
            self._by_msg[cover_id] = {flight.end_to_end_id: flight}
            self._link.send(documents[1])
            self.journal("out", (payment.payment_id,), documents[1])

    async def inquire(self, payment: Payment) -> None:
        """A pacs.028 to the gpi tracker (on an MT link too: MT has no status request)."""
        msg_id = self._next_msg_id("Q")
        request = StatusRequest(msg_id, self._clock.now(), (payment.end_to_end_id,),
                                orgnl_uetrs=(payment.uetr,))
        await self._send(payment, msg_id, self._wrap(self._tracker, msg_id,
                                                     build_pacs028(request)))
        self._remember(payment)

    def pacs008(self, payment: Payment, msg_id: str) -> Pacs008:
        cover = payment.order.currency in self._cover_currencies
        tx = self.transfer(payment)
        next_bank = tx.creditor_agent if cover else \
            Agent(bic=self._correspondent(payment.order.currency))
        return Pacs008(msg_id=msg_id, created_at=self._clock.now(), transactions=(tx,),
                       settlement_method="COVE" if cover else "INDA",
                       instructing_agent=self._sender, instructed_agent=next_bank)

    def transfer(self, payment: Payment) -> CreditTransfer:
        order = payment.order
        if _BIC.fullmatch(order.creditor.agent) is None:
            # checked here: MT translation would only warn and leave field 57a out
            raise MessageError("SWIFT_BAD_BIC", f"{order.creditor.agent!r} is not a BIC",
                               where="creditor.agent")
        return CreditTransfer(
            end_to_end_id=payment.end_to_end_id, tx_id=payment.payment_id,
            instr_id=reference(payment.end_to_end_id), uetr=payment.uetr,
            amount=order.amount, currency=order.currency,
            settlement_date=self.value_date(payment),
            debtor=self.party(order.debtor), debtor_agent=self.agent(order.debtor),
            creditor=self.party(order.creditor), creditor_agent=Agent(bic=order.creditor.agent),
            charge_bearer=order.charge_bearer if order.charge_bearer in _CHARGE_BEARERS
            else "SHAR",
            purpose=order.purpose, remittance_info=order.remittance_info,
        )

    def cover(self, payment: Payment, msg_id: str) -> Pacs009:
        """The pacs.009 COV that moves the money of ``payment`` through the correspondent."""
        tx = self.transfer(payment)
        bank = BankTransfer(
            end_to_end_id=tx.end_to_end_id, tx_id=("C" + tx.tx_id)[:35], instr_id=cover_reference(
                tx.end_to_end_id), uetr=tx.uetr, amount=tx.amount, currency=tx.currency,
            settlement_date=tx.settlement_date, debtor=self._sender,
            creditor=tx.creditor_agent, instructing_agent=self._sender,
            instructed_agent=Agent(bic=self._correspondent(tx.currency)),
            underlying=UnderlyingCustomerTransfer(
                debtor=tx.debtor, debtor_agent=tx.debtor_agent, creditor_agent=tx.creditor_agent,
                creditor=tx.creditor, remittance_info=tx.remittance_info))
        return Pacs009(msg_id=msg_id, created_at=self._clock.now(), transactions=(bank,),
                       settlement_method="INDA")

    def agent(self, party: Party) -> Agent:
        """The party's bank by BIC; a debtor banking with us by its domestic code is ours."""
        return Agent(bic=party.agent) if _BIC.fullmatch(party.agent) else self._sender

    def value_date(self, payment: Payment) -> date:
        if payment.business_date:
            return date.fromisoformat(payment.business_date)
        return self._clock.now().astimezone(self._tz).date()

    def _correspondent(self, currency: str) -> str:
        bic = self._correspondents.get(currency)
        if bic is None:
            raise MessageError("SWIFT_NO_CORRESPONDENT",
                               f"no correspondent holds a {currency} nostro for us",
                               where="IntrBkSttlmAmt/@Ccy")
        return bic

    def _customer_message(self, doc: Pacs008) -> bytes:
        if self.format == "mt":
            translated = pacs008_to_mt103(doc)
            _log_losses(doc.msg_id, translated.warnings)
            return build_mt(translated.message).encode("ascii")
        assert doc.instructed_agent is not None and doc.instructed_agent.bic is not None
        return self._wrap(doc.instructed_agent.bic, doc.msg_id, build_pacs008(doc))

    def _cover_message(self, doc: Pacs009) -> bytes:
        if self.format == "mt":
            translated = pacs009_to_mt202(doc)
            _log_losses(doc.msg_id, translated.warnings)
            return build_mt(translated.message).encode("ascii")
        to = doc.transactions[0].instructed_agent
        assert to is not None and to.bic is not None
        return self._wrap(to.bic, doc.msg_id, build_pacs009(doc))

    def _wrap(self, receiver: str, msg_id: str, document: bytes) -> bytes:
        """``document`` as a CBPR+ business message from us to ``receiver``."""
        header = AppHeader(sender=self._sender, receiver=Agent(bic=receiver), biz_msg_id=msg_id,
                           msg_def_id=message_name(document), biz_service=self._service,
                           created_at=self._clock.now())
        return build_business_message(header, document)

    def _remember(self, payment: Payment) -> None:
        """Keep the UETR and field 20 of ``payment``: MT answers name it by those alone."""
        e2e = payment.end_to_end_id
        refs = (payment.uetr, reference(e2e))
        self._refs_of[e2e] = refs
        for ref in refs:
            self._refs[ref] = e2e
        self._sent[payment.uetr] = (payment.payment_id, e2e)
        if len(self._sent) > _SENT_MEMORY:
            del self._sent[next(iter(self._sent))]

    def _land(self, flight: Any) -> None:
        super()._land(flight)
        for ref in self._refs_of.pop(flight.end_to_end_id, ()):
            self._refs.pop(ref, None)

    # -- inbound -----------------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        about: list[str] = []
        try:
            if frame.startswith(b"{1:"):
                about = self._on_mt(parse_mt(frame.decode("ascii")))
            else:
                name, document = _read_mx(frame)
                if name.startswith("pacs.002"):
                    about = self._on_report(parse_pacs002(document))
                elif name.startswith("pacs.004"):
                    about = self._on_returns(parse_pacs004(document))
                else:
                    log.warning("%s: %s ignored: not an answer", self.channel, name)
        except (MessageError, UnicodeDecodeError) as err:
            log.warning("%s: unreadable message ignored: %s", self.channel, err)
        self.journal("in", about, frame)

    def _on_mt(self, msg: Any) -> list[str]:
        if isinstance(msg, MT199):
            return self._on_report(mt199_to_pacs002(msg, created_at=self._clock.now()).message)
        if isinstance(msg, MT103) and is_return(msg):
            return self._on_returns(
                mt103_return_to_pacs004(msg, created_at=self._clock.now()).message)
        log.warning("%s: MT%s ignored: not an answer", self.channel, msg.MESSAGE_TYPE)
        return []

    def _on_report(self, report: Pacs002) -> list[str]:
        about = []
        for tx in report.transactions:
            flight = self._flight_of(tx, report.orgnl_msg_id)
            if flight is None:
                log.info("%s: status %s for %s, not in flight (already final here)",
                         self.channel, tx.status, tx.orgnl_uetr or tx.orgnl_end_to_end_id)
                continue
            about.append(flight.payment_id)
            self._on_status(flight, gpi_status(tx), report.orgnl_msg_id)
        return about

    def _flight_of(self, tx: TxStatus, orgnl_msg_id: str) -> Any:
        """The payment an answer is about: by UETR, end-to-end id, our message id, field 20."""
        for e2e in (self._refs.get(tx.orgnl_uetr or ""), tx.orgnl_end_to_end_id,
                    self._refs.get(orgnl_msg_id)):
            if e2e is not None and e2e in self._flights:
                return self._flights[e2e]
        by_e2e = self._by_msg.get(orgnl_msg_id)  # one payment per SWIFT message
        return next(iter(by_e2e.values())) if by_e2e else None

    def _on_returns(self, doc: Pacs004) -> list[str]:
        about = []
        for ret in doc.transactions:
            ids = self._sent.get(ret.orgnl_uetr or "")
            if ids is None and ret.orgnl_tx_id is not None:
                ids = (ret.orgnl_tx_id, ret.orgnl_end_to_end_id)  # our TxId is the payment id
            if ids is None:
                log.error("%s: return %s of UETR %s matches no payment sent by this process",
                          self.channel, ret.return_id, ret.orgnl_uetr)
                continue
            about.append(ids[0])
            self._emit(ChannelStatus(payment_id=ids[0], end_to_end_id=ids[1],
                                     outcome=Outcome.RETURNED,
                                     reason=ret.reason or ret.reason_proprietary or "NARR",
                                     channel_ref=ret.return_id,
                                     detail=f"returned {ret.amount} {ret.currency}"))
        return about


def reference(end_to_end_id: str) -> str:
    """Field 20 (InstrId) of a payment: its end-to-end id fitted to 16x as CBPR+ does (cut
    to 15 and '+'), which is also what translation writes in field 21 of its cover.

    >>> reference("E2E-1"), reference("0123456789abcdef0123456789abcdef")
    ('E2E-1', '0123456789abcde+')
    """
    return end_to_end_id if len(end_to_end_id) <= 16 else end_to_end_id[:15] + "+"


def cover_reference(end_to_end_id: str) -> str:
    """Field 20 of the cover: the payment's reference with C in its last place.

    >>> cover_reference("E2E-1"), cover_reference("0123456789abcdef0123456789abcdef")
    ('E2E-1C', '0123456789abcdeC')
    """
    return end_to_end_id[:15] + "C"


def gpi_status(tx: TxStatus) -> TxStatus:
    """``tx`` as the switch is told it: a gpi G-code spelt out in the detail, and a native
    code written as a ``/CODE/`` narrative (MT199) moved to Rsn/Prtry."""
    if tx.status in ("ACSP", "ACCC") and tx.reason in GPI_REASONS:
        text = f"{tx.reason} {GPI_REASONS[tx.reason]}"
        return msgspec.structs.replace(
            tx, additional_info=text if not tx.additional_info else
            f"{text}: {tx.additional_info}")
    if tx.status == "RJCT" and tx.reason is None and tx.reason_proprietary is None:
        found = _NATIVE.fullmatch(tx.additional_info or "")
        if found is not None:
            return msgspec.structs.replace(tx, reason_proprietary=found.group(1),
                                           additional_info=found.group(2) or None)
    return tx


def _read_mx(frame: bytes) -> tuple[str, bytes]:
    """(message name, Document) of a business message, or of a bare Document (a link-level
    refusal). The business message is tried first: it is what the link almost always carries."""
    try:
        document = parse_business_message(frame)[1]
    except MessageError:
        document = frame
    return message_name(document), document


def _log_losses(msg_id: str, warnings: tuple[Any, ...]) -> None:
    for loss in warnings:
        log.debug("SWIFT %s: MT translation: %s", msg_id, loss)
