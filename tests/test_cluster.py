"""Two switch processes over one PostgreSQL (issue #11): one payment per order whichever worker
took it, a shared daily cap never overshot, status pushes across processes, the books' outbox
partitions shared out between them, and a killed worker's payments, partitions of the books and
channel session taken over by the other."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest

from accounting.config import DEFAULT_BOOKS, load_books
from bench.crash import SwitchProcess
from bench.loadgen import luhn
from simulators.ibps import IbpsConfig, IbpsSimulator
from simulators.unionpay import UnionPayConfig, UnionPaySimulator
from switch.client import SwitchClient
from switch.clock import SystemClock
from switch.order import Order, Party
from switch.store import open_store
from tests.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    PG_DSN,
    _drop_schema,
    _pg_schema_url,
    posted_to_the_end,
)

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
CAP = 1_000_000  # IBPS channel-wide daily cap in this test: 10,000 CNY


class Pair:
    """Two workers of one cluster, each on its own port (as on two machines)."""

    def __init__(self, a: SwitchProcess, b: SwitchProcess, ibps: IbpsSimulator,
                 unionpay: UnionPaySimulator, store_url: str, books: Path) -> None:
        self.a, self.b, self.ibps, self.unionpay, self.store_url = a, b, ibps, unionpay, store_url
        self.books = books

    async def leases(self) -> dict[str, int]:
        """The books' leases held now, each with the pid of the worker holding it."""
        con = await asyncpg.connect(self.store_url)
        try:
            rows = await con.fetch("SELECT name, worker_id FROM cluster_leases "
                                   "WHERE name LIKE 'accounting%' AND expires_at >= now()")
        finally:
            await con.close()
        return {r["name"]: int(r["worker_id"].split("-")[-2]) for r in rows}

    async def leases_become(self, wanted: dict[str, int]) -> dict[str, int]:
        for _ in range(100):
            held = await self.leases()
            if held == wanted:
                break
            await asyncio.sleep(0.1)
        return held

    async def client(self, worker: SwitchProcess) -> SwitchClient:
        return await SwitchClient.connect("127.0.0.1", worker.port, CLIENT_ID, CLIENT_SECRET)


@contextlib.asynccontextmanager
async def _pair(tmp_path: Path, routing: str = "") -> AsyncIterator[Pair]:
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    schema, store_url = await _pg_schema_url()
    ibps = IbpsSimulator(IbpsConfig(reply_delay_ms=50), SystemClock())
    unionpay = UnionPaySimulator(UnionPayConfig(), SystemClock())
    catalogue = resources.files("routing").joinpath("channels.toml").read_text(encoding="utf-8")
    catalogue = catalogue.replace("daily_cap = 5_000_000_000_000   # 50 bn CNY (cfg)",
                                  f"daily_cap = {CAP}")
    assert f"daily_cap = {CAP}" in catalogue
    (tmp_path / "channels.toml").write_text(catalogue, encoding="utf-8")
    # the books posted by two consumers, CNY and the rest: a lease each, one per worker
    books = DEFAULT_BOOKS.read_text(encoding="utf-8")
    assert "\npartitions = []\n" in books
    (tmp_path / "books.toml").write_text(books.replace("\npartitions = []\n",
                                                       '\npartitions = [["CNY"]]\n'),
                                         encoding="utf-8")
    config = tmp_path / "switch.toml"
    config.write_text(
        f'[server]\nport = 0\n\n[clients.{CLIENT_ID}]\nsecret = "{CLIENT_SECRET}"\n\n'
        f'[routing]\ncatalogue = "{tmp_path / "channels.toml"}"\n{routing}\n'
        f'[accounting]\nbooks = "{tmp_path / "books.toml"}"\n\n'
        "[cluster]\nlease_s = 2.0\nheartbeat_s = 0.5\n\n"
        f"[channels.ibps]\nport = {await ibps.start()}\nreply_timeout_s = 5.0\n\n"
        f"[channels.unionpay]\nport = {await unionpay.start()}\nreply_timeout_s = 5.0\n",
        encoding="utf-8")
    a = SwitchProcess(config, store_url)
    b = SwitchProcess(config, store_url)
    await a.start()  # first up: it takes the books' leases and the UnionPay session
    await asyncio.sleep(0.5)
    await b.start()
    try:
        yield Pair(a, b, ibps, unionpay, store_url, tmp_path / "books.toml")
    finally:
        await a.stop()
        await b.stop()
        await ibps.stop()
        await unionpay.stop()
        await _drop_schema(schema)


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async with _pair(tmp_path) as p:
        yield p


