"""A fault-injecting TCP proxy to stand between the switch's adapters and a channel simulator.

The proxy forwards bytes both ways until it is told to misbehave, at run time, through
`FaultProxy.inject` (in-process) or a JSON line on its control port (`python -m
simulators.proxy`). The faults are the ones a network gives a channel link:

- ``latency``: every chunk is held ``latency_s`` before it goes on (order kept);
- ``split``: every chunk goes on in pieces of ``piece`` bytes, each in its own write;
- ``partial``: the next chunk in ``direction`` is cut in half, then both sides are closed
  (a peer that died mid-message);
- ``reset``: open connections are reset (RST, not FIN), and so is every new one;
- ``blackhole``: open connections, and every new one, are read and never answered: nothing
  goes on in either direction, and a connection once swallowed stays dead after ``heal``,
  as a path through a dead middlebox does; only new connections pass again.

``count`` makes a fault one-shot or n-shot: after that many connections (reset, blackhole)
or chunks (partial, split, latency) were hit, the proxy heals by itself.

>>> FaultProxy("127.0.0.1", 1).fault
<Fault.PASS: 'pass'>
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import socket
import struct
from enum import StrEnum
from typing import Any, cast

__all__ = ["Direction", "Fault", "FaultProxy", "ProxyStats"]

log = logging.getLogger("payswitch.proxy")


class Fault(StrEnum):
    PASS = "pass"
    LATENCY = "latency"
    SPLIT = "split"
    PARTIAL = "partial"
    RESET = "reset"
    BLACKHOLE = "blackhole"


class Direction(StrEnum):
    UP = "up"  # from the adapter to the channel
    DOWN = "down"  # from the channel to the adapter
    BOTH = "both"


class ProxyStats:
    """What the proxy did: for tests to prove a fault actually hit."""

    __slots__ = ("accepted", "bytes_down", "bytes_up", "cut", "resets", "swallowed")

    def __init__(self) -> None:
        self.accepted = 0  # connections from adapters
        self.resets = 0  # connections reset
        self.cut = 0  # chunks cut short by ``partial``
        self.swallowed = 0  # bytes read by a black hole and never forwarded
        self.bytes_up = 0
        self.bytes_down = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class FaultProxy:
    """Listens on loopback and relays every connection to ``upstream_host:upstream_port``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.fault = Fault.PASS
        self.direction = Direction.BOTH
        self.latency_s = 0.0
        self.piece = 1
        self._left: int | None = None  # hits before healing by itself; None: until told
        self.stats = ProxyStats()
        self._pipes: set[_Pipe] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int | None:
        if self._server is None:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Pipe(self), host, port,
                                                reuse_address=True)
        assert self.port is not None
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for pipe in list(self._pipes):
                pipe.close()
            await self._server.wait_closed()
            self._server = None

    def inject(self, fault: Fault | str, *, direction: Direction | str = Direction.BOTH,
               latency_s: float = 0.2, piece: int = 1, count: int | None = None) -> None:
        """Misbehave from now on (``count``: only for that many hits, then heal)."""
        fault = Fault(fault)
        if latency_s < 0 or piece < 1 or (count is not None and count < 1):
            raise ValueError("latency_s >= 0, piece >= 1 and count >= 1 (or None)")
        self.fault, self.direction = fault, Direction(direction)
        self.latency_s, self.piece, self._left = latency_s, piece, count
        log.info("proxy %s -> %s:%d: %s", self.port, *self.upstream, fault.value)
        if fault in (Fault.RESET, Fault.BLACKHOLE):
            for pipe in list(self._pipes):
                struck = self._take()
                if struck is None:
                    break
                pipe.strike(struck)

    def heal(self) -> None:
        """Relay faithfully again (connections a black hole swallowed stay dead)."""
        self.fault, self._left = Fault.PASS, None

    def _take(self) -> Fault | None:
        """The fault for one hit (None: relay faithfully); heals once ``count`` is used up."""
        fault = self.fault
        if fault is Fault.PASS:
            return None
        if self._left is not None:
            self._left -= 1
            if self._left <= 0:
                self.heal()
        return fault

    def applies(self, up: bool) -> bool:
        return (self.direction is Direction.BOTH
                or self.direction is (Direction.UP if up else Direction.DOWN))

    def control(self, request: dict[str, Any]) -> dict[str, Any]:
        """One control request (the control port's JSON lines): inject, heal or stats."""
        op = request.get("op")
        if op == "inject":
            options = {k: request[k] for k in ("direction", "latency_s", "piece", "count")
                       if k in request}
            self.inject(str(request["fault"]), **options)
        elif op == "heal":
            self.heal()
        elif op != "stats":
            raise ValueError(f"unknown op {op!r}: inject, heal or stats")
        return {"fault": self.fault.value, **self.stats.as_dict()}


