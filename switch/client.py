"""The client library core systems, the demo, the tests and the load generator all use.

>>> # async with await SwitchClient.connect("127.0.0.1", 7400, "CORE1", secret) as c:
>>> #     ack = await c.submit(order); final = await c.wait_final(order.client_order_id)
"""

from __future__ import annotations

import asyncio
import itertools
import ssl as ssl_module
from types import TracebackType
from typing import Any, cast

import msgspec

from fastpath.framescan import FrameError, FrameScanner
from switch import protocol as proto
from switch.order import Order


class SwitchError(Exception):
    """An ERROR frame from the switch, or the session ending; `code` is the stable error code."""

    def __init__(self, code: str, message: str, seq: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.seq = seq


class SwitchClient(asyncio.Protocol):
    def __init__(self, client_id: str, secret: bytes) -> None:
        self.client_id = client_id
        self._secret = secret
        self._scanner = FrameScanner(16 * 1024 * 1024)
        self._seq = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}  # seq -> ack or query reply
        self._finals: dict[str, asyncio.Future[proto.Status]] = {}
        self.statuses: dict[str, proto.Status] = {}  # latest status per client_order_id
        self.alerts: list[proto.Alert] = []  # ALERT frames, for an operator's session
        self.errors: list[proto.Error] = []  # errors not tied to a request
        self.acks_received = 0
        self.finals_received = 0
        loop = asyncio.get_running_loop()  # protocols are made inside the loop that runs them
        self._ready: asyncio.Future[proto.AuthOk] | None = loop.create_future()
        self._closed: asyncio.Future[None] | None = loop.create_future()
        self._window: asyncio.Semaphore | None = None
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self.transport: asyncio.Transport | None = None
        self.hello: proto.Hello | None = None
        self.session: proto.AuthOk | None = None

    @classmethod
    async def connect(
        cls, host: str, port: int, client_id: str, secret: bytes | str, *, timeout: float = 10.0,
        ssl: ssl_module.SSLContext | None = None,
    ) -> SwitchClient:
        """Connect and authenticate; ``ssl`` for a switch whose port speaks TLS (with a client
        certificate loaded in the context where the switch asks for one)."""
        loop = asyncio.get_running_loop()
        key = secret.encode() if isinstance(secret, str) else secret
        _, client = await loop.create_connection(lambda: cls(client_id, key), host, port,
                                                 ssl=ssl)
        assert client._ready is not None
        client.session = await asyncio.wait_for(client._ready, timeout)
        client._window = asyncio.Semaphore(client.session.window)
        return client

    async def __aenter__(self) -> SwitchClient:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------------------
    async def submit(self, order: Order) -> proto.Ack:
        """Send an order and wait for its ACK; waits first for room in the window."""
        assert self._window is not None, "connect() first"
        async with self._window:
            return await self.submit_nowait(order)

    def submit_nowait(self, order: Order) -> asyncio.Future[proto.Ack]:
        """Send now (caller keeps within the window); the future resolves with the ACK."""
        seq = next(self._seq)
        return self._request(seq, proto.encode(proto.Submit(seq=seq, order=order)))

    async def query(self, client_order_id: str) -> proto.QueryReply:
        seq = next(self._seq)
        reply: proto.QueryReply = await self._request(
            seq, proto.encode(proto.Query(seq=seq, client_order_id=client_order_id))
        )
        return reply

    async def heartbeat(self) -> None:
        seq = next(self._seq)
        await self._request(seq, proto.encode(proto.Heartbeat(seq=seq), proto.FrameType.HEARTBEAT))

    def _request(self, seq: int, frame: bytes) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.closed or self.transport is None or self.transport.is_closing():
            fut.set_exception(SwitchError("CONNECTION_LOST", "the session is closed"))
            return fut
        self._pending[seq] = fut
        self._send(frame)
        return fut

    def final(self, client_order_id: str) -> asyncio.Future[proto.Status]:
        fut = self._finals.get(client_order_id)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._finals[client_order_id] = fut
            st = self.statuses.get(client_order_id)
            if st is not None and st.final:
                fut.set_result(st)
        return fut

    async def wait_final(self, client_order_id: str, timeout: float = 60.0) -> proto.Status:
        return await asyncio.wait_for(asyncio.shield(self.final(client_order_id)), timeout)

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are: for tests of how the switch treats bad input."""
        self._send(data)

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._flush()
            self.transport.close()
        if self._closed is not None:
            await asyncio.shield(self._closed)

    @property
    def closed(self) -> bool:
        return self._closed is not None and self._closed.done()

    async def wait_closed(self) -> None:
        assert self._closed is not None
        await asyncio.shield(self._closed)

    # -- protocol events --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        err = SwitchError("CONNECTION_LOST", str(exc) if exc else "closed by peer")
        for fut in [self._ready, *self._pending.values()]:
            if fut is not None and not fut.done():
                fut.set_exception(err)
        self._pending.clear()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._scanner.feed(data)
        except FrameError as exc:
            frames = exc.frames
            if self.transport is not None:
                self.transport.close()
        for _version, ftype, payload in frames:
            msg = proto.DECODERS[ftype].decode(payload) if ftype in proto.DECODERS else None
            self._on_frame(ftype, msg)

    def _on_frame(self, ftype: int, msg: Any) -> None:
        if isinstance(msg, proto.Status):
            self._record(msg)
        elif isinstance(msg, proto.Ack):
            self.acks_received += 1
            if msg.final and msg.payment_id is not None:
                # A terminal ACK is the last word on the order: no STATUS follows for it.
                self._record(proto.Status(
                    payment_id=msg.payment_id, client_order_id=msg.client_order_id,
                    state=msg.state, at=msg.at or "", reason=msg.reason, channel=msg.channel,
                    fee=msg.fee, final=True,
                ))
            self._resolve(msg.seq, msg)
        elif isinstance(msg, proto.QueryReply) or ftype == proto.FrameType.HEARTBEAT_ACK:
            self._resolve(msg.seq, msg)
        elif isinstance(msg, proto.Error):
            fut = self._pending.pop(msg.seq, None) if msg.seq is not None else None
            if fut is not None and not fut.done():
                fut.set_exception(SwitchError(msg.code, msg.message, msg.seq))
            else:
                self.errors.append(msg)
            if msg.fatal and self._ready is not None and not self._ready.done():
                self._ready.set_exception(SwitchError(msg.code, msg.message))
        elif isinstance(msg, proto.Hello):
            self.hello = msg
            mac = proto.auth_mac(self._secret, msg.nonce, self.client_id)
            self._send(proto.encode(proto.Auth(client_id=self.client_id, mac=mac)))
        elif isinstance(msg, proto.AuthOk):
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(msg)
        elif ftype == proto.FrameType.HEARTBEAT:
            self._send(proto.encode(msg, proto.FrameType.HEARTBEAT_ACK))
        elif isinstance(msg, proto.Alert):
            self.alerts.append(msg)

    def _record(self, status: proto.Status) -> None:
        previous = self.statuses.get(status.client_order_id)
        self.statuses[status.client_order_id] = status
        if status.final:
            if previous is None or not previous.final:
                self.finals_received += 1
            fut = self._finals.get(status.client_order_id)
            if fut is not None and not fut.done():
                fut.set_result(status)

    def _resolve(self, seq: int, msg: Any) -> None:
        fut = self._pending.pop(seq, None)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _send(self, frame: bytes) -> None:
        self._out.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
        self._out.clear()


def order_from_dict(data: dict[str, Any]) -> Order:
    return msgspec.convert(data, Order)