def _order(n: int, amount: int = 10_000, **fields: object) -> Order:
    o = Order(client_order_id=f"CL-{n:06d}", amount=amount, currency="CNY",
              debtor=Party(account=f"6217000000{n:06d}", name="张三", agent="102100099996"),
              creditor=Party(account="6222000000000009", name="李四", agent="103100000026"))
    return msgspec.structs.replace(o, **fields)


async def test_the_same_order_through_both_workers_is_one_payment(pair: Pair) -> None:
    ca, cb = await pair.client(pair.a), await pair.client(pair.b)
    try:
        for n in range(20):
            o = _order(n)
            first, second = await asyncio.gather(ca.submit(o), cb.submit(o))
            assert first.payment_id == second.payment_id
            assert sorted([first.duplicate, second.duplicate]) == [False, True]
        for n in range(20):
            await ca.wait_final(f"CL-{n:06d}", timeout=30)
    finally:
        await ca.close()
        await cb.close()
    assert len(pair.ibps.books.items) == 20  # one channel item per order
    assert pair.ibps.duplicates() == 0


async def test_a_daily_cap_shared_by_both_is_never_exceeded(pair: Pair) -> None:
    ca, cb = await pair.client(pair.a), await pair.client(pair.b)
    orders = [_order(100 + n, amount=50_000) for n in range(40)]  # 2x the cap in all
    try:
        await asyncio.gather(*(c.submit(o) for c, o in zip([ca, cb] * 20, orders, strict=True)))
        finals = [await (ca if i % 2 == 0 else cb).wait_final(o.client_order_id, timeout=30)
                  for i, o in enumerate(orders)]
    finally:
        await ca.close()
        await cb.close()
    states = Counter((f.state, f.reason) for f in finals)
    settled = sum(o.amount for o, f in zip(orders, finals, strict=True) if f.state == "SETTLED")
    assert settled <= CAP  # the two workers together never overshot the shared cap
    assert settled == CAP  # ... and used it up: exactly 20 of 40 went
    assert states == {("SETTLED", None): 20, ("REJECTED", "AM14"): 20}
    assert pair.ibps.books.settled_total() == settled


async def test_a_position_shared_by_both_is_never_routed_twice(tmp_path: Path) -> None:
    # Treasury funds IBPS with 1,000 CNY; 2,000 CNY of orders arrive through both workers at
    # once. Each worker reads the same books, so only the reservations in the database keep
    # the two from spending the same money.
    async with _pair(tmp_path, routing='positions = ["IBPS"]\n') as pair:
        funded = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "switch.cli", "treasury", "fund", "--channel", "IBPS",
            "--amount", "100000", "--currency", "CNY", "--operator", "treasury.wang",
            "--reason", "morning funding", "--ref", "T-1", "--store", pair.store_url],
            capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert funded.returncode == 0, funded.stderr
        ca, cb = await pair.client(pair.a), await pair.client(pair.b)
        try:
            # until each worker's books show the funding: a 0.01 CNY probe through each settles
            spent, n = 0, 0
            for c in (ca, cb):
                for _ in range(100):
                    n += 1
                    probe = _order(900 + n, amount=1)
                    await c.submit(probe)
                    if (await c.wait_final(probe.client_order_id, timeout=30)).state \
                            == "SETTLED":
                        spent += 1
                        break
                    await asyncio.sleep(0.1)
            assert spent == 2
            orders = [_order(1000 + n, amount=5_000) for n in range(40)]
            await asyncio.gather(*(c.submit(o) for c, o in zip([ca, cb] * 20, orders,
                                                                strict=True)))
            finals = [await (ca if i % 2 == 0 else cb).wait_final(o.client_order_id, timeout=30)
                      for i, o in enumerate(orders)]
        finally:
            await ca.close()
            await cb.close()
        settled = sum(o.amount for o, f in zip(orders, finals, strict=True)
                      if f.state == "SETTLED")
        assert settled <= 100_000 - spent  # never more than the position held
        assert settled >= 100_000 - spent - 2 * 5_000  # ... and not left mostly unused
        assert {(f.state, f.reason) for f in finals} == {("SETTLED", None), ("REJECTED", "AM04")}
        assert pair.ibps.books.settled_total() == settled + spent


