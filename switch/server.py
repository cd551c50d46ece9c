"""The switch's socket server: sessions over the binary protocol (docs/protocol.md).

asyncio Protocol API on uvloop (DESIGN.md: streams are 25x slower here); every reply of one loop
turn leaves in a single transport.write.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import uuid
from typing import Any, cast

import msgspec

from accounting.core import Alert as AccountingAlert
from fastpath.framescan import FrameError, FrameScanner
from switch import protocol as proto
from switch.access import AuthLimiter, Grant, certificate_cn, server_ssl_context
from switch.clock import iso
from switch.cluster import Cluster
from switch.config import ClientConfig, ServerConfig
from switch.engine import PaymentEngine
from switch.errors import FATAL, ErrorCode
from switch.order import Order, Payment
from switch.states import TERMINAL
from switch.store import IntakeError, Store
from switch.validation import valid_client_order_id

log = logging.getLogger("payswitch.server")

_loose = msgspec.msgpack.Decoder()


class SwitchServer:
    def __init__(
        self, config: ServerConfig, engine: PaymentEngine, store: Store,
        clients: dict[str, ClientConfig],
    ) -> None:
        self.config = config
        self.engine = engine
        self.store = store
        self.clients = clients
        self.secrets = {cid: c.secret.encode() for cid, c in clients.items()}
        self.grants = {cid: Grant(c) for cid, c in clients.items()}
        self.auth_limits = AuthLimiter(config.auth_max_failures, config.auth_failure_window_s)
        self.sessions: dict[str, set[Session]] = {}
        self.cluster: Cluster | None = None  # set for a worker of several (switch.cluster)
        self._server: asyncio.AbstractServer | None = None
        engine.publish = self.publish

    async def start(self, host: str | None = None, port: int | None = None) -> int:
        loop = asyncio.get_running_loop()
        tls = server_ssl_context(self.config.tls) if self.config.tls is not None else None
        self._server = await loop.create_server(
            lambda: Session(self),
            host or self.config.host,
            self.config.port if port is None else port,
            reuse_address=True,
            # several workers may listen on one port (`payswitch serve --workers N`)
            reuse_port=self.config.reuse_port,
            ssl=tls,
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for sessions in list(self.sessions.values()):
                for s in list(sessions):
                    s.fail(ErrorCode.SHUTTING_DOWN, "switch is shutting down")
            await self._server.wait_closed()

    def push_alert(self, alert: AccountingAlert) -> None:
        """A position crossed a threshold: tell every session of an operator client."""
        log.warning("position %s %s crossed %s %d: %d", alert.account, alert.currency,
                    alert.threshold, alert.limit, alert.value)
        frame = proto.encode(proto.Alert(account=alert.account, currency=alert.currency,
                                         threshold=alert.threshold, limit=alert.limit,
                                         value=alert.value, at=alert.at))
        for client_id, sessions in self.sessions.items():
            if self.clients[client_id].alerts:
                for session in sessions:
                    session.send(frame)

    def publish(self, payment: Payment) -> None:
        status = status_of(payment)
        if self.cluster is not None:  # the client's sessions on other workers hear it too
            self.cluster.broadcast({"client_id": payment.client_id,
                                    **msgspec.structs.asdict(status)})
        sessions = self.sessions.get(payment.client_id)
        if not sessions:
            return  # the client reads it with QUERY when it is back
        frame = proto.encode(status)
        for s in sessions:
            s.send(frame)

    def push_remote(self, status: dict[str, Any]) -> None:
        """A state change another worker made: to this worker's sessions of the client."""
        sessions = self.sessions.get(str(status.pop("client_id", "")))
        if sessions:
            frame = proto.encode(msgspec.convert(status, proto.Status))
            for s in sessions:
                s.send(frame)


def status_of(p: Payment) -> proto.Status:
    return proto.Status(
        payment_id=p.payment_id, client_order_id=p.order.client_order_id, state=p.state,
        at=p.updated_at, reason=p.reason, channel=p.channel, fee=p.fee,
        final=p.state in TERMINAL, expected_at=p.expected_at,
    )