class _Pipe(asyncio.Protocol):
    """One adapter connection (the downstream side) and its upstream twin."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.down: asyncio.Transport | None = None
        self.up: _Upstream | None = None
        self.dead = False  # swallowed by a black hole: forwards nothing, ever
        self._early: list[bytes] = []  # read before the upstream connection was there
        self._delayed: dict[bool, collections.deque[tuple[float, bytes]]] = {
            True: collections.deque(), False: collections.deque()}
        self._timers: dict[bool, asyncio.TimerHandle | None] = {True: None, False: None}
        self._closed = False

    # -- downstream (the adapter's connection) -----------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.down = cast(asyncio.Transport, transport)
        proxy = self.proxy
        proxy._pipes.add(self)
        proxy.stats.accepted += 1
        if proxy.fault in (Fault.RESET, Fault.BLACKHOLE):
            struck = proxy._take()
            if struck is not None:
                self.strike(struck)
                return
        asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_connection(lambda: _Upstream(self),
                                                        *self.proxy.upstream)
        except OSError as exc:
            log.info("proxy: upstream %s:%d unreachable: %s", *self.proxy.upstream, exc)
            self.close()
            return
        if self._closed or self.dead:
            transport.close()
            return
        early, self._early = self._early, []
        for data in early:
            self.relay(data, up=True)

    def data_received(self, data: bytes) -> None:
        if self.dead:
            self.proxy.stats.swallowed += len(data)
        elif self.up is None or self.up.transport is None:
            self._early.append(data)
        else:
            self.relay(data, up=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def pause_writing(self) -> None:  # the adapter reads slowly: stop reading the channel
        if self.up is not None and self.up.transport is not None:
            self.up.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.up is not None and self.up.transport is not None:
            self.up.transport.resume_reading()

    # -- relaying ------------------------------------------------------------------------------

    def relay(self, data: bytes, *, up: bool) -> None:
        """Forward one chunk read from one side to the other, with the fault in force."""
        proxy = self.proxy
        if self.dead:
            proxy.stats.swallowed += len(data)
            return
        if up:
            proxy.stats.bytes_up += len(data)
        else:
            proxy.stats.bytes_down += len(data)
        fault = proxy.fault
        if fault in (Fault.PASS, Fault.RESET, Fault.BLACKHOLE) or not proxy.applies(up):
            self._write(data, up=up)
            return
        proxy._take()
        if fault is Fault.LATENCY:
            self._later(data, up=up, delay=proxy.latency_s)
        elif fault is Fault.SPLIT:
            for n, start in enumerate(range(0, len(data), proxy.piece)):
                self._later(data[start:start + proxy.piece], up=up, delay=0.001 * n)
        elif fault is Fault.PARTIAL:
            proxy.stats.cut += 1
            self._write(data[:max(1, len(data) // 2)], up=up)
            self.close()

    def _later(self, data: bytes, *, up: bool, delay: float) -> None:
        # One queue per direction drained in order: equal deadlines must not reorder bytes.
        loop = asyncio.get_running_loop()
        queue = self._delayed[up]
        due = max(loop.time() + delay, queue[-1][0] if queue else 0.0)
        queue.append((due, data))
        if self._timers[up] is None:
            self._timers[up] = loop.call_at(due, self._drain, up)

    def _drain(self, up: bool) -> None:
        self._timers[up] = None
        loop = asyncio.get_running_loop()
        queue = self._delayed[up]
        while queue and queue[0][0] <= loop.time():
            self._write(queue.popleft()[1], up=up)
        if queue:
            self._timers[up] = loop.call_at(queue[0][0], self._drain, up)

    def _write(self, data: bytes, *, up: bool) -> None:
        if self._closed or self.dead:
            return
        upstream = self.up.transport if self.up is not None else None
        target = upstream if up else self.down
        if target is not None and not target.is_closing():
            target.write(data)

    # -- faults --------------------------------------------------------------------------------

    def strike(self, fault: Fault) -> None:
        if fault is Fault.RESET:
            self.proxy.stats.resets += 1
            self.reset()
        elif fault is Fault.BLACKHOLE:
            # The upstream side goes quietly (the channel sees a peer that left); the adapter's
            # side stays open and silent.
            self.dead = True
            for queue in self._delayed.values():
                queue.clear()
            if self.up is not None and self.up.transport is not None:
                self.up.transport.close()

    def reset(self) -> None:
        for transport in (self.down, self.up.transport if self.up is not None else None):
            if transport is not None and not transport.is_closing():
                _linger_zero(transport)
                transport.abort()
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.proxy._pipes.discard(self)
        for timer in self._timers.values():
            if timer is not None:
                timer.cancel()
        if self.down is not None:
            self.down.close()
        if self.up is not None and self.up.transport is not None:
            self.up.transport.close()


class _Upstream(asyncio.Protocol):
    def __init__(self, pipe: _Pipe) -> None:
        self.pipe = pipe
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.pipe.up = self

    def data_received(self, data: bytes) -> None:
        self.pipe.relay(data, up=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.pipe.dead:  # a black hole keeps the adapter's side open
            self.pipe.close()

    def pause_writing(self) -> None:
        if self.pipe.down is not None:
            self.pipe.down.pause_reading()

    def resume_writing(self) -> None:
        if self.pipe.down is not None and not self.pipe.down.is_closing():
            self.pipe.down.resume_reading()


def _linger_zero(transport: asyncio.BaseTransport) -> None:
    """Make close send RST instead of FIN: the peer sees ECONNRESET, as on a real reset."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already gone: nothing left to reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _Control(asyncio.Protocol):
    """JSON-line control session: one request a line, one answer a line."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > 65536:  # a control line is short; anything else is abuse
            assert self.transport is not None
            self.transport.close()
            return
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                answer = {"ok": True, **self.proxy.control(json.loads(line))}
            except (ValueError, KeyError, TypeError) as exc:
                answer = {"ok": False, "error": str(exc)}
            assert self.transport is not None
            self.transport.write(json.dumps(answer).encode() + b"\n")


async def _serve(args: argparse.Namespace) -> None:
    host, _, port = args.upstream.rpartition(":")
    proxy = FaultProxy(host or "127.0.0.1", int(port))
    listen = await proxy.start(port=args.port)
    loop = asyncio.get_running_loop()
    control = await loop.create_server(lambda: _Control(proxy), "127.0.0.1", args.control_port)
    control_port = control.sockets[0].getsockname()[1]
    print(json.dumps({"listen": listen, "control": control_port}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        control.close()
        await proxy.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.proxy",
        description="Fault-injecting TCP proxy; control it with JSON lines such as "
                    '{"op": "inject", "fault": "blackhole"} or {"op": "heal"}.')
    parser.add_argument("--upstream", required=True, help="host:port of the channel")
    parser.add_argument("--port", type=int, default=0, help="where adapters connect")
    parser.add_argument("--control-port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
