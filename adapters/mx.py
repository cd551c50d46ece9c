"""An ISO 20022 channel over one framed TCP link: pacs.008 out; pacs.002 / pacs.004 in;
pacs.028 for status inquiry. IBPS, HVPS, BEPS and CIPS are this with their own rules.

Every payment is one pacs.008 (`transfer` builds its transaction; a channel adds what it
needs, e.g. LEIs for CIPS; BEPS packs several into one), with a reply deadline on the injected
clock. Answers are matched by end-to-end id and reported through `on_status`:

- ACSC / ACCC -> SETTLED; RJCT -> REJECTED with its reason (a channel-native code in Prtry is
  mapped through the adapter's reason table; an unmapped one is NARR with the code in the
  detail); PDNG / ACSP / ACTC / ACCP -> PENDING, and the deadline becomes the pending deadline
  (a queue or a netting session takes longer than a reply);
- an inquiry answered RJCT ``NARR`` / ``NOT_FOUND`` (the simulators' convention) -> NOT_FOUND;
- a pacs.004 for one of our payments -> RETURNED with its reason;
- a request (submit or inquiry) that ends without an answer, by its deadline or by the loss of
  the connection, is reported UNKNOWN once; a later answer is still reported and resolves it.

A lost connection is re-established by `adapters.link.ChannelLink`; meanwhile `submit` and
`inquire` raise `ChannelError` and nothing is sent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date
from typing import Any, ClassVar, Self

import msgspec

from adapters.base import ChannelAdapter, ChannelError, ChannelStatus, Outcome
from adapters.link import ChannelLink
from messages.channel_framing import LinkFraming
from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    CreditTransfer,
    Pacs008,
    PartyAccount,
    StatusRequest,
    TxStatus,
    build_pacs008,
    build_pacs028,
    message_name,
    parse_pacs002,
    parse_pacs004,
)
from switch.clock import Clock, Timer
from switch.order import Party, Payment

__all__ = ["MxAdapter", "MxLinkConfig"]

log = logging.getLogger("payswitch.adapters")

_NOT_PROVIDED = "NOTPROVIDED"  # ISO placeholder when a reject cannot name the transaction
_SUBMIT, _INQUIRY = "T", "Q"  # second character of our message ids: what the message was

# pacs.002 transaction status -> outcome; anything else is logged and treated as PENDING.
_OUTCOME_OF_STATUS: dict[str, Outcome] = {
    "ACSC": Outcome.SETTLED,
    "ACCC": Outcome.SETTLED,
    "RJCT": Outcome.REJECTED,
    "PDNG": Outcome.PENDING,
    "ACSP": Outcome.PENDING,
    "ACTC": Outcome.PENDING,
    "ACCP": Outcome.PENDING,
}
_FINAL = frozenset({Outcome.SETTLED, Outcome.REJECTED, Outcome.NOT_FOUND})


class MxLinkConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[channels.<name>]` of the switch's configuration for an ISO 20022 channel."""

    host: str = "127.0.0.1"
    port: int
    reply_timeout_s: float = 20.0  # no pacs.002 by then: UNKNOWN until an inquiry answers
    pending_timeout_s: float | None = None  # after a PENDING answer; None: reply_timeout_s
    # channel-native reason code -> ISO 20022 code (e.g. "PR09" = "AG01")
    reason_map: dict[str, str] = msgspec.field(default_factory=dict)
    # a message sent and nothing heard back for this long (network time): the path is dead
    # even if the socket looks open, so the link reconnects
    silent_link_s: float = 60.0


class _Flight:
    """A payment the adapter has asked the channel about and has no final answer for."""

    __slots__ = ("end_to_end_id", "msg_ids", "payment_id", "timer")

    def __init__(self, payment_id: str, end_to_end_id: str) -> None:
        self.payment_id = payment_id
        self.end_to_end_id = end_to_end_id
        self.timer: Timer | None = None  # set while a request awaits its answer
        self.msg_ids: list[str] = []


