"""UnionPay simulator: the card and account switch over ISO 8583:1987 with a 2-byte length
prefix (CHANNELS.md, UnionPay), as an acquiring institution sees it.

- 0800 / 0810: sign-on (field 70 ``001``, field 32 names the acquirer, which must be a
  participant, else 05), sign-off (``002``) and echo (``301``). Before sign-on every other
  request is answered 91 and nothing is booked. A ``refuse`` fault answers an 0800 with 05.
- 0200 / 0210: a financial request is checked and settled at once into the books: the acquirer
  (field 32) pays, the issuer of the PAN (longest prefix in ``issuers``) is credited. Field 39:
  A0 MAC missing or wrong; 90 during the day switch; 94 duplicate (the same acquirer, STAN and
  transmission time; the same retrieval reference; the same order id, field 48; or a reference
  already reversed before it arrived); 12 not the signed-on acquirer, a processing code or
  currency the channel does not take; 13 zero amount; 61 above ``per_item_cap``; 14 invalid card
  (unknown BIN, failed Luhn check, closed account); 05 blocked account; 51 the acquirer's
  settlement balance is short; 30 a message that decodes but is not a valid 0200. A
  ``reject`` fault answers its code (a field 39 code, or an ISO 20022 reason given as the code
  that maps to it).
- 0400 / 0410: a reversal finds its original by acquirer and retrieval reference (and field 90
  when present); a settled original is unwound (books state REVERSED, movements on the current
  settlement date), a declined or already reversed one moves nothing; both answer 00. An
  unknown original is answered 25 and its reference is remembered, so the original can never
  be booked later.
- Settlement day: a transaction belongs to the settlement date whose day switch (``day_switch``,
  local time, default 23:00) it precedes. At the switch, on the injected clock, the closing
  date's settlement file (`messages.iso8583.settlement`) is written for every institution; for
  ``day_switch_s`` seconds after it financial requests and reversals are answered 90.

Every 0210 and 0410 carries a MAC in field 128 (`hmac_sha256_mac` under ``mac_key``, the
stand-in for the channel's key-managed MAC); 0800 / 0810 carry none.
"""

from __future__ import annotations

import hmac
import logging
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from messages.iso8583 import (
    RESPONSE_CODES,
    UNIONPAY,
    FinancialRequest,
    FinancialResponse,
    Iso8583Error,
    Message,
    NetworkManagement,
    Reversal,
    decode,
    encode,
    hmac_sha256_mac,
    transmission_time,
)
from messages.iso8583.link import FRAMING
from messages.iso8583.settlement import (
    FORMAT,
    SettlementFile,
    SettlementLine,
    build_settlement_file,
)
from simulators.base import ChannelSimulator, SimConfig
from simulators.books import ItemState, SimItem, StatementLine
from simulators.faults import FaultAction, FaultDecision
from simulators.link import SimLink
from switch.clock import Timer

__all__ = ["UnionPayConfig", "UnionPaySimulator", "luhn_valid"]

log = logging.getLogger("payswitch.simulators")

_ORDER_ID, _DEBTOR_ACCOUNT, _REASON = 48, 102, 60  # private use of fields 48, 102 and 60
_PHANTOM_PAN = "0" * 16  # an item the statement fault plan invents has no card


class UnionPayConfig(SimConfig, frozen=True, forbid_unknown_fields=True):
    """The channel's rules (CHANNELS.md, UnionPay); amounts in fen. ``closed_accounts`` are
    answered 14 and ``blocked_accounts`` 05 (the PAN, field 2)."""

    # acquiring institution (field 32) -> opening settlement balance
    participants: dict[str, int] = msgspec.field(default_factory=lambda: {"04290000": 10**13})
    # PAN prefix (BIN) -> issuing institution credited; a PAN matching none is answered 14
    issuers: dict[str, str] = msgspec.field(default_factory=lambda: {"62": "01030000"})
    per_item_cap: int = 5_000_000  # 50,000 CNY, as routing/channels.toml
    processing_codes: tuple[str, ...] = ("260000",)  # credit to the card or account of field 2
    check_luhn: bool = True
    mac_key: str = "5041595357495443482d554e494f4e5041592d44454d4f2d4d41432d4b455921"
    day_switch: str = "23:00"  # local time the settlement date changes (cfg)
    day_switch_s: float = 60.0  # how long the switch lasts: requests are answered 90

    def __post_init__(self) -> None:
        try:
            key = bytes.fromhex(self.mac_key)
            time.fromisoformat(self.day_switch)
        except ValueError as exc:
            raise ValueError(f"mac_key must be hex, day_switch HH:MM: {exc}") from None
        if len(key) < 16:
            raise ValueError("mac_key must be at least 16 bytes")
        if self.day_switch_s < 0 or self.per_item_cap <= 0:
            raise ValueError("day_switch_s must be >= 0 and per_item_cap > 0")


