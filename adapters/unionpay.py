"""UnionPay adapter: ISO 8583:1987 over one TCP link with a 2-byte length prefix (CHANNELS.md).

Session: every connection signs on first (0800, field 70 ``001``, field 32 our acquirer id);
the link counts as up only on 0810 ``00``, and the first thing sent after it are the reversals
the channel is still owed. An echo test (0800 ``301``) every ``echo_interval_s`` of loop time
checks the line: an echo unanswered within the interval, or refused, drops the link, which
reconnects and signs on again.

An order is a credit to the creditor's card or account: field 2 (PAN) the creditor account,
which routes the request to its issuer; 3 ``processing_code`` (260000: credit to the account of
field 2); 4 amount in minor units and 49 currency; 7 transmission time (UTC, injected clock);
11 STAN; 32 acquirer and 33 forwarder ids, 41 terminal and 42 merchant ids from configuration;
37 retrieval reference; 48 the end-to-end id (the order id of the settlement file); 102 the
debtor account; 128 the MAC (`hmac_sha256_mac` under ``mac_key``, on 0200/0210 and 0400/0410).

Identifiers: the **RRN** is 12 base-36 characters of the SHA-256 of the end-to-end id, so a
payment has the same RRN in every process: a restarted switch can reverse what its predecessor
sent (the channel finds the original by acquirer and RRN), and a second transmission of one
payment would be refused as a duplicate (94), never booked twice. The **STAN** counts from a
random start (1..999999, then wraps) per process; the channel's key of a transmission is
acquirer + STAN + transmission time to the second, so a restarted adapter could only collide
by drawing, in the same second, a STAN its predecessor used in that second.

Outcomes (through ``on_status``): 0210 ``00`` -> SETTLED (channel_ref: the RRN); a rejecting
field 39 code -> REJECTED with its ISO 20022 reason (`RESPONSE_CODES`, overridden per code by
``reason_map``); ``68``, or a code neither table knows, counts as no answer. No answer within
``reply_timeout_s`` of the injected clock, or the line lost: UNKNOWN once, and the 0400 goes
out at once (message reason 4021 in field 60; after sign-on if the line is down): the channel
demands the reversal before anything else. A late 0210 after that is ignored. 0410 ``00``
(reversed) or ``25`` (the original never arrived) -> REJECTED with the timeout's reason (AB05):
the money did not move. Any other 0410, or none in time -> PENDING, and the next ``inquire``
(which the switch makes on UNKNOWN and PENDING) sends the 0400 again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any, ClassVar, Self

import msgspec

from adapters.base import ChannelAdapter, ChannelError, ChannelStatus, Outcome
from adapters.link import ChannelLink
from messages.iso8583 import (
    RESPONSE_CODES,
    UNIONPAY,
    FinancialRequest,
    FinancialResponse,
    Iso8583Error,
    NetworkManagement,
    Reversal,
    decode,
    encode,
    from_message,
    hmac_sha256_mac,
    transmission_time,
)
from messages.iso8583.link import FRAMING
from switch.clock import Clock, Timer
from switch.order import Payment

__all__ = ["UnionPayAdapter", "UnionPayLinkConfig", "retrieval_reference"]

log = logging.getLogger("payswitch.adapters")

_REQUEST, _REVERSAL_DUE, _REVERSING = "request", "reversal due", "reversing"
_REVERSAL_REASON = "4021"  # ISO 8583:1993 message reason code: timeout waiting for response
_ORDER_ID, _DEBTOR_ACCOUNT, _REASON = 48, 102, 60
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# field 39 -> ISO 20022 reason of every code that refuses a payment (the messages' table)
_REASONS = {c: r.reason for c, r in RESPONSE_CODES.items() if r.outcome == "rejected" and r.reason}
# what the configured fields must be on the wire (UNIONPAY spec: n, ans fixed)
_FIELD_FORMATS = {"acquirer_id": r"\d{1,11}", "forwarder_id": r"\d{1,11}",
                  "terminal_id": r"[ -~]{8}", "merchant_id": r"[ -~]{15}",
                  "processing_code": r"\d{6}"}


class UnionPayLinkConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[channels.unionpay]` of the switch's configuration."""

    host: str = "127.0.0.1"
    port: int
    reply_timeout_s: float = 30.0  # no 0210 (or 0410) by then: reverse (CHANNELS.md, cfg)
    acquirer_id: str = "04290000"  # field 32: our institution code at UnionPay
    forwarder_id: str = "04290000"  # field 33: the institution that sends for us
    terminal_id: str = "PAYSWTCH"  # field 41, 8 characters
    merchant_id: str = "PAYSWITCH000001"  # field 42, 15 characters
    processing_code: str = "260000"  # field 3: credit to the card or account of field 2
    mac_key: str = "5041595357495443482d554e494f4e5041592d44454d4f2d4d41432d4b455921"
    echo_interval_s: float = 30.0  # loop time between echo tests; 0: none
    sign_on_timeout_s: float = 10.0
    reason_map: dict[str, str] = msgspec.field(default_factory=dict)  # field 39 -> ISO code

    def __post_init__(self) -> None:
        try:
            key = bytes.fromhex(self.mac_key)
        except ValueError:
            raise ValueError("mac_key must be hex") from None
        if len(key) < 16:
            raise ValueError("mac_key must be at least 16 bytes")
        if self.echo_interval_s < 0 or self.sign_on_timeout_s <= 0:
            raise ValueError("echo_interval_s must be >= 0 and sign_on_timeout_s > 0")
        # Wrong here, every payment would fail to encode: refuse the configuration instead.
        for name, pattern in _FIELD_FORMATS.items():
            if not re.fullmatch(pattern, getattr(self, name)):
                raise ValueError(f"{name} must match {pattern}")