class MxAdapter(ChannelAdapter):
    Config: ClassVar[type[MxLinkConfig]] = MxLinkConfig
    clearing_system: ClassVar[str] = "CNAPS"
    reasons: ClassVar[Mapping[str, str]] = {}  # the channel's native codes (override per channel)

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock,
        sender_bank: str,
        reply_timeout: float = 20.0,
        pending_timeout: float | None = None,
        reason_map: Mapping[str, str] | None = None,
        max_frame: int = 4 * 1024 * 1024,
        reconnect_backoff: float = 0.05,
        reconnect_backoff_cap: float = 2.0,
        silent_link_s: float = 60.0,
    ) -> None:
        super().__init__()
        self._clock = clock
        self._sender = self.sender_agent(sender_bank)
        self._sender_code = sender_bank
        self._reply_timeout = reply_timeout
        self._pending_timeout = pending_timeout if pending_timeout is not None else reply_timeout
        self._reasons = {**self.reasons, **(reason_map or {})}
        self._link = ChannelLink(self.channel, host, port, LinkFraming(max_frame), self._on_frame,
                                 on_down=self._on_down, backoff=reconnect_backoff,
                                 backoff_cap=reconnect_backoff_cap, silence_s=silent_link_s)
        self.statement_host, self.statement_port = host, port
        self._flights: dict[str, _Flight] = {}  # by end-to-end id
        # by our message id, then end-to-end id: a message-level reject answers all of them
        self._by_msg: dict[str, dict[str, _Flight]] = {}
        self._msg_prefix = "P" + uuid.uuid4().hex[:12]  # ids stay unique across restarts
        self._seq = 0

    @classmethod
    def from_config(cls, config: MxLinkConfig, *, clock: Clock, bank: Any) -> Self:
        """The adapter as `[channels.<name>]` and `[bank]` of the switch's file describe it."""
        return cls(config.host, config.port, clock=clock, sender_bank=cls.bank_code(bank),
                   reply_timeout=config.reply_timeout_s,
                   pending_timeout=config.pending_timeout_s, reason_map=config.reason_map,
                   silent_link_s=config.silent_link_s)

    @classmethod
    def bank_code(cls, bank: Any) -> str:
        """Our participant code at this channel, from `[bank]` (CNAPS code by default)."""
        return str(bank.cnaps_code)

    def sender_agent(self, code: str) -> Agent:
        return Agent(member_id=code, clearing_system=self.clearing_system)

    @property
    def participant(self) -> str:
        return self._sender_code

    @property
    def connected(self) -> bool:
        return self._link.up

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._link.start()
        except OSError as err:
            raise ChannelError(f"{self.channel}: cannot connect to "
                               f"{self._link.host}:{self._link.port}: {err}") from err

    async def close(self) -> None:
        await self._link.close()
        for flight in self._flights.values():
            if flight.timer is not None:
                flight.timer.cancel()

    # -- outbound ----------------------------------------------------------------------------

    async def submit(self, payment: Payment) -> None:
        msg_id = self._next_msg_id(_SUBMIT)
        document = build_pacs008(self.pacs008(payment, msg_id))
        await self._send(payment, msg_id, document)

    async def inquire(self, payment: Payment) -> None:
        msg_id = self._next_msg_id(_INQUIRY)
        req = StatusRequest(msg_id, self._clock.now(), (payment.end_to_end_id,),
                            orgnl_uetrs=(payment.uetr,))
        await self._send(payment, msg_id, build_pacs028(req))

    async def _send(self, payment: Payment, msg_id: str, document: bytes) -> None:
        await self._send_message((payment,), msg_id, document)

    async def _send_message(self, payments: Sequence[Payment], msg_id: str,
                            document: bytes) -> None:
        """Send one message about ``payments`` (a channel may carry several in one)."""
        if not await self._link.writable() or not self._link.up:
            raise ChannelError(f"{self.channel}: not connected")
        by_e2e = self._by_msg.setdefault(msg_id, {})
        for payment in payments:
            e2e = payment.end_to_end_id
            flight = self._flights.get(e2e)
            if flight is None:
                flight = self._flights[e2e] = _Flight(payment.payment_id, e2e)
            flight.msg_ids.append(msg_id)
            by_e2e[e2e] = flight
            self._arm(flight, self._reply_timeout)
        framed = self.envelope(document, msg_id)
        self._link.send(framed)
        self.journal("out", [p.payment_id for p in payments], framed)

    def envelope(self, document: bytes, msg_id: str) -> bytes:
        """How the document ``msg_id`` travels on the link: as it is here; a channel with a
        business application header (CIPS: head.001) puts it around the document."""
        return document

    def open_envelope(self, frame: bytes) -> bytes:
        """The document inside a frame from the channel (raises MessageError if unreadable)."""
        return frame

    def pacs008(self, payment: Payment, msg_id: str) -> Pacs008:
        return Pacs008(msg_id=msg_id, created_at=self._clock.now(),
                       transactions=(self.transfer(payment),), instructing_agent=self._sender)

    def transfer(self, payment: Payment) -> CreditTransfer:
        """The pacs.008 transaction of one payment (channels add what they need)."""
        order = payment.order
        return CreditTransfer(
            end_to_end_id=payment.end_to_end_id,
            tx_id=payment.payment_id,
            uetr=payment.uetr,
            amount=order.amount,
            currency=order.currency,
            settlement_date=self.settlement_date(payment),
            debtor=self.party(order.debtor),
            debtor_agent=self.agent(order.debtor),
            creditor=self.party(order.creditor),
            creditor_agent=self.agent(order.creditor),
            purpose=order.purpose,
            remittance_info=order.remittance_info,
        )

    def settlement_date(self, payment: Payment) -> date:
        """IntrBkSttlmDt: the channel business day the router chose (HVPS and CIPS open the
        evening before theirs), else today."""
        if payment.business_date:
            return date.fromisoformat(payment.business_date)
        return self._clock.now().astimezone(UTC).date()

    def party(self, party: Party) -> PartyAccount:
        return PartyAccount(party.name, account=party.account, country=party.country)

    def agent(self, party: Party) -> Agent:
        return Agent(member_id=party.agent, clearing_system=self.clearing_system)

    def _next_msg_id(self, kind: str) -> str:
        self._seq += 1
        return f"{self._msg_prefix[0]}{kind}{self._msg_prefix[1:]}{self._seq:010d}"

    # -- deadlines ---------------------------------------------------------------------------

    def _arm(self, flight: _Flight, timeout: float) -> None:
        if flight.timer is not None:
            flight.timer.cancel()
        flight.timer = self._clock.call_later(timeout, self._deadline, flight, timeout)

    def _deadline(self, flight: _Flight, timeout: float) -> None:
        flight.timer = None
        self._report(flight, Outcome.UNKNOWN, detail=f"no answer within {timeout:g}s")

    # -- inbound -----------------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        wire = frame
        try:
            frame = self.open_envelope(frame)
            name = message_name(frame)
            if name.startswith("pacs.004"):
                self.journal("in", self._on_return(frame), wire)
                return
            report = parse_pacs002(frame)
        except MessageError as err:
            log.warning("%s: unreadable message ignored: %s", self.channel, err)
            self.journal("in", (), wire)
            return
        about: list[str] = []
        for tx in report.transactions:
            if tx.orgnl_end_to_end_id == _NOT_PROVIDED:
                flights = list(self._by_msg.get(report.orgnl_msg_id, {}).values())
            else:
                flight = self._flights.get(tx.orgnl_end_to_end_id)
                flights = [flight] if flight is not None else []
            if not flights:
                log.info("%s: status %s for %s, not in flight (already final here)",
                         self.channel, tx.status, tx.orgnl_end_to_end_id)
            for flight in flights:
                about.append(flight.payment_id)
                self._on_status(flight, tx, report.orgnl_msg_id)
        self.journal("in", about, wire)

    def _on_status(self, flight: _Flight, tx: TxStatus, orgnl_msg_id: str) -> None:
        outcome = _OUTCOME_OF_STATUS.get(tx.status)
        if outcome is None:
            log.warning("%s: unknown status %s for %s; still waiting", self.channel, tx.status,
                        flight.end_to_end_id)
            outcome = Outcome.PENDING
        reason, detail = None, tx.additional_info
        if outcome is Outcome.REJECTED:
            if (tx.reason == "NARR" and tx.additional_info == "NOT_FOUND"
                    and orgnl_msg_id[1:2] == _INQUIRY):
                outcome = Outcome.NOT_FOUND
            else:
                reason, detail = self._iso_reason(tx)
        if outcome in _FINAL:
            self._land(flight)
        else:
            self._arm(flight, self.pending_timeout(tx))  # the channel has it: wait for its word
        self._report(flight, outcome, reason=reason, detail=detail)

    def pending_timeout(self, tx: TxStatus) -> float:
        """Seconds to wait for the channel's word once it said ``tx`` is pending, from now (a
        channel that knows when its queue or session ends, HVPS or BEPS, waits for that)."""
        return self._pending_timeout

    def _iso_reason(self, tx: TxStatus) -> tuple[str, str | None]:
        if tx.reason is not None:
            return tx.reason, tx.additional_info
        native = tx.reason_proprietary or ""
        iso = self._reasons.get(native)
        if iso is None:
            log.warning("%s: native reason %r has no ISO mapping; NARR", self.channel, native)
            return "NARR", f"{native} {tx.additional_info or ''}".strip()
        return iso, f"{native} {tx.additional_info or ''}".strip()

    def _on_return(self, frame: bytes) -> list[str]:
        """Report each returned payment; the payment ids the return was about."""
        doc = parse_pacs004(frame)
        about = []
        for ret in doc.transactions:
            e2e = ret.orgnl_end_to_end_id
            payment_id = ret.orgnl_tx_id or e2e
            about.append(payment_id)
            self._emit(ChannelStatus(payment_id=payment_id, end_to_end_id=e2e,
                                     outcome=Outcome.RETURNED, reason=ret.reason or "NARR",
                                     channel_ref=ret.return_id,
                                     detail=f"returned {ret.amount} {ret.currency}"))
        return about

    def _land(self, flight: _Flight) -> None:
        if flight.timer is not None:
            flight.timer.cancel()
            flight.timer = None
        self._flights.pop(flight.end_to_end_id, None)
        for msg_id in flight.msg_ids:
            by_e2e = self._by_msg.get(msg_id)
            if by_e2e is not None:
                by_e2e.pop(flight.end_to_end_id, None)
                if not by_e2e:
                    del self._by_msg[msg_id]

    def _report(self, flight: _Flight, outcome: Outcome, *, reason: str | None = None,
                detail: str | None = None) -> None:
        self._emit(ChannelStatus(payment_id=flight.payment_id,
                                 end_to_end_id=flight.end_to_end_id, outcome=outcome,
                                 reason=reason, detail=detail))

    def _emit(self, status: ChannelStatus) -> None:
        try:
            self.on_status(status)
        except Exception:  # the switch's failure must not take the link down with it
            log.exception("%s: on_status failed for %s", self.channel, status.payment_id)

    def _on_down(self, exc: Exception | None) -> None:
        # Every request still waiting for its answer is now UNKNOWN (never FAILED: invariant 2).
        for flight in list(self._flights.values()):
            if flight.timer is not None:
                flight.timer.cancel()
                flight.timer = None
                self._report(flight, Outcome.UNKNOWN, detail="connection lost")