class Session(asyncio.Protocol):
    def __init__(self, server: SwitchServer) -> None:
        self.server = server
        self.cfg = server.config
        self.scanner = FrameScanner(self.cfg.max_frame)
        self.nonce = os.urandom(proto.NONCE_SIZE)
        self.client_id: str | None = None
        self.session_id = uuid.uuid4().hex[:16]
        self.transport: asyncio.Transport | None = None
        self.outstanding = 0  # SUBMITs not yet answered: the pipelining window
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._closing = False
        self._last_rx = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._heartbeats = 0
        self._writes_paused = False

    # -- transport events -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)
        self.loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        self._last_rx = self.loop.time()
        self.send(proto.encode(proto.Hello(
            server="payswitch", version=proto.VERSION, nonce=self.nonce,
            max_frame=self.cfg.max_frame, window=self.cfg.window,
            heartbeat_s=self.cfg.heartbeat_s, auth_timeout_s=self.cfg.auth_timeout_s,
        )))
        self._timer = self.loop.call_later(self.cfg.auth_timeout_s, self._auth_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        if self.client_id is not None:
            sessions = self.server.sessions.get(self.client_id)
            if sessions is not None:
                sessions.discard(self)
                if not sessions:
                    del self.server.sessions[self.client_id]

    def pause_writing(self) -> None:
        # A client that does not read its acks stops being read: memory stays bounded.
        self._writes_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._writes_paused = False
        self._last_rx = self.loop.time()  # we were not listening, so silence meant nothing
        if self.transport is not None and not self._closing:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._last_rx = self.loop.time()
        try:
            frames = self.scanner.feed(data)
        except FrameError as exc:
            # Whole frames that came before the bad header are still served; then the session
            # ends, because after a bad length the stream cannot be resynchronised.
            self._handle(exc.frames)
            code = ErrorCode.FRAME_TOO_LARGE if exc.code == "FRAME_TOO_LARGE" \
                else ErrorCode.FRAME_HEADER_INVALID
            self.fail(code, f"{exc} (max_frame {self.cfg.max_frame})")
            return
        self._handle(frames)

    def _handle(self, frames: list[tuple[int, int, bytes]]) -> None:
        for version, ftype, payload in frames:
            if self._closing:
                return
            if self.client_id is None and ftype != proto.FrameType.AUTH:
                self.fail(ErrorCode.NOT_AUTHENTICATED, "the first frame must be AUTH")
                return
            if version != proto.VERSION:
                self.error(ErrorCode.UNSUPPORTED_VERSION,
                           f"frame version {version}; this server speaks {proto.VERSION}")
                continue
            self._dispatch(ftype, payload)

    # -- frames -----------------------------------------------------------------------------
    def _dispatch(self, ftype: int, payload: bytes) -> None:
        if ftype == proto.FrameType.SUBMIT and self.client_id is not None:
            self._on_submit(payload)
            return
        decoder = proto.DECODERS.get(ftype)
        if decoder is None:
            self.error(ErrorCode.UNKNOWN_FRAME_TYPE, f"frame type 0x{ftype:02x} is not defined")
            return
        try:
            msg = decoder.decode(payload)
        except msgspec.DecodeError as exc:
            if ftype == proto.FrameType.AUTH and self.client_id is None:
                self.fail(ErrorCode.AUTH_FAILED, f"AUTH: {exc}")
                return
            self.error(ErrorCode.MALFORMED_PAYLOAD, f"{proto.FrameType(ftype).name}: {exc}",
                       seq=_peek_seq(payload))
            return
        if isinstance(msg, proto.Auth):
            self._on_auth(msg)
        elif isinstance(msg, proto.Query):
            self.loop.create_task(self._on_query(msg))
        elif ftype == proto.FrameType.HEARTBEAT:
            self.send(proto.encode(msg, proto.FrameType.HEARTBEAT_ACK))
        elif ftype == proto.FrameType.HEARTBEAT_ACK:
            pass  # the answer to our own heartbeat; receiving it already reset the idle clock
        else:
            self.error(ErrorCode.UNEXPECTED_FRAME,
                       f"{proto.FrameType(ftype).name} is not sent by clients")

    def _on_auth(self, msg: proto.Auth) -> None:
        if self.client_id is not None:
            self.error(ErrorCode.UNEXPECTED_FRAME, "session is already authenticated")
            return
        limits, now = self.server.auth_limits, self.loop.time()
        if limits.blocked(self.peer, now):
            log.warning("AUTH from %s refused: too many failures", self.peer)
            self.fail(ErrorCode.AUTH_RATE_LIMITED,
                      f"too many failed AUTHs; wait {limits.window_s:g} s")
            return
        secret = self.server.secrets.get(msg.client_id)
        expected = proto.auth_mac(secret or b"\0" * 32, self.nonce, msg.client_id)
        if secret is None or not hmac.compare_digest(expected, msg.mac):
            limits.failed(self.peer, now)
            log.warning("authentication failed for client %r from %s", msg.client_id, self.peer)
            self.fail(ErrorCode.AUTH_FAILED, "unknown client or wrong MAC")
            return
        if self.server.config.tls is not None and self.server.config.tls.client_ca is not None:
            assert self.transport is not None
            cn = certificate_cn(self.transport.get_extra_info("peercert"))
            wanted = self.server.clients[msg.client_id].cert_cn or msg.client_id
            if cn != wanted:
                limits.failed(self.peer, now)
                log.warning("client %r presented the certificate of %r", msg.client_id, cn)
                self.fail(ErrorCode.AUTH_FAILED, "unknown client or wrong MAC")
                return
        self.client_id = msg.client_id
        self.server.sessions.setdefault(msg.client_id, set()).add(self)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(self.cfg.heartbeat_s, self._idle_check)
        self.send(proto.encode(proto.AuthOk(
            session_id=self.session_id, window=self.cfg.window, heartbeat_s=self.cfg.heartbeat_s,
        )))

    def _on_submit(self, payload: bytes) -> None:
        self.server.engine.metrics.received()
        # Overload is judged first: a flood of bad SUBMITs must not grow the backlog either.
        engine = self.server.engine
        if engine.intake_waiting >= self.cfg.max_pending_writes:
            self.error(ErrorCode.RETRY_LATER, "switch is saturated (store writes behind); "
                       "resend later", seq=_peek_seq(payload))
            return
        if engine.live_count >= self.cfg.max_live_payments:
            self.error(ErrorCode.RETRY_LATER, f"{engine.live_count} payments unfinished "
                       "(channels answering slowly); resend later", seq=_peek_seq(payload))
            return
        try:
            msg = _SUBMIT.decode(payload)
        except msgspec.DecodeError as exc:
            self._bad_submit(payload, str(exc))
            return
        if self.outstanding >= self.cfg.window:
            self.error(ErrorCode.WINDOW_EXCEEDED,
                       f"{self.outstanding} orders outstanding; the window is {self.cfg.window}",
                       seq=msg.seq)
            return
        if not valid_client_order_id(msg.order.client_order_id):
            self._bad_submit(payload, "client_order_id must be 1-35 of [A-Za-z0-9-_./:]",
                             seq=msg.seq)
            return
        assert self.client_id is not None
        refusal = self.server.grants[self.client_id].refusal(msg.order)
        if refusal is not None:
            # Audited, answered, and never a payment: the client may not move this money.
            self._bad_submit(payload, refusal, seq=msg.seq, code="AG01",
                             error=ErrorCode.NOT_AUTHORISED)
            return
        self.outstanding += 1
        fut = self.server.engine.submit(self.client_id, msg.order)
        seq, order, received = msg.seq, msg.order, self.loop.time()
        fut.add_done_callback(lambda f: self._acked(seq, order, received, f))

    def _acked(self, seq: int, order: Order, received: float,
               fut: asyncio.Future[tuple[Payment, bool]]) -> None:
        self.outstanding -= 1
        if self._closing:
            return
        self.server.engine.metrics.acked(self.loop.time() - received)
        if fut.cancelled() or fut.exception() is not None:
            # Nothing was stored: the client may resend the same order safely.
            self.error(ErrorCode.RETRY_LATER, f"order not accepted: {fut.exception()}", seq=seq)
            return
        payment, created = fut.result()
        if not created and payment.order != order:
            # The key belongs to another order: refuse this one, keep the original untouched.
            self.error(ErrorCode.IDEMPOTENCY_CONFLICT,
                       f"client_order_id {order.client_order_id} already names payment "
                       f"{payment.payment_id}, a different order", seq=seq, reason="AM05")
            return
        self.send(proto.encode(proto.Ack(
            seq=seq, client_order_id=payment.order.client_order_id, state=payment.state,
            payment_id=payment.payment_id, reason=payment.reason, duplicate=not created,
            final=payment.state in TERMINAL, at=payment.updated_at, channel=payment.channel,
            fee=payment.fee, expected_at=payment.expected_at,
        )))

    def _bad_submit(self, payload: bytes, detail: str, *, seq: int | None = None,
                    code: str = "FF01", error: ErrorCode = ErrorCode.MALFORMED_PAYLOAD) -> None:
        """An order that cannot become a payment: recorded for audit first, then refused."""
        if seq is None:
            seq = _peek_seq(payload)
        assert self.client_id is not None
        detail = _printable(detail)
        recorded = self.server.engine.record_intake_error(IntakeError(
            client_id=self.client_id, code=code, detail=detail[:500], raw=payload[:4096],
            at=iso(self.server.engine.clock.now()), seq=seq,
        ))

        def answer(fut: asyncio.Future[None]) -> None:
            if fut.cancelled() or fut.exception() is not None:
                # The refusal stands; only the audit copy is missing.
                log.error("intake error not recorded for %s seq %s: %r", self.client_id, seq,
                          None if fut.cancelled() else fut.exception())
            self.error(error, f"SUBMIT refused, not a payment: {detail}", seq=seq, reason=code)

        recorded.add_done_callback(answer)

    async def _on_query(self, msg: proto.Query) -> None:
        assert self.client_id is not None
        try:
            p = await self.server.store.payment_by_client_key(self.client_id, msg.client_order_id)
        except Exception as exc:
            log.exception("status query failed")
            self.error(ErrorCode.INTERNAL_ERROR, f"query failed: {exc}", seq=msg.seq)
            return
        self.send(proto.encode(proto.QueryReply(
            seq=msg.seq, found=p is not None, status=status_of(p) if p is not None else None,
        )))

    # -- output -----------------------------------------------------------------------------
    def send(self, frame: bytes) -> None:
        if self._closing:
            return
        self._out.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def error(self, code: ErrorCode, message: str, *, seq: int | None = None,
              reason: str | None = None) -> None:
        self.server.engine.metrics.protocol_error(code.value)
        self.send(proto.encode(proto.Error(code=code.value, message=message, seq=seq,
                                           fatal=code in FATAL, reason=reason)))

    def fail(self, code: ErrorCode, message: str) -> None:
        """Send a fatal error and close once it is written."""
        if self._closing:
            return
        log.info("closing session %s (%s): %s", self.session_id, code.value, message)
        self.error(code, message)
        self._flush()
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    def _auth_deadline(self) -> None:
        if self.client_id is None:
            self.fail(ErrorCode.AUTH_TIMEOUT, f"no AUTH within {self.cfg.auth_timeout_s} s")

    def _idle_check(self) -> None:
        if self._writes_paused:  # a slow reader is not an idle one
            self._timer = self.loop.call_later(self.cfg.heartbeat_s, self._idle_check)
            return
        idle = self.loop.time() - self._last_rx
        if idle > 3 * self.cfg.heartbeat_s:
            self.fail(ErrorCode.IDLE_TIMEOUT, f"nothing received for {idle:.0f} s")
            return
        if idle >= self.cfg.heartbeat_s:
            # Ask a quiet client to prove it is there; its HEARTBEAT_ACK resets the idle clock.
            self._heartbeats += 1
            self.send(proto.encode(proto.Heartbeat(seq=self._heartbeats),
                                   proto.FrameType.HEARTBEAT))
        self._timer = self.loop.call_later(self.cfg.heartbeat_s, self._idle_check)


_SUBMIT: msgspec.msgpack.Decoder[proto.Submit] = proto.DECODERS[proto.FrameType.SUBMIT]


def _peek_seq(payload: bytes) -> int | None:
    """The `seq` of a payload that failed to decode, if one can still be read, for the reply."""
    try:
        value = _loose.decode(payload)
    except msgspec.DecodeError:
        return None
    seq = value.get("seq") if isinstance(value, dict) else None
    return seq if type(seq) is int else None  # not bool, though bool is an int


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(text: str) -> str:
    """Decoder messages quote the client's bytes; keep control characters out of logs and rows.

    >>> _printable("bad key 'a" + chr(0) + "b'")
    "bad key 'a?b'"
    """
    return _CONTROL.sub("?", text)