def retrieval_reference(end_to_end_id: str) -> str:
    """The RRN (field 37) of a payment: 12 base-36 characters of SHA-256 of its end-to-end id.

    >>> retrieval_reference("E2E00000001"), len(retrieval_reference("x" * 35))
    ('6PIS7K01DC4G', 12)
    """
    n = int.from_bytes(hashlib.sha256(end_to_end_id.encode()).digest()[:8], "big")
    chars = []
    for _ in range(12):
        n, r = divmod(n, 36)
        chars.append(_BASE36[r])
    return "".join(reversed(chars))


class _Flight:
    """A payment whose outcome the adapter is still establishing."""

    __slots__ = ("payment_id", "reported_unknown", "request", "rrn", "sent", "stage", "timer",
                 "why")

    def __init__(self, payment: Payment, request: FinancialRequest, *, sent: bool) -> None:
        self.payment_id = payment.payment_id
        self.request = request  # the 0200 (sent: by this process, so field 90 can name it)
        self.rrn = request.retrieval_ref
        self.sent = sent
        self.stage = _REQUEST
        self.timer: Timer | None = None
        self.reported_unknown = False
        self.why = ""  # why it is being reversed

    @property
    def end_to_end_id(self) -> str:
        return str(self.request.other[_ORDER_ID])


