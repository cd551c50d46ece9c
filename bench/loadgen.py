"""Seeded payment orders and a pipelined driver: the load the demo, tests and benchmarks send.

The mix is a day of a city commercial bank's online payments in miniature: mostly orders IBPS
settles, plus the cases that must end otherwise (over the cap, closed accounts, bad input).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import gc
import itertools
import math
import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from accounting.core import gc_paused
from messages.iso20022.lei import with_check_digits
from switch.client import SwitchClient, SwitchError
from switch.order import Order, Party
from switch.protocol import Ack, Status

OUR_BANK = "102100099996"
OTHER_BANKS = ("103100000026", "104100000004", "105100000017", "308584000013", "301290000007")
CLOSED_ACCOUNTS = ("6222020000000000001", "6222020000000000002")
SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴")


def order_mix(n: int, seed: int, *, run: str = "D") -> list[Order]:
    """`n` orders from `seed`: 92% settle, 4% over the IBPS cap, 2% closed account, 2% invalid."""
    rng = random.Random(seed)
    orders = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.04:
            amount = rng.randint(5_000_001, 100_000_000)  # above 50,000 CNY: AM02
        else:
            amount = rng.choice((rng.randint(1, 100_000), rng.randint(100_001, 5_000_000)))
        creditor_account = f"62{rng.randrange(10**16, 10**17)}"
        if 0.04 <= roll < 0.06:
            creditor_account = rng.choice(CLOSED_ACCOUNTS)  # the receiving bank says AC04
        debtor_account = f"6217{rng.randrange(10**14, 10**15)}"
        if 0.06 <= roll < 0.08:
            debtor_account = "not-an-account"  # refused at intake: AC02
        orders.append(Order(
            client_order_id=f"{run}-{seed}-{i:07d}",
            amount=amount,
            currency="CNY",
            debtor=Party(account=debtor_account, name=rng.choice(SURNAMES) + "某", agent=OUR_BANK),
            creditor=Party(account=creditor_account, name=rng.choice(SURNAMES) + "某某",
                           agent=rng.choice(OTHER_BANKS)),
            remittance_info=f"invoice {rng.randrange(10**6)}",
        ))
    return orders


# Banks abroad, by country: (BIC, LEI of the bank); the LEIs carry valid check digits.
FOREIGN_BANKS = {
    "HK": ("HSBCHKHHXXX", with_check_digits("5493006HSBCHK00001")),
    "SG": ("DBSSSGSGXXX", with_check_digits("5493006DBSSG000002")),
    "US": ("CITIUS33XXX", with_check_digits("5493006CITIUS00003")),
    "DE": ("COBADEFFXXX", with_check_digits("5493006COBADE00004")),
}
# (share of the mix, kind): what a city commercial bank's day of payments looks like in
# miniature, so every channel gets traffic (routing, not the mix, picks the channel).
CHANNEL_MIX = (
    (0.40, "small"),  # domestic, normal urgency: the cheapest channel, BEPS
    (0.12, "urgent"),  # domestic, urgent: IBPS, minutes matter more than a fee
    (0.08, "large"),  # above 50,000 CNY: HVPS only
    (0.08, "card"),  # to a UnionPay card: product CARD
    (0.05, "cnh"),  # CNY to a bank abroad with an LEI: CIPS
    (0.05, "fx"),  # USD / EUR abroad: SWIFT
    (0.16, "micro"),  # T+0 merchant settlement to a few merchants: batched (product T0SETTLE)
    (0.03, "closed"),  # the receiving bank refuses: AC04
    (0.03, "invalid"),  # refused at intake: AC02
)
# The merchants the micro-payments settle to (one batch each per window).
MERCHANTS = tuple(Party(account=f"6222000000800{i:03d}", name=f"商户{i}",
                        agent=OTHER_BANKS[i % len(OTHER_BANKS)]) for i in range(5))


def luhn(digits: str) -> str:
    """``digits`` with its Luhn check digit appended (card numbers).

    >>> luhn("622202020000000123")
    '6222020200000001236'
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def channel_mix(n: int, seed: int, *, run: str = "D") -> list[Order]:
    """`n` orders from `seed` that exercise every channel (shares in CHANNEL_MIX)."""
    rng = random.Random(seed)
    edges = list(itertools.accumulate(share for share, _ in CHANNEL_MIX))
    orders = []
    for i in range(n):
        kind = CHANNEL_MIX[min(bisect.bisect(edges, rng.random()), len(CHANNEL_MIX) - 1)][1]
        debtor = Party(account=f"6217{rng.randrange(10**14, 10**15)}",
                       name=rng.choice(SURNAMES) + "某", agent=OUR_BANK)
        creditor = Party(account=f"62{rng.randrange(10**16, 10**17)}",
                         name=rng.choice(SURNAMES) + "某某", agent=rng.choice(OTHER_BANKS))
        amount = rng.randint(1, 5_000_000)
        fields: dict[str, object] = {}
        if kind == "urgent":
            fields["urgency"] = "urgent"
        elif kind == "large":
            amount = rng.randint(5_000_001, 500_000_000)
        elif kind == "card":
            fields["product"] = "CARD"
            creditor = msgspec.structs.replace(
                creditor, account=luhn(f"6222{rng.randrange(10**13, 10**14)}"))
            amount = rng.randint(100, 2_000_000)
        elif kind in ("cnh", "fx"):
            country = rng.choice(sorted(FOREIGN_BANKS))
            bic, lei = FOREIGN_BANKS[country]
            creditor = Party(account=f"{country}{rng.randrange(10**12, 10**13)}",
                             name="Overseas Trading Ltd", agent=bic, country=country,
                             lei=lei if kind == "cnh" else None)
            fields["purpose"] = "GDDS"
            if kind == "fx":
                fields["currency"] = rng.choice(("USD", "EUR"))
                amount = rng.randint(10_000, 10_000_000)
        elif kind == "micro":
            fields["product"] = "T0SETTLE"
            creditor = rng.choice(MERCHANTS)
            amount = rng.randint(100, 20_000)
        elif kind == "closed":
            creditor = msgspec.structs.replace(creditor, account=rng.choice(CLOSED_ACCOUNTS))
        elif kind == "invalid":
            debtor = msgspec.structs.replace(debtor, account="not-an-account")
        orders.append(Order(
            client_order_id=f"{run}-{seed}-{i:07d}", amount=amount, currency="CNY",
            debtor=debtor, creditor=creditor, remittance_info=f"invoice {rng.randrange(10**6)}",
        ))
        if fields:
            orders[-1] = msgspec.structs.replace(orders[-1], **fields)
    return orders


