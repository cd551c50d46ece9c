"""The simulators' side of a channel link: a loopback TCP server of framed messages.

Every connection is one switch (or test) talking the channel's protocol, framed by the
channel's length prefix (`messages.channel_framing` for ISO 20022 / MT, 4 bytes;
`messages.iso8583.link` for UnionPay, 2 bytes). Replies leave coalesced, one
`transport.write` per loop turn; delayed replies wait on the simulator's injected clock.

A connection whose first byte is ``{`` is an operator's (or a test's) **admin session**
instead: JSON lines in, JSON lines out (``{"op": "statement", "date": "2026-03-02"}``). No
channel frame can start with ``{``: a 4-byte prefix starts with 0 below 16 MiB, and a 2-byte
prefix only reaches 0x7B for a message over 31 KiB, far above any ISO 8583 message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from messages.errors import MessageError
from switch.clock import Clock, Timer

__all__ = ["AdminHandler", "Framing", "SimLink", "SimServer", "admin_request"]

log = logging.getLogger("payswitch.simulators")

_ADMIN_MAX_LINE = 1 << 20
_ADMIN_MAX_ANSWER = 1 << 30  # a day's statement of a busy channel is tens of megabytes


class Reader(Protocol):
    def feed(self, data: bytes) -> list[bytes]: ...


class Framing(Protocol):
    """What a link needs of a channel's framing: a reader and an encoder."""

    def reader(self) -> Reader: ...

    def encode(self, message: bytes) -> bytes: ...


FrameHandler = Callable[["SimLink", bytes], None]
AdminHandler = Callable[[dict[str, Any]], dict[str, Any]]


class SimServer:
    """Listens on loopback; hands every frame to ``on_frame`` and admin requests to ``admin``."""

    def __init__(self, name: str, framing: Framing, clock: Clock, on_frame: FrameHandler,
                 admin: AdminHandler, *, on_connect: Callable[[SimLink], None] | None = None
                 ) -> None:
        self.name = name
        self.framing = framing
        self.clock = clock
        self.on_frame = on_frame
        self.admin = admin
        self.on_connect = on_connect
        self.links: set[SimLink] = set()
        # Every channel message in ("in") and out ("out"), in order, when a test asks for it:
        # the determinism and golden-transcript tests compare these bytes.
        self.traffic: list[tuple[str, bytes]] | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[_Sniffer] = set()  # every connection, even one that sent nothing

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Sniffer(self), host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and drop every connection at once (replies not yet sent are lost)."""
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


class _Sniffer(asyncio.Protocol):
    """Reads the first byte of a connection and hands it to a channel link or an admin session."""

    def __init__(self, server: SimServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._target: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, so no isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        self._server._connections.add(self)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._target is None:
            assert self._transport is not None
            if data[:1] == b"{":
                self._target = _AdminSession(self._server)
            else:
                link = SimLink(self._server)
                self._target = link
            self._target.connection_made(self._transport)
        self._target.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._connections.discard(self)
        self._transport = None
        if self._target is not None:
            self._target.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._target is not None:
            self._target.pause_writing()

    def resume_writing(self) -> None:
        if self._target is not None:
            self._target.resume_writing()


class SimLink(asyncio.Protocol):
    """One channel connection: splits frames, coalesces replies into one write per loop turn."""

    def __init__(self, server: SimServer) -> None:
        self._server = server
        self._reader = server.framing.reader()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._flush_pending = False
        self._timers: set[Timer] = set()
        self.session: dict[str, Any] = {}  # per-connection protocol state (e.g. signed on)

    @property
    def open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._server.links.add(self)
        if self._server.on_connect is not None:
            self._server.on_connect(self)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except MessageError as err:
            log.warning("%s: bad framing (%s); closing the connection", self._server.name, err)
            self.close()
            return
        traffic = self._server.traffic
        for frame in frames:
            if not self.open:
                return
            if traffic is not None:
                traffic.append(("in", frame))
            try:
                self._server.on_frame(self, frame)
            except Exception:  # never let one message take the server down
                log.exception("%s: failed on a message; closing the connection",
                              self._server.name)
                self.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        self._out.clear()
        self._server.links.discard(self)

    def send(self, message: bytes, delay_ms: int = 0) -> None:
        """Frame and send ``message``, after ``delay_ms`` of the simulator's clock."""
        if self._server.traffic is not None:
            self._server.traffic.append(("out", message))
        self.send_raw(self._server.framing.encode(message), delay_ms)

    def send_raw(self, data: bytes, delay_ms: int = 0) -> None:
        if delay_ms > 0:
            timer: Timer

            def fire() -> None:
                self._timers.discard(timer)
                self.send_raw(data)

            timer = self._server.clock.call_later(delay_ms / 1000, fire)
            self._timers.add(timer)
            return
        if not self.open:
            return
        self._out.append(data)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def send_partial_then_drop(self, message: bytes) -> None:
        """Write half of the framed message, then reset the connection: a disconnect
        mid-message, as a crashing front end does."""
        framed = self._server.framing.encode(message)
        self._flush()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(framed[: max(1, len(framed) // 2)])
            self._transport.abort()

    def _flush(self) -> None:
        self._flush_pending = False
        if self._out and self.open:
            assert self._transport is not None
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def close(self) -> None:
        """Send what is already queued, then close."""
        if self.open:
            self._flush()
            assert self._transport is not None
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class _AdminSession(asyncio.Protocol):
    """JSON lines: one request object per line, one answer object per line."""

    def __init__(self, server: SimServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._buffer += data
        while b"\n" in self._buffer:
            line, _, rest = bytes(self._buffer).partition(b"\n")
            self._buffer = bytearray(rest)
            self._transport.write(json.dumps(self._answer(line)).encode() + b"\n")
        if len(self._buffer) > _ADMIN_MAX_LINE:
            self._transport.write(b'{"ok": false, "error": "ADMIN_LINE_TOO_LONG"}\n')
            self._transport.close()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise ValueError("a request is an object with an 'op'")
        except ValueError as exc:
            return {"ok": False, "error": "ADMIN_BAD_REQUEST", "detail": str(exc)}
        try:
            return {"ok": True, **self._server.admin(request)}
        except (KeyError, ValueError, TypeError) as exc:
            return {"ok": False, "error": "ADMIN_BAD_REQUEST", "detail": str(exc)}
        except Exception as exc:  # an admin request must never take the simulator down
            log.exception("%s: admin request %r failed", self._server.name, request)
            return {"ok": False, "error": "ADMIN_FAILED", "detail": repr(exc)}

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def admin_request(host: str, port: int, request: dict[str, Any],
                        timeout: float = 30.0) -> dict[str, Any]:
    """One admin request to a simulator (a client helper for tests and the CLI)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, limit=_ADMIN_MAX_ANSWER), timeout)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
    if not line:
        raise ConnectionError("the simulator closed the admin session without an answer")
    answer: dict[str, Any] = json.loads(line)
    return answer
