"""IBPS simulator: the online real-time channel as the switch can observe it.

Wire: a loopback TCP link; every message is one ISO 20022 document behind a 4-byte big-endian
length prefix (`messages.channel_framing`). Messages may be pipelined; replies leave coalesced,
one `transport.write` per loop turn.

- pacs.008: each transaction is checked (AM03 currency, AM02 above the per-item cap, RC01 debtor
  agent not a participant or creditor agent not a 12-digit CNAPS code, AC04/AC06 closed/blocked
  creditor account, AM04 sender short of funds) and settled gross in real time: the sending
  participant is debited, the receiving bank credited, and a pacs.002 ACSC carries AccptncDtTm
  from the injected clock. An end-to-end id seen before with identical content is a resend: it is
  not booked again and gets the original status; with different content it is RJCT AM05.
- pacs.028 (status inquiry): a pacs.002 with the item's current status. **Convention:** an
  end-to-end id never received is answered RJCT with reason ``NARR`` and AddtlInf ``NOT_FOUND``;
  the adapter maps that to `Outcome.NOT_FOUND`.
- Unparseable input: a pacs.002 RJCT FF01 (group status RJCT, end-to-end id ``NOTPROVIDED``) when
  the message id can be read, otherwise the connection is closed. The server never crashes.
- A `FaultPlan` is applied per message (see `simulators.faults`), decided from the seed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import cast

import msgspec

from messages.channel_framing import LinkReader, encode
from messages.errors import MessageError
from messages.iso20022 import (
    CreditTransfer,
    Pacs002,
    TxStatus,
    build_pacs002,
    message_name,
    parse_pacs008,
    parse_pacs028,
)
from simulators.faults import FaultAction, FaultDecision, FaultDice, FaultPlan
from switch.clock import Clock, SystemClock

__all__ = ["IbpsConfig", "IbpsSimulator", "ItemState", "SimItem", "serve"]

log = logging.getLogger(__name__)

_CNAPS_CODE = re.compile(r"\d{12}")
_MSG_ID = re.compile(rb"<(?:\w+:)?MsgId>([^<]{1,35})</(?:\w+:)?MsgId>")
NOT_FOUND = "NOT_FOUND"
_NOT_PROVIDED = "NOTPROVIDED"  # ISO placeholder when a reject cannot name the transaction


class IbpsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The channel's rules (CHANNELS.md, IBPS); amounts in fen."""

    per_item_cap: int = 5_000_000  # 50,000 CNY
    currency: str = "CNY"
    participants: dict[str, int] = msgspec.field(
        default_factory=lambda: {"102100099996": 10**13}
    )  # CNAPS bank code -> opening settlement balance
    closed_accounts: tuple[str, ...] = ()  # creditor accounts the receiving bank rejects AC04
    blocked_accounts: tuple[str, ...] = ()  # ... and AC06
    reply_delay_ms: int = 0


class ItemState(StrEnum):
    SETTLED = "SETTLED"
    REJECTED = "REJECTED"


class SimItem(msgspec.Struct, kw_only=True):
    """One credit transfer as the channel booked (or refused) it."""

    end_to_end_id: str
    tx_id: str
    uetr: str | None
    amount: int
    currency: str
    debtor_agent: str
    debtor_account: str | None
    creditor_agent: str
    creditor_account: str | None
    state: ItemState
    reason: str | None
    received_at: datetime
    decided_at: datetime

    def _content(self) -> tuple[object, ...]:
        return (
            self.tx_id,
            self.uetr,
            self.amount,
            self.currency,
            self.debtor_agent,
            self.debtor_account,
            self.creditor_agent,
            self.creditor_account,
        )


def _agent_code(tx_agent: object) -> str:
    return getattr(tx_agent, "member_id", None) or ""


def _item_of(tx: CreditTransfer, now: datetime) -> SimItem:
    return SimItem(
        end_to_end_id=tx.end_to_end_id,
        tx_id=tx.tx_id,
        uetr=tx.uetr,
        amount=tx.amount,
        currency=tx.currency,
        debtor_agent=_agent_code(tx.debtor_agent),
        debtor_account=tx.debtor.account,
        creditor_agent=_agent_code(tx.creditor_agent),
        creditor_account=tx.creditor.account,
        state=ItemState.REJECTED,
        reason=None,
        received_at=now,
        decided_at=now,
    )


