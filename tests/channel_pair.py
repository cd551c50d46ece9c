"""A channel simulator and its adapter on one loopback port and one virtual clock, for tests.

Replies wait, and deadlines and windows fire, only when the test advances the clock; the
helpers wait (in real time, bounded) for what the sockets carry meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lxml import etree

from adapters.base import ChannelStatus, Outcome
from messages.channel_framing import LinkReader, encode
from messages.iso20022 import message_name, parse_business_message
from simulators.link import admin_request
from switch.clock import VirtualClock
from switch.order import Order, Party, Payment
from tests.xsd_oracle import assert_valid

Seen = list[tuple[Outcome, str | None]]


def payment(n: int, order: Order, business_date: date | None = None) -> Payment:
    """The switch's payment of ``order``, with ids derived from ``n``."""
    return Payment(
        payment_id=f"P{n:08d}", client_id="bank-a", order=order, state="ROUTED",
        end_to_end_id=f"E2E{n:08d}", uetr=f"00000000-0000-4000-8000-{n:012d}",
        business_date=business_date.isoformat() if business_date else None,
        created_at="2026-03-02T02:00:00.000+00:00", updated_at="2026-03-02T02:00:00.000+00:00",
    )


def order(n: int, amount: int, debtor: Party, creditor: Party, **extra: Any) -> Order:
    return Order(client_order_id=f"C{n}", amount=amount, currency=extra.pop("currency", "CNY"),
                 debtor=debtor, creditor=creditor, **extra)


@dataclass
class Pair:
    sim: Any
    adapter: Any
    clock: VirtualClock
    seen: list[ChannelStatus] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.sim.port is not None
        return int(self.sim.port)

    def of(self, p: Payment) -> Seen:
        return [(s.outcome, s.reason) for s in self.seen if s.payment_id == p.payment_id]

    def detail(self, p: Payment) -> list[str | None]:
        return [s.detail for s in self.seen if s.payment_id == p.payment_id]

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"timed out; seen {self.seen[-5:]}"
            await asyncio.sleep(0.002)

    async def final(self, p: Payment, n: int = 1) -> Seen:
        """What the adapter said of ``p`` once it has said ``n`` things."""
        await self.until(lambda: len(self.of(p)) >= n)
        return self.of(p)

    async def quiet(self, span: float = 0.15) -> None:
        """Wait until nothing has arrived for ``span`` seconds (what was in flight landed)."""
        n = -1
        while n != len(self.seen):
            n = len(self.seen)
            await asyncio.sleep(span)

    async def admin(self, **request: Any) -> dict[str, Any]:
        answer = await admin_request("127.0.0.1", self.port, request)
        assert answer["ok"], answer
        return answer

    async def set(self, when: datetime) -> None:
        """Move the clock to ``when`` and let what it set off reach the adapter."""
        self.clock.set(when)
        await self.quiet()

    async def close(self) -> None:
        await self.adapter.close()
        await self.sim.stop()


def assert_traffic_valid(traffic: list[tuple[str, bytes]]) -> set[str]:
    """Every document either side wrote validates against its XSD (pacs.028 has none in
    ../shared), and so does the AppHdr of a business message (head.001). Returns the names."""
    names = set()
    for _, data in traffic:
        if data.lstrip().startswith(b"<?xml") and b"<RequestPayload>" in data[:100]:
            assert_valid(etree.tostring(etree.fromstring(data)[0]), "head.001.001.02")
            names.add("head.001.001.02")
            _, data = parse_business_message(data)
        name = message_name(data)
        names.add(name)
        if not name.startswith("pacs.028"):
            assert_valid(data, name)
    return names


class RawLink:
    """A bare framed connection to a simulator, for messages no adapter would write."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.frames = reader, writer, LinkReader()
        self.pending: list[bytes] = []

    @classmethod
    async def open(cls, port: int) -> RawLink:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, document: bytes) -> None:
        self.writer.write(encode(document))
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> bytes:
        """The next frame; raises ConnectionError when the simulator hangs up."""
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed by the simulator")
            self.pending.extend(self.frames.feed(data))
        return self.pending.pop(0)

    def close(self) -> None:
        self.writer.close()
