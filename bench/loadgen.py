"""Seeded payment orders and a pipelined driver: the load the demo, tests and benchmarks send.

The mix is a day of a city commercial bank's online payments in miniature: mostly orders IBPS
settles, plus the cases that must end otherwise (over the cap, closed accounts, bad input).
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import itertools
import math
import random
import time
from collections.abc import Iterable

import msgspec

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
    (0.50, "small"),  # domestic, normal urgency: the cheapest channel, BEPS
    (0.14, "urgent"),  # domestic, urgent: IBPS, minutes matter more than a fee
    (0.08, "large"),  # above 50,000 CNY: HVPS only
    (0.10, "card"),  # to a UnionPay card: product CARD
    (0.06, "cnh"),  # CNY to a bank abroad with an LEI: CIPS
    (0.06, "fx"),  # USD / EUR abroad: SWIFT
    (0.03, "closed"),  # the receiving bank refuses: AC04
    (0.03, "invalid"),  # refused at intake: AC02
)


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
GENERATORS = {"channel_mix": channel_mix, "order_mix": order_mix}


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