# The seeded order books a scenario or a load can name: (count, seed, run=...) -> orders.
def customer_mix(n: int, seed: int, *, run: str = "D", customers: int = 50_000) -> list[Order]:
    """`order_mix` with its debtors drawn from a bank's ``customers`` accounts rather than each
    order a new one: what a long soak sends, since the switch keeps state per debtor and
    business day (daily caps), which a finite customer base bounds."""
    rng = random.Random(seed * 7919 + 1)
    out = []
    for order in order_mix(n, seed, run=run):
        if order.debtor.account.startswith("6217"):  # the invalid ones stay invalid
            debtor = msgspec.structs.replace(
                order.debtor, account=f"6217{rng.randrange(customers):015d}")
            order = msgspec.structs.replace(order, debtor=debtor)
        out.append(order)
    return out


GENERATORS = {"channel_mix": channel_mix, "customer_mix": customer_mix, "order_mix": order_mix}


@contextlib.contextmanager
def no_gc_pauses() -> Iterator[None]:
    """No cyclic garbage collection in this process while the load it sends is measured.

    A collection stops the load's event loop while it scans, and the orders due meanwhile
    count the pause as the switch's latency: a bench.e2e run made 226 full collections of
    10-76 ms, as long as the bare echo server's whole p99. The load makes few reference
    cycles and every run is bounded in count and time; what it leaves is collected after.
    Not for a process that hosts the switch as well (the demo): its collections are part of
    what is measured.
    """
    gc.collect()
    with gc_paused():
        yield


class LoadResult(msgspec.Struct):
    acks: dict[str, Ack]
    finals: dict[str, Status]
    ack_latency_ms: list[float]
    errors: list[str]
    seconds: float  # until every final status (or the timeout)
    ack_seconds: float = 0.0  # until the last acknowledgement


