"""IBPS adapter: pacs.008 out, pacs.002 in, pacs.028 for status inquiry, over one framed TCP link.

Every payment is one pacs.008 with one transaction, written coalesced (one `transport.write` per
loop turn), with a reply deadline. Answers are matched by end-to-end id and reported through
`on_status`:

- ACSC / ACCC -> SETTLED; RJCT -> REJECTED with its reason; PDNG / ACSP / ACTC / ACCP -> PENDING
  (the deadline starts again);
- an inquiry answered RJCT ``NARR`` / ``NOT_FOUND`` (the IBPS simulator's convention) -> NOT_FOUND;
- a request (submit or inquiry) that ends without an answer, by its deadline or by the loss of the
  connection, is reported UNKNOWN once; a later answer is still reported and resolves it.

A lost connection is re-established with capped exponential backoff; meanwhile `submit` and
`inquire` raise `ChannelError` and nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC
from typing import cast

from adapters.base import ChannelAdapter, ChannelError, ChannelStatus, Outcome
from messages.channel_framing import LinkReader, encode
from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    CreditTransfer,
    Pacs008,
    PartyAccount,
    StatusRequest,
    build_pacs008,
    build_pacs028,
    parse_pacs002,
)
from switch.clock import Clock
from switch.order import Party, Payment

__all__ = ["IbpsAdapter"]

log = logging.getLogger(__name__)

_CLEARING_SYSTEM = "CNAPS"
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


class _Flight:
    """A payment the adapter has asked the channel about and has no final answer for."""

    __slots__ = ("end_to_end_id", "msg_ids", "payment_id", "timer")

    def __init__(self, payment_id: str, end_to_end_id: str) -> None:
        self.payment_id = payment_id
        self.end_to_end_id = end_to_end_id
        self.timer: asyncio.TimerHandle | None = None  # set while a request awaits its answer
        self.msg_ids: list[str] = []


class IbpsAdapter(ChannelAdapter):
    channel = "IBPS"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock,
        sender_bank: str,
        reply_timeout: float = 20.0,
        max_frame: int = 4 * 1024 * 1024,
        reconnect_backoff: float = 0.05,
        reconnect_backoff_cap: float = 2.0,
    ) -> None:
        super().__init__()
        self._host = host
        self._port = port
        self._clock = clock
        self._sender = Agent(member_id=sender_bank, clearing_system=_CLEARING_SYSTEM)
        self._reply_timeout = reply_timeout
        self._max_frame = max_frame
        self._backoff = reconnect_backoff
        self._backoff_cap = reconnect_backoff_cap
        self._link: _AdapterLink | None = None
        self._flights: dict[str, _Flight] = {}  # by end-to-end id
        self._by_msg: dict[str, _Flight] = {}  # by our message id, for message-level rejects
        self._msg_prefix = "P" + uuid.uuid4().hex[:12]  # ids stay unique across restarts
        self._seq = 0
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._link is not None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._closing = False
        try:
            await self._connect()
        except OSError as err:
            # Keep trying in the background: a switch started before its channel must not
            # stay cut off from it until someone restarts the switch.
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())
            raise ChannelError(f"IBPS: cannot connect to {self._host}:{self._port}: {err}") from err

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
            self._reconnecting = None
        link = self._link
        if link is not None:
            link.close()
            await link.lost

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: _AdapterLink(self), self._host, self._port)

    async def _reconnect(self) -> None:
        delay = self._backoff
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except OSError as err:
                log.info("IBPS: reconnect failed (%s); next try in %.2fs", err, delay)
                delay = min(delay * 2, self._backoff_cap)
            else:
                log.info("IBPS: reconnected to %s:%d", self._host, self._port)
                return

    # -- outbound ----------------------------------------------------------------------------

    async def submit(self, payment: Payment) -> None:
        link = await self._writable_link()
        msg_id = self._next_msg_id(_SUBMIT)
        frame = encode(build_pacs008(self._pacs008(payment, msg_id)))
        self._send(link, payment, msg_id, frame)

    async def inquire(self, payment: Payment) -> None:
        link = await self._writable_link()
        msg_id = self._next_msg_id(_INQUIRY)
        req = StatusRequest(msg_id, self._clock.now(), (payment.end_to_end_id,))
        self._send(link, payment, msg_id, encode(build_pacs028(req)))

    async def _writable_link(self) -> _AdapterLink:
        link = self._link
        if link is not None and link.paused is not None:
            await link.paused  # the socket buffer is full: wait for the kernel to take it
            link = self._link
        if link is None:
            raise ChannelError("IBPS: not connected")
        return link

    def _send(self, link: _AdapterLink, payment: Payment, msg_id: str, frame: bytes) -> None:
        e2e = payment.end_to_end_id
        flight = self._flights.get(e2e)
        if flight is None:
            flight = self._flights[e2e] = _Flight(payment.payment_id, e2e)
        flight.msg_ids.append(msg_id)
        self._by_msg[msg_id] = flight
        self._arm(flight)
        link.send(frame)

    def _pacs008(self, payment: Payment, msg_id: str) -> Pacs008:
        order = payment.order
        now = self._clock.now()
        tx = CreditTransfer(
            end_to_end_id=payment.end_to_end_id,
            tx_id=payment.payment_id,
            uetr=payment.uetr,
            amount=order.amount,
            currency=order.currency,
            settlement_date=now.astimezone(UTC).date(),
            debtor=_account(order.debtor),
            debtor_agent=_agent(order.debtor),
            creditor=_account(order.creditor),
            creditor_agent=_agent(order.creditor),
            purpose=order.purpose,
            remittance_info=order.remittance_info,
        )
        return Pacs008(
            msg_id=msg_id,
            created_at=now,
            transactions=(tx,),
            instructing_agent=self._sender,
        )

    def _next_msg_id(self, kind: str) -> str:
        self._seq += 1
        return f"{self._msg_prefix[0]}{kind}{self._msg_prefix[1:]}{self._seq:010d}"

    # -- deadlines ---------------------------------------------------------------------------

    def _arm(self, flight: _Flight) -> None:
        if flight.timer is not None:
            flight.timer.cancel()
        loop = asyncio.get_running_loop()
        flight.timer = loop.call_later(self._reply_timeout, self._deadline, flight)

    def _deadline(self, flight: _Flight) -> None:
        flight.timer = None
        self._report(flight, Outcome.UNKNOWN, detail=f"no answer within {self._reply_timeout}s")

    # -- inbound -----------------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        try:
            report = parse_pacs002(frame)
        except MessageError as err:
            log.warning("IBPS: unreadable reply ignored: %s", err)
            return
        for tx in report.transactions:
            e2e = tx.orgnl_end_to_end_id
            flight = (
                self._by_msg.get(report.orgnl_msg_id)
                if e2e == _NOT_PROVIDED
                else self._flights.get(e2e)
            )
            if flight is None:
                log.warning("IBPS: status %s for unknown end-to-end id %s", tx.status, e2e)
                continue
            outcome = _OUTCOME_OF_STATUS.get(tx.status)
            if outcome is None:
                log.warning("IBPS: unknown status %s for %s; still waiting", tx.status, e2e)
                outcome = Outcome.PENDING
            if (
                outcome is Outcome.REJECTED
                and tx.reason == "NARR"
                and tx.additional_info == "NOT_FOUND"
                and report.orgnl_msg_id[1:2] == _INQUIRY
            ):
                outcome = Outcome.NOT_FOUND
            if outcome in _FINAL:
                self._settle_flight(flight)
            else:
                self._arm(flight)  # PENDING: the channel has it; keep waiting for the final word
            self._report(
                flight,
                outcome,
                reason=tx.reason if outcome is Outcome.REJECTED else None,
                detail=tx.additional_info,
            )

    def _settle_flight(self, flight: _Flight) -> None:
        if flight.timer is not None:
            flight.timer.cancel()
            flight.timer = None
        self._flights.pop(flight.end_to_end_id, None)
        for msg_id in flight.msg_ids:
            self._by_msg.pop(msg_id, None)

    def _report(
        self,
        flight: _Flight,
        outcome: Outcome,
        *,
        reason: str | None = None,
        detail: str | None = None,
    ) -> None:
        status = ChannelStatus(
            payment_id=flight.payment_id,
            end_to_end_id=flight.end_to_end_id,
            outcome=outcome,
            reason=reason,
            detail=detail,
        )
        try:
            self.on_status(status)
        except Exception:  # the switch's failure must not take the link down with it
            log.exception("IBPS: on_status failed for %s", flight.payment_id)

    # -- link events -------------------------------------------------------------------------

    def _on_connected(self, link: _AdapterLink) -> None:
        self._link = link

    def _on_lost(self, link: _AdapterLink, exc: Exception | None) -> None:
        if self._link is link:
            self._link = None
        # Every request still waiting for its answer is now UNKNOWN (never FAILED: invariant 2).
        for flight in list(self._flights.values()):
            if flight.timer is not None:
                flight.timer.cancel()
                flight.timer = None
                self._report(flight, Outcome.UNKNOWN, detail="connection lost")
        if not self._closing and (self._reconnecting is None or self._reconnecting.done()):
            log.warning("IBPS: connection lost (%s); reconnecting", exc)
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())


def _account(party: Party) -> PartyAccount:
    return PartyAccount(party.name, account=party.account, country=party.country)


def _agent(party: Party) -> Agent:
    return Agent(member_id=party.agent, clearing_system=_CLEARING_SYSTEM)


class _AdapterLink(asyncio.Protocol):
    """The TCP link: frames in, coalesced writes out (one per loop turn), write backpressure."""

    def __init__(self, adapter: IbpsAdapter) -> None:
        self._adapter = adapter
        self._reader = LinkReader(max_frame=adapter._max_frame)
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._flush_pending = False
        self.paused: asyncio.Future[None] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, so no isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        self._adapter._on_connected(self)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except MessageError as err:
            log.error("IBPS: bad framing from the channel (%s); dropping the link", err)
            self.close()
            return
        for frame in frames:
            self._adapter._on_frame(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._out.clear()
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)
        self._adapter._on_lost(self, exc)
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        if self.paused is None:
            self.paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.paused is not None:
            self.paused.set_result(None)
            self.paused = None

    def send(self, frame: bytes) -> None:
        self._out.append(frame)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if self._out and self._transport is not None:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def close(self) -> None:
        if self._transport is not None:
            self._flush()
            self._transport.close()