async def test_a_killed_worker_is_taken_over(pair: Pair) -> None:
    assert pair.a.proc is not None and pair.b.proc is not None
    a, b = pair.a.proc.pid, pair.b.proc.pid
    # the first worker took both partitions of the books and gave one up when B came
    split = {"accounting:CNY": a, "accounting:other": b}
    assert await pair.leases_become(split) == split
    card = luhn("622202020000123")
    cb = await pair.client(pair.b)
    try:
        # B takes a card payment; A holds the UnionPay session, so B hands it over, and the
        # SETTLED that A reaches is pushed to B's session across the processes
        via_a = _order(500, product="CARD", creditor=Party(account=card, name="持卡人",
                                                            agent="103100000026"))
        await cb.submit(via_a)
        assert (await cb.wait_final(via_a.client_order_id, timeout=30)).state == "SETTLED"
        # load on A, killed mid-way: every order it acknowledged must end, driven by B
        ca = await pair.client(pair.a)
        orders = [_order(600 + n, amount=100 + n) for n in range(300)]
        acks = await asyncio.gather(*(ca.submit(o) for o in orders[:150]))
        await pair.a.kill()
        await ca.close()
        assert len(acks) == 150
        for o in orders[:150]:
            reply = None
            for _ in range(300):
                reply = await cb.query(o.client_order_id)
                if reply.status is not None and reply.status.final:
                    break
                await asyncio.sleep(0.1)
            assert reply is not None and reply.found and reply.status is not None
            assert reply.status.final, reply.status
        # B posts A's partition of the books now (held after the lease ran out), and it
        # holds the UnionPay session too: a card payment through B goes through B
        both = {"accounting:CNY": b, "accounting:other": b}
        assert await pair.leases_become(both) == both
        after = _order(501, product="CARD", creditor=Party(account=card, name="持卡人",
                                                            agent="103100000026"))
        await cb.submit(after)
        assert (await cb.wait_final(after.client_order_id, timeout=30)).state == "SETTLED"
    finally:
        await cb.close()
    assert pair.ibps.duplicates() == 0 and pair.unionpay.duplicates() == 0
    # B took over the books: the outbox is posted to the end and the ledger balances
    from accounting.poster import check_ledger
    from accounting.worker import AccountingWorker

    await posted_to_the_end(pair.store_url, load_books(pair.books))
    store = open_store(pair.store_url)
    await store.open()
    books = AccountingWorker(store, SystemClock(), books=load_books(pair.books))
    try:
        assert await books.lag() == 0
        assert (await check_ledger(books.ledger)).balanced
    finally:
        await books.ledger.close()
        await store.close()


async def test_serve_workers_share_one_port(tmp_path: Path) -> None:
    """`payswitch serve --workers 2`: one port, connections spread over both workers."""

    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    schema, store_url = await _pg_schema_url()
    ibps = IbpsSimulator(IbpsConfig(), SystemClock())
    config = tmp_path / "switch.toml"
    config.write_text(
        f'[server]\nport = 0\n\n[clients.{CLIENT_ID}]\nsecret = "{CLIENT_SECRET}"\n\n'
        f"[channels.ibps]\nport = {await ibps.start()}\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "switch.cli", "serve", "--workers", "2", "--config", str(config),
        "--store", store_url, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
        assert line.startswith("LISTENING ")
        port = int(line.rsplit(":", 1)[1])
        pids = (await proc.stdout.readline()).decode().split()[1:]
        assert len(pids) == 2
        # each connection lands on either worker by a hash of its address: with 24, all on one
        # worker is a 1 in 8 million chance (with 12 it was 1 in 2,000)
        clients = [await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET)
                   for _ in range(24)]
        orders = [_order(900 + n) for n in range(48)]
        await asyncio.gather(*(c.submit(o) for c, o in zip(clients * 2, orders, strict=True)))
        for c, o in zip(clients * 2, orders, strict=True):
            assert (await c.wait_final(o.client_order_id, timeout=30)).state == "SETTLED"
        for c in clients:
            await c.close()
        store = open_store(store_url)
        await store.open()
        try:
            owners = await store.pool.fetch(  # type: ignore[attr-defined]
                "SELECT DISTINCT owner FROM payments WHERE owner IS NOT NULL")
            assert len(owners) == 2  # the kernel spread the sessions over both workers
        finally:
            await store.close()
    finally:
        proc.terminate()
        await proc.wait()
        await ibps.stop()
        await _drop_schema(schema)


