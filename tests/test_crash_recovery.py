"""Kill the switch process with SIGKILL and restart it: every acknowledged order is still there,
every one reaches a final state, none reaches the channel twice, and the books balance."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from accounting.poster import check_ledger
from accounting.worker import AccountingWorker
from bench.loadgen import order_mix
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.client import SwitchClient, SwitchError
from switch.clock import SystemClock
from switch.protocol import Ack
from switch.store import open_store
from tests.conftest import posted_to_the_end

ROOT = Path(__file__).resolve().parents[1]
SECRET = "crash-test-secret-0123456789"


class SwitchProcess:
    """`payswitch serve` as a real child process."""

    def __init__(self, config: Path, store_url: str) -> None:
        self.config = config
        self.store_url = store_url
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> int:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "switch.cli", "serve", "--config", str(self.config),
            "--store", self.store_url, "--port", "0",
            stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
        )
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 30)).decode()
        assert line.startswith("LISTENING "), line
        self.port = int(line.rsplit(":", 1)[1])
        return self.port

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert await self.proc.wait() == -signal.SIGKILL

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


@pytest.fixture
async def sim() -> AsyncIterator[IbpsSimulator]:
    s = IbpsSimulator(IbpsConfig(closed_accounts=("6222020000000000001",)), SystemClock(), seed=5)
    await s.start()
    yield s
    await s.stop()


def _config(tmp_path: Path, sim_port: int) -> Path:
    path = tmp_path / "switch.toml"
    path.write_text(
        f"""
[server]
port = 0
window = 500

[clients.CRASH-CORE]
secret = "{SECRET}"

[channels.ibps]
port = {sim_port}
reply_timeout_s = 2.0
""",
        encoding="utf-8",
    )
    return path


async def _acks_until_killed(
    switch: SwitchProcess, n: int, kill_after: int
) -> tuple[list[Ack], list[str]]:
    """Pipeline n orders; SIGKILL the switch as soon as `kill_after` acks are in."""
    client = await SwitchClient.connect("127.0.0.1", switch.port, "CRASH-CORE", SECRET)
    orders = order_mix(n, seed=21, run=f"K{kill_after}")
    acks: list[Ack] = []
    enough = asyncio.Event()

    def on_ack(fut: asyncio.Future[Ack]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            acks.append(fut.result())
            if len(acks) >= kill_after:
                enough.set()

    for o in orders:
        client.submit_nowait(o).add_done_callback(on_ack)
    await asyncio.wait_for(enough.wait(), 60)
    await switch.kill()  # acks already received are the promise under test
    with pytest.raises((SwitchError, asyncio.TimeoutError)):
        await asyncio.wait_for(client.heartbeat(), 5)
    await client.close()
    return list(acks), [o.client_order_id for o in orders]


async def _all_final(port: int, client_order_ids: list[str],
                     unacknowledged: list[str]) -> dict[str, str]:
    """Every acknowledged order final, and every unacknowledged one the switch has: those it
    took in before the kill go on after the restart, and the books must wait for them too."""
    async with await SwitchClient.connect("127.0.0.1", port, "CRASH-CORE", SECRET) as c:
        states: dict[str, str] = {}
        never_taken: set[str] = set()
        wanted = [*client_order_ids, *unacknowledged]
        for _ in range(400):
            for coid in wanted:
                if coid in states or coid in never_taken:
                    continue
                reply = await c.query(coid)
                if not reply.found and coid in unacknowledged:
                    never_taken.add(coid)  # lost with the process before it was written
                    continue
                assert reply.found, f"acknowledged order {coid} was lost"
                assert reply.status is not None
                if reply.status.final:
                    states[coid] = reply.status.state
            if len(states) + len(never_taken) == len(wanted):
                return states
            await asyncio.sleep(0.05)
        left = [coid for coid in wanted if coid not in states and coid not in never_taken]
        seen = [(await c.query(coid)).status for coid in left[:5]]
    raise AssertionError(f"{len(left)} orders never became final, e.g. {seen}")


@pytest.mark.parametrize("kill_after", [400, 150])
async def test_sigkill_after_acks_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, sim: IbpsSimulator, kill_after: int
) -> None:
    store_url = f"sqlite://{tmp_path / 'crash.db'}"
    assert sim.port is not None
    sim_port = sim.port
    switch = SwitchProcess(_config(tmp_path, sim_port), store_url)
    await switch.start()
    try:
        acks, sent = await _acks_until_killed(switch, 400, kill_after)
        assert len(acks) >= kill_after
        port = await switch.start()  # restart on the same store: recovery runs first
        acked = [a.client_order_id for a in acks]
        states = await _all_final(port, acked, sorted(set(sent) - set(acked)))
        await posted_to_the_end(store_url)
    finally:
        await switch.stop()
    assert set(states.values()) <= {"SETTLED", "REJECTED"}
    # Each payment reached the channel at most once (inquiry before any resend).
    store = open_store(store_url)
    await store.open()
    try:
        for ack in acks:
            payment = await store.payment(ack.payment_id or "")
            assert payment is not None
            assert sim.received_count(payment.end_to_end_id) <= 1, payment.payment_id
            if payment.state == "SETTLED":
                assert sim.received_count(payment.end_to_end_id) == 1
        books = AccountingWorker(store, SystemClock())  # only to read: the switch posted
        assert await books.lag() == 0
        assert (await check_ledger(books.ledger)).balanced
        clearing = {b.account: b for b in await books.ledger.balances()}.get("clearing:IBPS")
        settled_at_channel = sum(
            item.amount for item in sim.items().values() if item.state == "SETTLED"
        )
        # The books say exactly what the channel settled, no more, no less.
        assert (clearing.credits_posted if clearing else 0) == settled_at_channel
        await books.ledger.close()
    finally:
        await store.close()


async def _harness(kills: int, orders: int) -> dict[str, object]:
    from bench.crash import ok, run

    figures = await run(kills=kills, orders=orders, seed=kills, deadline_s=600)
    assert ok(figures), figures
    return figures


async def test_crash_harness_kills_at_every_point_and_loses_nothing() -> None:
    figures = await _harness(kills=6, orders=1800)
    # three random kills and one at each crash point: commit, send, post
    assert figures["kill_points"] == {"random": 3, "commit": 1, "send": 1, "post": 1}
    assert figures["acked"] == 1800


@pytest.mark.slow
async def test_crash_harness_fifty_kills() -> None:
    figures = await _harness(kills=50, orders=15_000)
    assert figures["kills"] == 50
    assert figures["resent"] > 0  # kills landed while orders were in flight