class UnionPayAdapter(ChannelAdapter):
    channel = "UnionPay"
    single_session = True  # one signed-on session per acquirer
    Config: ClassVar[type[UnionPayLinkConfig]] = UnionPayLinkConfig

    def __init__(self, config: UnionPayLinkConfig, *, clock: Clock, stan_start: int | None = None,
                 reconnect_backoff: float = 0.05, reconnect_backoff_cap: float = 2.0) -> None:
        super().__init__()
        self.config = config
        self._clock = clock
        self._mac = hmac_sha256_mac(bytes.fromhex(config.mac_key))
        self._reasons = {**_REASONS, **config.reason_map}
        self._timeout_reason = self._reasons.get("68", "AB05")
        self._link = ChannelLink(self.channel, config.host, config.port, FRAMING, self._on_frame,
                                 on_down=self._on_down, sign_on=self._sign_on,
                                 backoff=reconnect_backoff, backoff_cap=reconnect_backoff_cap)
        self.statement_host, self.statement_port = config.host, config.port
        self._flights: dict[str, _Flight] = {}  # by end-to-end id
        self._by_rrn: dict[str, _Flight] = {}
        self._network: dict[str, asyncio.Future[str]] = {}  # 0800 STAN -> its 0810's field 39
        self._stan = secrets.randbelow(999_999) if stan_start is None else stan_start - 1
        self._echo: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, config: UnionPayLinkConfig, *, clock: Clock, bank: Any) -> Self:
        """The adapter as `[channels.unionpay]` describes it (UnionPay knows us by our
        acquirer id, not by the `[bank]` codes)."""
        return cls(config, clock=clock)

    @property
    def participant(self) -> str:
        return self.config.acquirer_id

    @property
    def connected(self) -> bool:
        return self._link.up

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._echo is None and self.config.echo_interval_s > 0:
            self._echo = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            await self._link.start()
        except OSError as err:
            raise ChannelError(f"{self.channel}: cannot connect to {self.config.host}:"
                               f"{self.config.port}: {err}") from err

    async def close(self) -> None:
        if self._echo is not None:
            self._echo.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._echo
            self._echo = None
        await self._link.close()
        for flight in self._flights.values():
            if flight.timer is not None:
                flight.timer.cancel()

    # -- outbound ----------------------------------------------------------------------------

    async def submit(self, payment: Payment) -> None:
        if not await self._link.writable() or not self._link.up:
            raise ChannelError(f"{self.channel}: not signed on")
        if payment.end_to_end_id in self._flights:
            log.warning("%s: %s is already under way; not sent twice", self.channel,
                        payment.payment_id)
            return
        request = self._request(payment, self._next_stan())
        frame = encode(request, UNIONPAY, mac=self._mac)
        flight = self._track(payment, request, sent=True)
        self._arm(flight, self._request_deadline)
        self._link.send(frame)
        self.journal("out", (payment.payment_id,), frame)

    async def inquire(self, payment: Payment) -> None:
        """UnionPay has no status inquiry: make sure the payment's reversal is under way."""
        if not await self._link.writable() or not self._link.up:
            raise ChannelError(f"{self.channel}: not signed on")
        flight = self._flights.get(payment.end_to_end_id)
        if flight is None:  # sent by an earlier process: reverse it by its RRN
            flight = self._track(payment, self._request(payment, "000000"), sent=False)
        if flight.stage == _REVERSING and flight.timer is not None:
            return  # its 0410 or its deadline will say
        self._reverse(flight, flight.why or "the switch asked what became of it")

    def _request(self, payment: Payment, stan: str) -> FinancialRequest:
        cfg, order = self.config, payment.order
        return FinancialRequest(
            pan=order.creditor.account, processing_code=cfg.processing_code,
            amount=order.amount, currency=order.currency,
            transmission_time=transmission_time(self._clock.now()), stan=stan,
            acquirer_id=cfg.acquirer_id, forwarder_id=cfg.forwarder_id,
            retrieval_ref=retrieval_reference(payment.end_to_end_id),
            terminal_id=cfg.terminal_id, merchant_id=cfg.merchant_id,
            other={_ORDER_ID: payment.end_to_end_id, _DEBTOR_ACCOUNT: order.debtor.account})

    def _track(self, payment: Payment, request: FinancialRequest, *, sent: bool) -> _Flight:
        flight = _Flight(payment, request, sent=sent)
        self._flights[payment.end_to_end_id] = flight
        self._by_rrn[flight.rrn] = flight
        return flight

    def _reverse(self, flight: _Flight, why: str) -> None:
        """Give up on the 0200's answer: UNKNOWN once, and the 0400 now if the line is up."""
        flight.why = why
        flight.stage = _REVERSAL_DUE
        if not flight.reported_unknown:
            flight.reported_unknown = True
            self._report(flight, Outcome.UNKNOWN, detail=f"{why}; reversing")
        if self._link.up:
            self._send_reversal(flight)

    def _send_reversal(self, flight: _Flight) -> None:
        now = transmission_time(self._clock.now())
        reversal = flight.request.reversal(stan=self._next_stan(), transmission_time=now)
        reversal = msgspec.structs.replace(
            reversal, original_data=reversal.original_data if flight.sent else None,
            other={_REASON: _REVERSAL_REASON})
        flight.stage = _REVERSING
        self._arm(flight, self._reversal_deadline)
        frame = encode(reversal, UNIONPAY, mac=self._mac)
        self._link.send(frame)
        self.journal("out", (flight.payment_id,), frame)

    def _next_stan(self) -> str:
        self._stan = self._stan % 999_999 + 1
        return f"{self._stan:06d}"

    # -- deadlines (injected clock) ----------------------------------------------------------

    def _arm(self, flight: _Flight, fire: Callable[[_Flight], None]) -> None:
        if flight.timer is not None:
            flight.timer.cancel()
        flight.timer = self._clock.call_later(self.config.reply_timeout_s, fire, flight)

    def _request_deadline(self, flight: _Flight) -> None:
        flight.timer = None
        if flight.stage == _REQUEST:
            self._reverse(flight, f"no 0210 within {self.config.reply_timeout_s:g}s")

    def _reversal_deadline(self, flight: _Flight) -> None:
        flight.timer = None
        flight.stage = _REVERSAL_DUE
        self._report(flight, Outcome.PENDING, detail=f"no 0410 within "
                     f"{self.config.reply_timeout_s:g}s; the reversal is repeated on inquiry")

    # -- session (loop time) -----------------------------------------------------------------

    async def _sign_on(self) -> bool:
        code = await self._network_request("001", self.config.sign_on_timeout_s)
        if code != "00":
            log.warning("%s: sign-on refused (%s)", self.channel, code or "no answer")
            return False
        for flight in list(self._flights.values()):
            if flight.stage == _REVERSAL_DUE:
                self._send_reversal(flight)  # owed to the channel before anything else
        return True

    async def _heartbeat(self) -> None:
        interval = self.config.echo_interval_s
        while True:
            await asyncio.sleep(interval)
            if not self._link.up:
                continue
            code = await self._network_request("301", interval)
            if code != "00" and self._link.up:
                log.warning("%s: echo test %s; dropping the link", self.channel,
                            f"answered {code}" if code else "unanswered")
                self._link.drop()

    async def _network_request(self, code: str, timeout: float) -> str:
        """Send an 0800 and return its 0810's field 39 ("" for no answer)."""
        stan = self._next_stan()
        msg = NetworkManagement(code=code, transmission_time=transmission_time(self._clock.now()),
                                stan=stan, acquirer_id=self.config.acquirer_id,
                                forwarder_id=self.config.forwarder_id)
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._network[stan] = answer
        try:
            if not self._link.send(encode(msg, UNIONPAY)):
                return ""
            return await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            return ""
        finally:
            self._network.pop(stan, None)

    # -- inbound -----------------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        try:
            msg = decode(frame, UNIONPAY)
        except Iso8583Error as err:
            log.warning("%s: unreadable message ignored: %s", self.channel, err)
            return
        if msg.mti == "0810":
            answer = self._network.get(str(msg.get(11)))
            if answer is not None and not answer.done():
                answer.set_result(str(msg.get(39) or ""))
            return
        mac = msg.get(128)
        if not isinstance(mac, bytes) or not hmac.compare_digest(
                self._mac(frame[: -len(mac)]), mac):
            log.warning("%s: %s with a missing or wrong MAC ignored", self.channel, msg.mti)
            return
        try:
            typed = from_message(msg)
        except Iso8583Error as err:
            log.warning("%s: invalid %s ignored: %s", self.channel, msg.mti, err)
            return
        rrn = getattr(typed, "retrieval_ref", None)
        flight = self._by_rrn.get(rrn) if isinstance(rrn, str) else None
        self.journal("in", (flight.payment_id,) if flight is not None else (), frame)
        if isinstance(typed, FinancialResponse):
            self._on_financial(typed)
        elif isinstance(typed, Reversal) and typed.mti == "0410":
            self._on_reversal(typed)
        else:
            log.warning("%s: unexpected %s ignored", self.channel, msg.mti)

    def _on_financial(self, resp: FinancialResponse) -> None:
        flight = self._by_rrn.get(resp.retrieval_ref)
        if flight is None:
            log.info("%s: 0210 for RRN %s, not in flight (already final here)", self.channel,
                     resp.retrieval_ref)
            return
        if flight.stage != _REQUEST or resp.stan != flight.request.stan:
            log.warning("%s: late 0210 %s for %s ignored: it is being reversed", self.channel,
                        resp.response_code, flight.payment_id)
            return
        code = resp.response_code
        row = RESPONSE_CODES.get(code)
        if row is not None and row.outcome == "approved":
            self._land(flight)
            self._report(flight, Outcome.SETTLED, channel_ref=flight.rrn)
        elif code in self._reasons and (row is None or row.outcome == "rejected"):
            self._land(flight)
            self._report(flight, Outcome.REJECTED, reason=self._reasons[code],
                         detail=f"{code} {row.meaning if row else 'UnionPay response'}",
                         channel_ref=flight.rrn)
        else:
            if flight.timer is not None:
                flight.timer.cancel()
                flight.timer = None
            self._reverse(flight, f"answered {code}: outcome unknown")

    def _on_reversal(self, rev: Reversal) -> None:
        flight = self._by_rrn.get(rev.retrieval_ref)
        if flight is None or flight.stage == _REQUEST:
            log.info("%s: 0410 for RRN %s, not being reversed", self.channel, rev.retrieval_ref)
            return
        code = rev.response_code or ""
        if code in ("00", "25"):
            self._land(flight)
            what = ("reversed (0410 00)" if code == "00"
                    else "never received by UnionPay (0410 25)")
            self._report(flight, Outcome.REJECTED, reason=self._timeout_reason,
                         detail=f"{what} after {flight.why}: the money did not move",
                         channel_ref=flight.rrn)
            return
        if flight.timer is not None:
            flight.timer.cancel()
            flight.timer = None
        flight.stage = _REVERSAL_DUE
        row = RESPONSE_CODES.get(code)
        meaning = f" ({row.meaning})" if row else ""
        self._report(flight, Outcome.PENDING,
                     detail=f"reversal answered {code}{meaning}; repeated on inquiry")

    def _on_down(self, exc: Exception | None) -> None:
        for answer in self._network.values():
            if not answer.done():
                answer.set_result("")
        for flight in list(self._flights.values()):
            if flight.timer is not None:
                flight.timer.cancel()
                flight.timer = None
            if flight.stage == _REQUEST:
                self._reverse(flight, "the line was lost before the 0210")
            else:
                flight.stage = _REVERSAL_DUE  # sent again right after the next sign-on

    def _land(self, flight: _Flight) -> None:
        if flight.timer is not None:
            flight.timer.cancel()
            flight.timer = None
        self._flights.pop(flight.end_to_end_id, None)
        self._by_rrn.pop(flight.rrn, None)

    def _report(self, flight: _Flight, outcome: Outcome, *, reason: str | None = None,
                detail: str | None = None, channel_ref: str | None = None) -> None:
        status = ChannelStatus(payment_id=flight.payment_id, end_to_end_id=flight.end_to_end_id,
                               outcome=outcome, reason=reason, channel_ref=channel_ref,
                               detail=detail)
        try:
            self.on_status(status)
        except Exception:  # the switch's failure must not take the link down with it
            log.exception("%s: on_status failed for %s", self.channel, flight.payment_id)