async def drive(
    client: SwitchClient,
    orders: Iterable[Order],
    *,
    window: int,
    final_timeout: float = 120.0,
    on_progress: object = None,
) -> LoadResult:
    """Submit every order keeping `window` in flight; wait for every final status (bounded)."""
    slots = asyncio.Semaphore(window)
    acks: dict[str, Ack] = {}
    latencies: list[float] = []
    errors: list[str] = []
    pending: set[asyncio.Future[Ack]] = set()
    started = time.perf_counter()
    order_list = list(orders)
    progress = on_progress if callable(on_progress) else None

    def acked(order: Order, sent: float, fut: asyncio.Future[Ack]) -> None:
        slots.release()
        pending.discard(fut)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            errors.append(f"{order.client_order_id}: {exc}")
            return
        latencies.append((time.perf_counter() - sent) * 1000)
        acks[order.client_order_id] = fut.result()

    for order in order_list:
        await slots.acquire()
        fut = client.submit_nowait(order)
        pending.add(fut)
        fut.add_done_callback(functools.partial(acked, order, time.perf_counter()))
    if pending:
        await asyncio.wait(list(pending), timeout=final_timeout)
    ack_seconds = time.perf_counter() - started
    finals: dict[str, Status] = {}
    deadline = time.perf_counter() + final_timeout
    for order in order_list:
        coid = order.client_order_id
        if coid not in acks:
            continue
        try:
            left = max(0.0, deadline - time.perf_counter())
            finals[coid] = await client.wait_final(coid, timeout=left)
        except (TimeoutError, SwitchError) as exc:
            errors.append(f"{coid}: no final status ({exc!r})")
        if progress is not None:
            progress(len(finals))
    return LoadResult(acks, finals, latencies, errors, time.perf_counter() - started,
                      ack_seconds)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.0
    """
    if not values:
        return 0.0
    ranked = sorted(values)
    k = max(0, min(len(ranked) - 1, math.ceil(q / 100 * len(ranked)) - 1))
    return ranked[k]


# -- the load generator: open or closed loop, connections x processes, HDR histograms ----------

LATENCY_MAX_US = 600_000_000  # 10 minutes: the longest time-to-final a histogram holds


class LoadSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A bounded load against a switch on loopback.

    ``mode="open"``: orders leave at a fixed total ``rate`` whatever the switch answers, each
    latency measured from when its order was *due*, so a stalled switch shows its stall in the
    figures instead of slowing the load (no coordinated omission). ``mode="closed"``: each
    connection keeps ``window`` orders in flight. Both stop at ``orders`` or ``seconds``,
    whichever comes first, then wait at most ``final_timeout`` for the final statuses.
    """

    host: str = "127.0.0.1"
    port: int
    client_id: str
    secret: str
    mode: str = "closed"  # open | closed
    rate: float = 0.0  # orders/s over every connection and process (open loop)
    window: int = 1000  # orders in flight per connection (closed loop; a cap in open loop)
    connections: int = 1  # per process
    processes: int = 1
    orders: int = 10_000  # at most, in total
    seconds: float = 60.0  # of sending, at most
    final_timeout: float = 120.0
    generator: str = "order_mix"  # a GENERATORS name
    seed: int = 7
    run: str = "L"  # client_order_id prefix: a new one per run keeps orders new
    sample_s: float = 1.0  # how often the progress (acked, final) is sampled

    def __post_init__(self) -> None:
        if self.mode not in ("open", "closed"):
            raise ValueError("mode must be open or closed")
        if self.mode == "open" and self.rate <= 0:
            raise ValueError("an open-loop load needs a rate above zero")
        if min(self.connections, self.processes, self.window, self.orders) < 1:
            raise ValueError("connections, processes, window and orders must be at least 1")
        if self.generator not in GENERATORS:
            raise ValueError(f"generator must be one of {sorted(GENERATORS)}")
        require_loopback(self.host)


def require_loopback(host: str) -> None:
    """Load goes to loopback only: refuse any other address.

    >>> require_loopback("127.0.0.1"), require_loopback("localhost")
    (None, None)
    >>> require_loopback("10.0.0.7")
    Traceback (most recent call last):
    ...
    ValueError: load only goes to loopback, not 10.0.0.7
    """
    import ipaddress
    import socket

    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        addresses = set()
    if not addresses or not all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback
                                for a in addresses):
        raise ValueError(f"load only goes to loopback, not {host}")


class LoadReport(msgspec.Struct, kw_only=True):
    """What a load saw: counts, rates, and HDR histograms (microseconds) of the latency from
    when each order was due to its ACK and to its final status."""

    sent: int = 0
    acked: int = 0
    final: int = 0
    errors: int = 0
    send_seconds: float = 0.0  # first due order to last sent
    seconds: float = 0.0  # first due order to the last final status (or the timeout)
    ack_hist: bytes = b""  # HdrHistogram.encode()
    final_hist: bytes = b""
    samples: list[tuple[float, int, int]] = []  # (seconds since start, acked, final)
    error_samples: list[str] = []

    def merge(self, other: LoadReport) -> None:
        self.sent += other.sent
        self.acked += other.acked
        self.final += other.final
        self.errors += other.errors
        self.send_seconds = max(self.send_seconds, other.send_seconds)
        self.seconds = max(self.seconds, other.seconds)
        self.ack_hist = _merged(self.ack_hist, other.ack_hist)
        self.final_hist = _merged(self.final_hist, other.final_hist)
        self.samples = _sum_samples(self.samples, other.samples)
        self.error_samples = (self.error_samples + other.error_samples)[:10]

    def figures(self) -> dict[str, float]:
        """Rates and percentiles in ms, for reports."""
        ack, final = _hist(self.ack_hist), _hist(self.final_hist)
        return {
            "sent": self.sent, "acked": self.acked, "final": self.final, "errors": self.errors,
            "acked_per_s": round(self.acked / self.send_seconds, 1) if self.send_seconds else 0.0,
            "final_per_s": round(self.final / self.seconds, 1) if self.seconds else 0.0,
            "ack_p50_ms": _ms(ack, 50), "ack_p99_ms": _ms(ack, 99), "ack_max_ms": _ms(ack, 100),
            "final_p50_ms": _ms(final, 50), "final_p99_ms": _ms(final, 99),
        }