@contextlib.asynccontextmanager
async def _listening(urls: list[str]) -> AsyncIterator[tuple[list[Any], list[list[Any]]]]:
    """A bare Cluster (no engine) on each store URL, and what each hears of status pushes."""
    from switch.cluster import Cluster
    from switch.store.postgres import PostgresStore

    stores = [open_store(u) for u in urls]
    heard: list[list[Any]] = [[] for _ in urls]
    clusters = []
    try:
        for i, store in enumerate(stores):
            await store.open()
            assert isinstance(store, PostgresStore)
            c = Cluster(store, f"w{i}")
            c.on_status = heard[i].append
            await c.start()
            clusters.append(c)
        yield clusters, heard
    finally:
        for c in clusters:
            await c.stop()
        for store in stores:
            await store.close()


async def test_status_pushes_stay_within_their_schema() -> None:
    """NOTIFY is heard database-wide: a cluster in another schema of the same database (another
    tenant, another test run) must not hear this one's status pushes; its own workers must."""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    (s1, url1), (s2, url2) = await _pg_schema_url(), await _pg_schema_url()
    try:
        async with _listening([url1, url1, url2]) as (clusters, heard):
            clusters[0].broadcast({"client_order_id": "X1", "state": "SETTLED"})
            for _ in range(100):
                if heard[1]:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # time enough for a stray push to arrive too
            assert heard[1] == [{"client_order_id": "X1", "state": "SETTLED"}]
            assert heard[0] == [] and heard[2] == []
    finally:
        await _drop_schema(s1)
        await _drop_schema(s2)


async def test_a_burst_of_status_pushes_arrives_whole() -> None:
    """A worker finishing many payments in one turn pushes them in NOTIFY payloads under
    PostgreSQL's 8,000-byte limit; every status arrives, non-ASCII text included. (Statuses
    were once encoded twice: escaped quotes made payloads too long, and pushes were lost.)"""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    schema, url = await _pg_schema_url()
    sent = [{"client_id": CLIENT_ID, "payment_id": f"{n:032x}", "client_order_id": f"CL-{n:06d}",
             "state": "REJECTED", "reason": "AM04", "channel": "IBPS", "fee": n, "final": True,
             "at": "2026-12-06T10:00:00+08:00", "note": "头寸不足 \"quoted\""}
            for n in range(300)]
    try:
        async with _listening([url, url]) as (clusters, heard):
            for status in sent:
                clusters[0].broadcast(status)
            for _ in range(250):
                if len(heard[1]) >= len(sent):
                    break
                await asyncio.sleep(0.02)
            assert heard[1] == sent
    finally:
        await _drop_schema(schema)


async def test_a_listener_that_never_closes_does_not_hold_up_the_stop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The LISTEN connection's graceful close waits for the server's goodbye; through a dead
    path that never comes, and a stopping switch must still stop (and close its store)."""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    from urllib.parse import urlsplit

    from simulators.proxy import Fault, FaultProxy
    from switch import cluster as cluster_module
    from switch.store.postgres import PostgresStore

    monkeypatch.setattr(cluster_module, "CLOSE_S", 0.5)
    schema, url = await _pg_schema_url()
    at = urlsplit(url)
    proxy = FaultProxy(at.hostname or "127.0.0.1", at.port or 5432)
    store = open_store(url)
    try:
        await store.open()
        assert isinstance(store, PostgresStore)
        # the pool goes direct; the listener, which the cluster opens on the store's DSN, via
        # the proxy (the pool is open by now: the DSN is read only for the listener)
        monkeypatch.setattr(store, "_dsn", url.replace(at.netloc.split("@")[-1],
                                                       f"127.0.0.1:{await proxy.start()}"))
        c = cluster_module.Cluster(store, "w-dead-path")
        await c.start()
        assert proxy.stats.accepted == 1
        proxy.inject(Fault.BLACKHOLE)
        await asyncio.wait_for(c.stop(), 10)
        assert proxy.stats.swallowed >= 1  # the goodbye went into the dead path
    finally:
        await store.close()
        await proxy.stop()
        await _drop_schema(schema)
