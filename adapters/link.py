"""The adapters' side of a channel link: one TCP connection, kept up, framed, coalesced.

`ChannelLink` connects, reconnects with capped exponential backoff when the connection drops
(or when the channel is down at start), splits the byte stream into frames with the channel's
framing, and writes coalesced (one `transport.write` per loop turn) with the kernel's write
backpressure honoured. A channel that needs a session (UnionPay sign-on) says so with
``sign_on``: the link counts as up only once it returns True.

Reconnect timing is network time (the event loop's), not the injected business clock: a
socket retry does not depend on what day the books think it is. So is the dead-path check: a
message sent and not one frame back for ``silence_s`` means the path is dead even if the socket
looks open (a black hole: a middlebox that swallows everything); the link is dropped and
reconnects, so the inquiries that follow do not vanish into the same hole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from messages.errors import MessageError

__all__ = ["ChannelLink", "Framing"]

log = logging.getLogger("payswitch.adapters")


class Reader(Protocol):
    def feed(self, data: bytes) -> list[bytes]: ...


class Framing(Protocol):
    def reader(self) -> Reader: ...

    def encode(self, message: bytes) -> bytes: ...


class ChannelLink:
    """A kept-up connection to one channel front end."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        framing: Framing,
        on_frame: Callable[[bytes], None],
        *,
        on_down: Callable[[Exception | None], None] = lambda exc: None,
        sign_on: Callable[[], Awaitable[bool]] | None = None,
        backoff: float = 0.05,
        backoff_cap: float = 2.0,
        silence_s: float = 60.0,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.framing = framing
        self.on_frame = on_frame
        self.on_down = on_down
        self.sign_on = sign_on
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self._proto: _LinkProtocol | None = None
        self._signed_on = False
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self.silence_s = silence_s
        # loop time of the oldest message sent since the channel last said anything
        self._waiting_since: float | None = None
        self._watch: asyncio.TimerHandle | None = None

    @property
    def up(self) -> bool:
        """Connected (and signed on, where the channel has a session)."""
        return self._proto is not None and self._signed_on

    @property
    def connected(self) -> bool:
        """The TCP connection is there (a sign-on may still be under way)."""
        return self._proto is not None

    async def start(self) -> None:
        """Connect now; on failure keep trying in the background and raise OSError."""
        self._closing = False
        try:
            await self._connect()
        except OSError:
            # A switch started before its channel must not stay cut off until a restart.
            self._reconnect_soon()
            raise

    async def close(self) -> None:
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
            self._reconnecting = None
        proto = self._proto
        if proto is not None:
            proto.close()
            await proto.lost

    async def writable(self) -> bool:
        """Wait while the socket buffer is full; False when there is no usable link."""
        proto = self._proto
        if proto is not None and proto.paused is not None:
            await proto.paused
            proto = self._proto
        return proto is not None

    def send(self, message: bytes) -> bool:
        """Queue one message for this loop turn's write; False when the link is down."""
        proto = self._proto
        if proto is None:
            return False
        proto.send(self.framing.encode(message))
        if self._waiting_since is None:
            loop = asyncio.get_running_loop()
            self._waiting_since = loop.time()
            if self._watch is None:
                self._watch = loop.call_later(self.silence_s, self._check_silence)
        return True

    def _check_silence(self) -> None:
        self._watch = None
        if self._waiting_since is None or self._proto is None:
            return
        silent = asyncio.get_running_loop().time() - self._waiting_since
        if silent < self.silence_s:
            self._watch = asyncio.get_running_loop().call_later(self.silence_s - silent,
                                                                self._check_silence)
            return
        log.warning("%s: nothing from the channel for %.1fs after a message; reconnecting",
                    self.name, silent)
        self.drop()

    def drop(self) -> None:
        """Close the connection (the peer misbehaved); the link reconnects."""
        if self._proto is not None:
            self._proto.close()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: _LinkProtocol(self), self.host, self.port)
        if self.sign_on is None:
            self._signed_on = True
            return
        try:
            ok = await self.sign_on()
        except (OSError, TimeoutError, MessageError) as exc:
            log.warning("%s: sign-on failed: %s", self.name, exc)
            ok = False
        if not ok:
            self.drop()
            raise ConnectionRefusedError(f"{self.name}: sign-on refused")
        self._signed_on = True

    def _reconnect_soon(self) -> None:
        if not self._closing and (self._reconnecting is None or self._reconnecting.done()):
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = self.backoff
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except OSError as err:
                log.info("%s: reconnect failed (%s); next try in %.2fs", self.name, err, delay)
                delay = min(delay * 2, self.backoff_cap)
            else:
                log.info("%s: reconnected to %s:%d", self.name, self.host, self.port)
                return

    # -- called by the protocol --------------------------------------------------------------

    def _made(self, proto: _LinkProtocol) -> None:
        self._proto = proto
        self._signed_on = False
        self._waiting_since = None

    def _heard(self) -> None:
        self._waiting_since = None

    def _lost(self, proto: _LinkProtocol, exc: Exception | None) -> None:
        if self._proto is not proto:
            return
        self._proto = None
        self._signed_on = False
        self._waiting_since = None
        self.on_down(exc)
        if not self._closing:
            log.warning("%s: connection lost (%s); reconnecting", self.name, exc)
            self._reconnect_soon()


class _LinkProtocol(asyncio.Protocol):
    def __init__(self, link: ChannelLink) -> None:
        self._link = link
        self._reader = link.framing.reader()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._flush_pending = False
        self.paused: asyncio.Future[None] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, so no isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        self._link._made(self)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except MessageError as err:
            log.error("%s: bad framing from the channel (%s); dropping the link",
                      self._link.name, err)
            self.close()
            return
        if frames:
            self._link._heard()
        for frame in frames:
            try:
                self._link.on_frame(frame)
            except Exception:  # one bad message must not take the link down with it
                log.exception("%s: failed on a message from the channel", self._link.name)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._out.clear()
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)
        self._link._lost(self, exc)
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