def _hist(encoded: bytes) -> Any:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram.decode(encoded) if encoded else HdrHistogram(1, LATENCY_MAX_US, 3)


def _merged(a: bytes, b: bytes) -> bytes:
    if not a or not b:
        return a or b
    h = _hist(a)
    h.add(_hist(b))
    encoded: bytes = h.encode()
    return encoded


def _ms(hist: Any, q: float) -> float:
    if not hist.get_total_count():
        return 0.0
    value = hist.get_max_value() if q >= 100 else hist.get_value_at_percentile(q)
    return round(value / 1000, 3)


def _sum_samples(a: list[tuple[float, int, int]], b: list[tuple[float, int, int]]
                 ) -> list[tuple[float, int, int]]:
    """Two progress series on the same sampling grid, added up (the shorter one holds its
    last values)."""
    if not a or not b:
        return a or b
    out = []
    for i in range(max(len(a), len(b))):
        x, y = a[min(i, len(a) - 1)], b[min(i, len(b) - 1)]
        out.append((max(x[0], y[0]), x[1] + y[1], x[2] + y[2]))
    return out


class _Connection:
    """One session's share of the load."""

    def __init__(self, client: SwitchClient, orders: list[Order], spec: LoadSpec,
                 rate: float, start: float, deadline: float) -> None:
        from hdrh.histogram import HdrHistogram

        self.client = client
        self.orders = orders
        self.spec = spec
        self.rate = rate
        self.start = start
        self.deadline = deadline
        self.ack_hist = HdrHistogram(1, LATENCY_MAX_US, 3)
        self.final_hist = HdrHistogram(1, LATENCY_MAX_US, 3)
        self.sent = self.acked = self.final = self.errors = 0
        self.errors_seen: list[str] = []
        self.in_flight = 0
        self.room = asyncio.Event()
        self.last_sent = start

    def _send(self, order: Order, due: float) -> None:
        self.sent += 1
        self.in_flight += 1
        ack = self.client.submit_nowait(order)
        ack.add_done_callback(functools.partial(self._acked, order.client_order_id, due))

    def _acked(self, order_id: str, due: float, fut: asyncio.Future[Ack]) -> None:
        self.in_flight -= 1
        self.room.set()
        if fut.cancelled() or fut.exception() is not None:
            self.errors += 1
            if len(self.errors_seen) < 10:
                self.errors_seen.append(f"{order_id}: {fut.exception()!r}")
            return
        now = time.perf_counter()
        self.acked += 1
        self.ack_hist.record_value(max(1, int((now - due) * 1e6)))
        self.client.final(order_id).add_done_callback(functools.partial(self._finished, due))

    def _finished(self, due: float, fut: asyncio.Future[Status]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self.final += 1
            self.final_hist.record_value(max(1, int((time.perf_counter() - due) * 1e6)))

    async def _wait_room(self) -> None:
        while self.in_flight >= self.spec.window:
            self.room.clear()
            await self.room.wait()

    async def send_all(self) -> None:
        if self.spec.mode == "closed":
            for order in self.orders:
                await self._wait_room()
                if time.perf_counter() >= self.deadline:
                    break
                self._send(order, time.perf_counter())
        else:
            interval = 1.0 / self.rate
            for i, order in enumerate(self.orders):
                due = self.start + i * interval
                if due >= self.deadline:
                    break
                wait = due - time.perf_counter()
                if wait > 0.001:
                    await asyncio.sleep(wait)
                await self._wait_room()  # still measured from `due`: the stall counts
                self._send(order, due)
        self.last_sent = time.perf_counter()


async def run_load(spec: LoadSpec, *, process: int = 0, start_at: float | None = None
                   ) -> LoadReport:
    """This process's share of ``spec`` (``spec.connections`` sessions), starting at wall time
    ``start_at`` (so several processes start together)."""
    share = spec.orders // spec.processes + (1 if process < spec.orders % spec.processes else 0)
    orders = GENERATORS[spec.generator](share, spec.seed * 1000 + process,
                                        run=f"{spec.run}{process}")
    clients = [await SwitchClient.connect(spec.host, spec.port, spec.client_id, spec.secret)
               for _ in range(spec.connections)]
    with no_gc_pauses():  # from before the first order is due
        if start_at is not None:
            await asyncio.sleep(max(0.0, start_at - time.time()))
        start = time.perf_counter()
        deadline = start + spec.seconds
        per_connection_rate = spec.rate / (spec.connections * spec.processes) if spec.rate else 0.0
        conns = [_Connection(client, orders[i::spec.connections], spec, per_connection_rate,
                             start, deadline) for i, client in enumerate(clients)]
        samples: list[tuple[float, int, int]] = []

        async def sample() -> None:
            while True:
                samples.append((round(time.perf_counter() - start, 3),
                                sum(c.acked for c in conns), sum(c.final for c in conns)))
                await asyncio.sleep(spec.sample_s)

        sampler = asyncio.get_running_loop().create_task(sample())
        try:
            await asyncio.gather(*(c.send_all() for c in conns))
            send_seconds = max(c.last_sent for c in conns) - start
            final_by = time.perf_counter() + spec.final_timeout
            while time.perf_counter() < final_by and any(
                    c.final + c.errors < c.sent or c.in_flight for c in conns):
                await asyncio.sleep(0.01)
            seconds = time.perf_counter() - start
        finally:
            sampler.cancel()
            for client in clients:
                await client.close()
    samples.append((round(seconds, 3), sum(c.acked for c in conns),
                    sum(c.final for c in conns)))
    report = LoadReport(send_seconds=send_seconds, seconds=seconds, samples=samples)
    for conn in conns:
        report.merge(LoadReport(sent=conn.sent, acked=conn.acked, final=conn.final,
                                errors=conn.errors, ack_hist=conn.ack_hist.encode(),
                                final_hist=conn.final_hist.encode(),
                                error_samples=conn.errors_seen))
    return report


async def generate_load(spec: LoadSpec) -> LoadReport:
    """The whole load: ``spec.processes`` processes (this one alone when 1), merged."""
    if spec.processes == 1:
        return await run_load(spec)
    import sys

    start_at = time.time() + 1.0 + 0.3 * spec.processes  # time for every process to connect
    workers = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.loadgen", "--worker", str(p), str(start_at),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        for p in range(spec.processes)]
    outputs = await asyncio.gather(*(w.communicate(msgspec.json.encode(spec)) for w in workers))
    failed = [w.returncode for w in workers if w.returncode]
    if failed:
        raise RuntimeError(f"load processes failed with exit codes {failed}")
    reports = [msgspec.msgpack.decode(out, type=LoadReport) for out, _ in outputs]
    total = reports[0]
    for r in reports[1:]:
        total.merge(r)
    return total


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.loadgen --port P --client ID --secret S [--mode open --rate R] ...``:
    a bounded load against a running switch on loopback; the figures as JSON."""
    import argparse
    import sys

    import uvloop

    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--worker"]:  # one process of a multi-process load (generate_load)
        spec = msgspec.json.decode(sys.stdin.buffer.read(), type=LoadSpec)
        report = uvloop.run(run_load(spec, process=int(args_in[1]),
                                     start_at=float(args_in[2])))
        sys.stdout.buffer.write(msgspec.msgpack.encode(report))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client", required=True, help="client id of [clients.<id>]")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--mode", choices=("open", "closed"), default="closed")
    parser.add_argument("--rate", type=float, default=0.0, help="orders/s in total (open)")
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=1, help="per process")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--generator", default="order_mix", choices=sorted(GENERATORS))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(args_in)
    try:
        spec = LoadSpec(host=args.host, port=args.port, client_id=args.client,
                        secret=args.secret, mode=args.mode, rate=args.rate, window=args.window,
                        connections=args.connections, processes=args.processes,
                        orders=args.orders, seconds=args.seconds, generator=args.generator,
                        seed=args.seed, run=f"L{int(time.time())}-")
    except ValueError as exc:
        print(f"bench.loadgen: {exc}", file=sys.stderr)
        return 2
    report = uvloop.run(generate_load(spec))
    print(msgspec.json.encode(report.figures()).decode())
    return 0 if report.final == report.sent and not report.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