class IbpsSimulator:
    def __init__(
        self,
        config: IbpsConfig,
        clock: Clock,
        seed: int = 0,
        faults: FaultPlan | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._dice = FaultDice(faults, seed)
        self._balances = dict(config.participants)
        self._closed = frozenset(config.closed_accounts)
        self._blocked = frozenset(config.blocked_accounts)
        self._items: dict[str, SimItem] = {}
        self._received: Counter[str] = Counter()
        self._links: set[_SimLink] = set()
        self._server: asyncio.Server | None = None
        self._seq = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _SimLink(self), host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and drop every connection at once (replies not yet sent are lost)."""
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- inspection --------------------------------------------------------------------------

    def balances(self) -> dict[str, int]:
        return dict(self._balances)

    def items(self) -> dict[str, SimItem]:
        return dict(self._items)

    def received_count(self, end_to_end_id: str) -> int:
        return self._received[end_to_end_id]

    # -- message handling --------------------------------------------------------------------

    def _on_frame(self, link: _SimLink, frame: bytes) -> None:
        try:
            name = message_name(frame)
        except MessageError as err:
            self._dice.decide("?")
            self._refuse(link, frame, "", err)
            return
        decision = self._dice.decide(name[:8])
        try:
            if name.startswith("pacs.008"):
                reply = self._on_credit(frame, name, decision)
            elif name.startswith("pacs.028"):
                reply = self._on_inquiry(frame, name)
            else:
                raise MessageError("MX_WRONG_MESSAGE", f"IBPS does not take {name}")
        except MessageError as err:
            self._refuse(link, frame, name, err)
            return
        self._answer(link, reply, decision)

    def _answer(self, link: _SimLink, reply: Pacs002, decision: FaultDecision) -> None:
        action = decision.action
        if action is FaultAction.DROP:
            return
        if action is FaultAction.CLOSE:
            link.close()
            return
        delay_ms = self._config.reply_delay_ms
        if action is FaultAction.DELAY:
            delay_ms += decision.delay_ms
        link.send(encode(build_pacs002(reply)), delay_ms)

    def _refuse(self, link: _SimLink, frame: bytes, name: str, err: MessageError) -> None:
        m = _MSG_ID.search(frame)
        if m is None:
            log.warning("IBPS: unreadable message (%s); closing the connection", err)
            link.close()
            return
        log.info("IBPS: rejecting message %r FF01: %s", m.group(1), err)
        reply = Pacs002(
            msg_id=self._next_msg_id(),
            created_at=self._clock.now(),
            orgnl_msg_id=m.group(1).decode("utf-8", "replace"),
            orgnl_msg_name=name or _NOT_PROVIDED,
            transactions=(
                TxStatus(_NOT_PROVIDED, "RJCT", reason="FF01", additional_info=err.code),
            ),
            group_status="RJCT",
        )
        link.send(encode(build_pacs002(reply)), self._config.reply_delay_ms)

    def _on_credit(self, frame: bytes, name: str, decision: FaultDecision) -> Pacs002:
        doc = parse_pacs008(frame)
        now = self._clock.now()
        forced = decision.code if decision.action is FaultAction.REJECT else None
        statuses = tuple(self._credit(tx, now, forced) for tx in doc.transactions)
        return Pacs002(
            msg_id=self._next_msg_id(),
            created_at=now,
            orgnl_msg_id=doc.msg_id,
            orgnl_msg_name=name,
            transactions=statuses,
        )

    def _credit(self, tx: CreditTransfer, now: datetime, forced: str | None) -> TxStatus:
        e2e = tx.end_to_end_id
        self._received[e2e] += 1
        item = _item_of(tx, now)
        seen = self._items.get(e2e)
        if seen is not None:
            if seen._content() == item._content():
                return _status_of(seen)  # a resend: never booked twice
            return TxStatus(e2e, "RJCT", orgnl_tx_id=tx.tx_id, orgnl_uetr=tx.uetr, reason="AM05")
        reason = forced or self._check(item)
        if reason is None:
            self._balances[item.debtor_agent] -= item.amount
            self._balances[item.creditor_agent] = (
                self._balances.get(item.creditor_agent, 0) + item.amount
            )
            item.state = ItemState.SETTLED
        else:
            item.reason = reason
        self._items[e2e] = item
        return _status_of(item)

    def _check(self, item: SimItem) -> str | None:
        """The ISO reason the channel rejects the item with, or None when it settles."""
        if item.currency != self._config.currency:
            return "AM03"
        if item.amount > self._config.per_item_cap:
            return "AM02"
        if item.debtor_agent not in self._config.participants:
            return "RC01"
        if _CNAPS_CODE.fullmatch(item.creditor_agent) is None:
            return "RC01"
        if item.creditor_account in self._closed:
            return "AC04"
        if item.creditor_account in self._blocked:
            return "AC06"
        if self._balances[item.debtor_agent] < item.amount:
            return "AM04"
        return None

    def _on_inquiry(self, frame: bytes, name: str) -> Pacs002:
        req = parse_pacs028(frame)
        statuses = []
        for e2e in req.orgnl_end_to_end_ids:
            item = self._items.get(e2e)
            if item is None:
                statuses.append(TxStatus(e2e, "RJCT", reason="NARR", additional_info=NOT_FOUND))
            else:
                statuses.append(_status_of(item))
        return Pacs002(
            msg_id=self._next_msg_id(),
            created_at=self._clock.now(),
            orgnl_msg_id=req.msg_id,
            orgnl_msg_name=name,
            transactions=tuple(statuses),
        )

    def _next_msg_id(self) -> str:
        self._seq += 1
        return f"IBPS{self._seq:012d}"

    def _forget(self, link: _SimLink) -> None:
        self._links.discard(link)


def _status_of(item: SimItem) -> TxStatus:
    if item.state is ItemState.SETTLED:
        return TxStatus(
            item.end_to_end_id,
            "ACSC",
            orgnl_tx_id=item.tx_id,
            orgnl_uetr=item.uetr,
            accepted_at=item.decided_at,
        )
    return TxStatus(
        item.end_to_end_id,
        "RJCT",
        orgnl_tx_id=item.tx_id,
        orgnl_uetr=item.uetr,
        reason=item.reason,
    )


class _SimLink(asyncio.Protocol):
    """One switch connection: splits frames, coalesces replies into one write per loop turn."""

    def __init__(self, sim: IbpsSimulator) -> None:
        self._sim = sim
        self._reader = LinkReader()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._flush_pending = False
        self._timers: set[asyncio.TimerHandle] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, so no isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        self._sim._links.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except MessageError as err:
            log.warning("IBPS: bad framing (%s); closing the connection", err)
            self.close()
            return
        for frame in frames:
            if self._transport is None or self._transport.is_closing():
                return
            try:
                self._sim._on_frame(self, frame)
            except Exception:  # never let one message take the server down
                log.exception("IBPS: failed on a message; closing the connection")
                self.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        self._out.clear()
        self._sim._forget(self)

    def send(self, framed: bytes, delay_ms: int = 0) -> None:
        if delay_ms > 0:
            loop = asyncio.get_running_loop()
            handle: asyncio.TimerHandle

            def fire() -> None:
                self._timers.discard(handle)
                self.send(framed)

            handle = loop.call_later(delay_ms / 1000, fire)
            self._timers.add(handle)
            return
        self._out.append(framed)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if self._out and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def close(self) -> None:
        """Send what is already queued, then close."""
        if self._transport is not None and not self._transport.is_closing():
            self._flush()
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


async def serve(port: int, seed: int, faults_path: str | None) -> None:
    """Run an IBPS simulator with the default configuration until cancelled."""
    plan = FaultPlan.load(faults_path) if faults_path else None
    sim = IbpsSimulator(IbpsConfig(), SystemClock(), seed=seed, faults=plan)
    bound = await sim.start(port=port)
    log.info("IBPS simulator listening on 127.0.0.1:%d (seed %d)", bound, seed)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()