def luhn_valid(pan: str) -> bool:
    """Whether ``pan`` passes the Luhn check digit test (ISO/IEC 7812).

    >>> luhn_valid("6222000000000009"), luhn_valid("6222000000000001")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(pan)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


class UnionPaySimulator(ChannelSimulator):
    name = "UnionPay"
    Config = UnionPayConfig
    framing = FRAMING
    config: UnionPayConfig

    def __init__(self, config: UnionPayConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._mac = hmac_sha256_mac(bytes.fromhex(config.mac_key))
        self._switch_time = time.fromisoformat(config.day_switch)
        self._requests: dict[str, FinancialRequest] = {}  # item (end-to-end id) -> its 0200
        self._reversals: dict[str, Reversal] = {}  # item -> the 0400 that undid it
        self._by_rrn: dict[tuple[str, str], str] = {}  # (acquirer, RRN) -> item
        self._stan_keys: set[tuple[str, str, str]] = set()  # (acquirer, STAN, field 7)
        self._reversed_unseen: set[tuple[str, str]] = set()  # reversed before they arrived
        self.files: dict[tuple[str, date], bytes] = {}  # settlement files of closed dates
        self._switch_timer: Timer | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def on_started(self) -> None:
        self._schedule_day_switch()

    async def stop(self) -> None:
        if self._switch_timer is not None:
            self._switch_timer.cancel()
        await super().stop()

    # -- settlement days ---------------------------------------------------------------------

    def business_date(self, at: datetime | None = None) -> date:
        """The settlement date of ``at``: the one whose day switch comes next."""
        local = (at or self.clock.now()).astimezone(self.tz)
        offset = timedelta(hours=self._switch_time.hour, minutes=self._switch_time.minute)
        return (local - offset + timedelta(days=1)).date()

    def switching(self, at: datetime | None = None) -> bool:
        """Whether the day switch is under way at ``at`` (default: now)."""
        local = (at or self.clock.now()).astimezone(self.tz)
        length = timedelta(seconds=self.config.day_switch_s)
        for day in (local.date(), local.date() - timedelta(days=1)):
            start = datetime.combine(day, self._switch_time, self.tz)
            if start <= local < start + length:
                return True
        return False

    def _schedule_day_switch(self, after: datetime | None = None) -> None:
        now = self.local_now()
        since = after or now
        at = datetime.combine(since.date(), self._switch_time, self.tz)
        if at <= since:
            at += timedelta(days=1)
        self._switch_timer = self.clock.call_later(max((at - now).total_seconds(), 0.0),
                                                   self._day_switch_due, at)

    def _day_switch_due(self, at: datetime) -> None:
        # The date closed is that of the instant scheduled, whenever the timer really fires.
        self.day_switch(self.business_date(at) - timedelta(days=1))
        self._schedule_day_switch(after=at)

    def day_switch(self, day: date) -> dict[str, Any]:
        """Close settlement date ``day``: write each institution's settlement file."""
        institutions = sorted(set(self.config.participants) | {
            m.participant for m in self.books.movements if m.business_date == day})
        for institution in institutions:
            self.files[(institution, day)] = self._settlement_file(institution, day)
        return {"date": day.isoformat(), "files": {
            i: self.files[(i, day)].count(b"\n") - 2 for i in institutions}}

    # -- messages ----------------------------------------------------------------------------

    def on_frame(self, link: SimLink, frame: bytes) -> None:
        try:
            msg = decode(frame, UNIONPAY)
        except Iso8583Error as err:
            self.dice.decide("?")  # every message draws, so the sequence stays aligned
            log.warning("%s: unreadable message (%s); closing the connection", self.name, err)
            link.close()
            return
        decision = self.dice.decide(msg.mti)
        if decision.action is FaultAction.REFUSE and msg.mti != "0800":
            link.close()
            return
        reply: Message | FinancialResponse | NetworkManagement | Reversal
        if msg.mti == "0800":
            reply = self._on_network(link, msg, decision)
        elif msg.mti == "0200":
            reply = self._on_financial(link, frame, msg, decision)
        elif msg.mti == "0400":
            reply = self._on_reversal(link, frame, msg)
        else:
            log.info("%s: ignoring an unsolicited %s", self.name, msg.mti)
            return
        mac = None if msg.mti == "0800" else self._mac
        self.answer(link, encode(reply, UNIONPAY, mac=mac), decision)

    def _on_network(self, link: SimLink, msg: Message, decision: FaultDecision
                    ) -> Message | NetworkManagement:
        try:
            req = NetworkManagement.from_message(msg)
        except Iso8583Error as err:
            return _format_error(msg, "0810", err)
        if decision.action is FaultAction.REFUSE:
            return req.respond("05")
        if req.code == "001":
            if req.acquirer_id not in self.books.participants:
                return req.respond("05")
            link.session["acquirer"] = req.acquirer_id
        elif req.code == "002":
            link.session.pop("acquirer", None)
        elif "acquirer" not in link.session:
            return req.respond("91")
        return req.respond("00")

    def _on_financial(self, link: SimLink, frame: bytes, msg: Message,
                      decision: FaultDecision) -> Message | FinancialResponse:
        try:
            req: FinancialRequest = FinancialRequest.from_message(msg)
        except Iso8583Error as err:
            return _format_error(msg, "0210", err)
        refusal = self._session_refusal(link, frame, msg)
        if refusal is not None:
            return req.respond(refusal)
        now, acquirer = self.now(), req.acquirer_id
        key, ref = (acquirer, req.stan, req.transmission_time), (acquirer, req.retrieval_ref)
        order_id = msg.get(_ORDER_ID)
        e2e = order_id if isinstance(order_id, str) else req.retrieval_ref
        if (key in self._stan_keys or ref in self._by_rrn or ref in self._reversed_unseen
                or e2e in self.books.items):
            self._stan_keys.add(key)
            self.books.received[e2e] += 1  # an arrival of a payment the channel already has
            return req.respond("94")
        self._stan_keys.add(key)
        debtor_account = msg.get(_DEBTOR_ACCOUNT)
        item = self.books.receive(SimItem(
            end_to_end_id=e2e, tx_id=req.retrieval_ref, amount=req.amount,
            currency=req.currency, debtor_agent=acquirer, creditor_agent=self._issuer(req.pan),
            debtor_account=debtor_account if isinstance(debtor_account, str) else None,
            creditor_account=req.pan, received_at=now, channel_ref=req.retrieval_ref,
            msg_id=req.stan, msg_name="0200"))
        self._requests[e2e] = req
        self._by_rrn[ref] = e2e
        forced = decision.code if decision.action is FaultAction.REJECT else None
        code = _field39(forced or self.faults.reject_accounts.get(req.pan)
                        or self.faults.reject_accounts.get(item.debtor_account or "")
                        or self.check(req, item, link.session["acquirer"]))
        if code == "00":
            self.books.settle(item, self.business_date(now), now)
        else:
            self.books.reject(item, code, now)
        return req.respond(code)

    def check(self, req: FinancialRequest, item: SimItem, signed_on: str) -> str:
        """The field 39 code the channel answers a new financial request with."""
        cfg = self.config
        if (req.acquirer_id != signed_on or req.processing_code not in cfg.processing_codes
                or req.currency != cfg.currency):
            return "12"
        if req.amount < 1:
            return "13"
        if req.amount > cfg.per_item_cap:
            return "61"
        if (not item.creditor_agent or (cfg.check_luhn and not luhn_valid(req.pan))
                or req.pan in cfg.closed_accounts):
            return "14"
        if req.pan in cfg.blocked_accounts:
            return "05"
        if self.books.balance(item.debtor_agent, item.currency) < item.amount:
            return "51"
        return "00"

    def _on_reversal(self, link: SimLink, frame: bytes, msg: Message) -> Message | Reversal:
        try:
            rev: Reversal = Reversal.from_message(msg)
        except Iso8583Error as err:
            return _format_error(msg, "0410", err)
        refusal = self._session_refusal(link, frame, msg)
        if refusal is not None:
            return rev.respond(refusal)
        ref = (rev.acquirer_id, rev.retrieval_ref)
        e2e = self._by_rrn.get(ref)
        original = self._requests.get(e2e or "")
        if e2e is None or original is None:
            self._reversed_unseen.add(ref)
            return rev.respond("25")
        if rev.original_data is not None and rev.original_data[4:20] != (
                original.stan + original.transmission_time):
            return rev.respond("25")  # same reference, but not the transmission it names
        item = self.books.items[e2e]
        if item.state is ItemState.SETTLED:
            reason = rev.other.get(_REASON)
            self.books.unwind(item, reason if isinstance(reason, str) else "reversal",
                              self.business_date(), self.now(), state=ItemState.REVERSED)
            self._reversals[item.end_to_end_id] = rev
        return rev.respond("00")

    def _session_refusal(self, link: SimLink, frame: bytes, msg: Message) -> str | None:
        """The code refusing a request before its content is looked at, or None."""
        if "acquirer" not in link.session:
            return "91"
        mac = msg.get(128)
        if not isinstance(mac, bytes) or not hmac.compare_digest(self._mac(frame[:-len(mac)]), mac):
            return "A0"
        if self.switching():
            return "90"
        return None

    def _issuer(self, pan: str) -> str:
        for n in range(len(pan), 0, -1):
            issuer = self.config.issuers.get(pan[:n])
            if issuer is not None:
                return issuer
        return ""

    # -- settlement file ---------------------------------------------------------------------

    def statement_document(self, participant: str, day: date) -> tuple[str, bytes]:
        """The institution's settlement file for ``day``: as written at its day switch, or as
        it stands while the date is open."""
        stored = self.files.get((participant, day))
        return FORMAT, stored if stored is not None else self._settlement_file(participant, day)

    def _settlement_file(self, institution: str, day: date) -> bytes:
        data = self.books.statement(institution, day)
        lines = tuple(self._file_line(ln, institution) for ln in data.lines if ln.kind != "fund")
        return build_settlement_file(SettlementFile(
            settlement_date=day, institution=institution, created_at=self.now(), lines=lines))

    def _file_line(self, ln: StatementLine, institution: str) -> SettlementLine:
        dc = "D" if ln.signed_amount < 0 else "C"
        req = self._requests.get(ln.end_to_end_id)
        if req is None:  # an item the statement fault plan made up (dated, naive, that day)
            booked = ln.booked_at if ln.booked_at.tzinfo else ln.booked_at.replace(tzinfo=self.tz)
            return SettlementLine(
                txn_code="0200", dc=dc, acquirer_id=institution, sender_id=institution,
                stan="000000", transmission_time=transmission_time(booked),
                account=_PHANTOM_PAN, amount=abs(ln.signed_amount), currency=ln.currency,
                retrieval_ref=_phantom_rrn(ln.end_to_end_id), order_id=ln.end_to_end_id)
        source: FinancialRequest | Reversal = req
        if ln.kind == "reverse":
            source = self._reversals[ln.end_to_end_id]
        order_id = req.other.get(_ORDER_ID)
        return SettlementLine(
            txn_code=source.mti, dc=dc, acquirer_id=req.acquirer_id,
            sender_id=req.forwarder_id or req.acquirer_id, stan=source.stan,
            transmission_time=source.transmission_time, account=req.pan,
            amount=abs(ln.signed_amount), currency=ln.currency, retrieval_ref=req.retrieval_ref,
            order_id=order_id if isinstance(order_id, str) else "")


def _field39(code: str) -> str:
    """A fault's code as field 39: as is when it is one, else the code of that ISO reason."""
    if code in RESPONSE_CODES or len(code) == 2:
        return code
    for row in RESPONSE_CODES.values():
        if code in (row.reason, row.alternate):
            return row.code
    return "96"


def _format_error(msg: Message, mti: str, err: Iso8583Error) -> Message:
    """30 (format error) echoing what could be read of a message that is not a valid one."""
    log.info("UnionPay: format error in %s: %s", msg.mti, err)
    fields = {n: v for n, v in msg.fields.items() if n != 128}
    fields[39] = "30"
    return Message(mti, fields)


def _phantom_rrn(ref: str) -> str:
    return ref[-12:].rjust(12, "0")

