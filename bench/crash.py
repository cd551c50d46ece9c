"""The crash harness: SIGKILL a real switch process under load, again and again, and prove that
nothing acknowledged is lost, nothing reaches a channel twice and the books match the channel.

    python -m bench.crash [--kills 50] [--orders 3000] [--seed 1] [--json]

The switch runs as its own process (`payswitch serve`, embedded SQLite store); the IBPS simulator
and the load run here. A killer takes the switch down `--kills` times: alternately at a random
moment and at each crash point (`switch.crashpoints`: right after a group commit before any ack,
right after a channel send before its answer, right after the accounting worker commits a page).
The load client reconnects after every kill and resends what was not acknowledged, with the same
client order ids. After the last restart it waits (bounded) until every acknowledged order is
final and the books have caught up, then checks:

- ``lost``: acknowledged orders the switch no longer knows (must be 0);
- ``duplicates``: arrivals at the channel beyond the first of a payment, plus orders that became
  more than one channel item (must be 0);
- ``ledger_difference``: the switch's IBPS clearing position against what the channel's books
  settled for this bank (must be 0), and the trial balance must net to zero;
- ``not_final``: acknowledged orders neither final nor visibly pending with a reason.

Exit code 0 when every check holds, 1 otherwise. Bounded: each phase has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from accounting.poster import check_ledger
from accounting.worker import AccountingWorker
from bench.loadgen import order_mix
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.client import SwitchClient, SwitchError
from switch.clock import SystemClock
from switch.order import Order
from switch.protocol import Ack
from switch.store import open_store

ROOT = Path(__file__).resolve().parents[1]
# The crash points this harness's switch reaches (IBPS only, no batching profile connected;
# the batch point is exercised by tests/test_batching.py).
POINTS = ("commit", "send", "post")
SECRET = "crash-harness-secret-0123456789"
CLIENT = "CRASH-CORE"
OUR_BANK = "102100099996"


class SwitchProcess:
    """`payswitch serve` as a child process that can be killed and started again."""

    def __init__(self, config: Path, store_url: str, *, clock: str | None = None) -> None:
        self.config = config
        self.store_url = store_url
        self.clock = clock  # a ShiftedClock spec, for business time other than now
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self, crash_at: str | None = None) -> int:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("PAYSWITCH_CRASH_AT", None)
        if crash_at is not None:
            env["PAYSWITCH_CRASH_AT"] = crash_at
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "switch.cli", "serve", "--config", str(self.config),
            "--store", self.store_url, "--port", str(self.port),
            *(("--clock", self.clock) if self.clock else ()),
            stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
        )
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 60)).decode()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"switch did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])  # the same port again after each restart
        return self.port

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            await self.proc.wait()

    async def died(self) -> None:
        assert self.proc is not None
        await self.proc.wait()

    async def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            await self.proc.wait()


def _write_config(path: Path, sim_port: int) -> None:
    path.write_text(
        f'[server]\nport = 0\nwindow = 300\n\n[clients.{CLIENT}]\nsecret = "{SECRET}"\n\n'
        f"[channels.ibps]\nport = {sim_port}\nreply_timeout_s = 2.0\n", encoding="utf-8")


class Load:
    """Submits every order until acknowledged, across as many switch lives as it takes."""

    def __init__(self, orders: list[Order], lives: int) -> None:
        self._all = orders
        self._per_life = -(-len(orders) // lives)  # every life gets fresh load to be killed in
        self.orders: dict[str, Order] = {}
        self.acks: dict[str, Ack] = {}
        self.resent = 0  # submissions of an order already sent in an earlier life
        self._tried: set[str] = set()

    def next_life(self) -> None:
        """Release the next slice of orders (the last life releases all that is left)."""
        start = len(self.orders)
        for o in self._all[start:start + self._per_life]:
            self.orders[o.client_order_id] = o

    def release_all(self) -> None:
        for o in self._all:
            self.orders.setdefault(o.client_order_id, o)

    @property
    def unacked(self) -> list[Order]:
        return [o for coid, o in self.orders.items() if coid not in self.acks]

    async def one_life(self, port: int, until: asyncio.Future[None]) -> None:
        """Submit what is unacknowledged (the window kept) until the switch dies or all is
        acknowledged."""
        try:
            client = await SwitchClient.connect("127.0.0.1", port, CLIENT, SECRET, timeout=10)
        except (OSError, SwitchError, TimeoutError):
            return
        try:
            todo = self.unacked
            self.resent += sum(1 for o in todo if o.client_order_id in self._tried)
            self._tried.update(o.client_order_id for o in todo)
            tasks = [asyncio.ensure_future(self._submit(client, o)) for o in todo]
            if tasks:
                everything = asyncio.ensure_future(asyncio.wait(tasks))
                either: list[asyncio.Future[Any]] = [everything, until]
                await asyncio.wait(either, timeout=120, return_when=asyncio.FIRST_COMPLETED)
                for t in tasks:
                    t.cancel()
                await asyncio.wait(tasks)
                everything.cancel()
        finally:
            await client.close()

    async def _submit(self, client: SwitchClient, order: Order) -> None:
        try:
            ack = await client.submit(order)
        except SwitchError:
            return  # the session ended (or RETRY_LATER): sent again in the next life
        self.acks[ack.client_order_id] = ack


async def run(kills: int, orders: int, seed: int, deadline_s: float) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.monotonic()
    sim = IbpsSimulator(IbpsConfig(participants={OUR_BANK: 10**15},
                                   closed_accounts=("6222020000000000001",)),
                        SystemClock(), seed=seed)
    sim_port = await sim.start()
    load = Load(order_mix(orders, seed=seed, run=f"X{seed}"), lives=kills)
    kill_points: dict[str, int] = {"random": 0, **{p: 0 for p in POINTS}}
    with tempfile.TemporaryDirectory(prefix="payswitch-crash-") as tmp:
        config = Path(tmp, "switch.toml")
        _write_config(config, sim_port)
        store_url = f"sqlite://{tmp}/crash.db"
        switch = SwitchProcess(config, store_url)
        try:
            done = 0
            while done < kills and time.monotonic() - started < deadline_s:
                kind = "random" if done % 2 == 0 else POINTS[(done // 2) % len(POINTS)]
                crash_at = None if kind == "random" else f"{kind}:{rng.randint(1, 6)}"
                port = await switch.start(crash_at)
                load.next_life()
                dead: asyncio.Future[None] = asyncio.ensure_future(switch.died())
                life = asyncio.ensure_future(load.one_life(port, dead))
                if kind == "random":
                    await asyncio.sleep(rng.uniform(0.05, 0.6))
                    await switch.kill()
                else:
                    # the armed point kills it; if the load never gets it there, kill anyway
                    await asyncio.wait([dead], timeout=rng.uniform(2.0, 4.0))
                    await switch.kill()
                await life
                if switch.proc is not None and switch.proc.returncode == -signal.SIGKILL:
                    kill_points[kind] += 1
                    done += 1
            # the last life: no more kills; everything must be acknowledged and finish
            port = await switch.start()
            load.release_all()
            for _ in range(5):
                if not load.unacked:
                    break
                never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                await load.one_life(port, never)
            finals = await _wait_final(port, list(load.acks), started + deadline_s)
            await _wait_books(store_url, started + deadline_s)
        finally:
            await switch.stop()
            await sim.stop()
        checks = await _check(store_url, sim, load, finals)
    checks.update({
        "kills": sum(kill_points.values()),
        "kill_points": kill_points,
        "orders": orders,
        "acked": len(load.acks),
        "unacked": len(load.unacked),
        "resent": load.resent,
        "seconds": round(time.monotonic() - started, 1),
    })
    return checks


async def _wait_final(port: int, coids: list[str], deadline: float) -> dict[str, str]:
    """Each acknowledged order's state once final (or the last state seen at the deadline)."""
    states: dict[str, str] = {}
    final: set[str] = set()
    async with await SwitchClient.connect("127.0.0.1", port, CLIENT, SECRET) as c:
        while len(final) < len(coids) and time.monotonic() < deadline:
            for coid in coids:
                if coid in final:
                    continue
                reply = await c.query(coid)
                if not reply.found or reply.status is None:
                    states[coid] = "LOST"
                    continue
                states[coid] = reply.status.state
                if reply.status.final:
                    final.add(coid)
            if len(final) < len(coids):
                await asyncio.sleep(0.2)
    return states


async def _wait_books(store_url: str, deadline: float) -> None:
    store = open_store(store_url)
    await store.open()
    books = AccountingWorker(store, SystemClock())
    try:
        while await books.lag() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await books.ledger.close()
        await store.close()


async def _check(store_url: str, sim: IbpsSimulator, load: Load,
                 states: dict[str, str]) -> dict[str, Any]:
    store = open_store(store_url)
    await store.open()
    books = AccountingWorker(store, SystemClock())
    await books.open()
    try:
        lost = sum(1 for s in states.values() if s == "LOST")
        not_final = sorted(coid for coid, s in states.items()
                           if s not in ("SETTLED", "REJECTED", "RETURNED", "CANCELLED", "LOST"))
        # arrivals beyond the first of one payment, and orders behind more than one item
        repeated_arrivals = sim.duplicates()
        items_per_order: dict[str, int] = {}
        for e2e in sim.items():
            payment = await store.payment(e2e)
            key = payment.order.client_order_id if payment is not None else f"?{e2e}"
            items_per_order[key] = items_per_order.get(key, 0) + 1
        split_orders = sum(1 for n in items_per_order.values() if n > 1)
        ledger = await check_ledger(books.ledger)
        balances = {b.account: b for b in await books.ledger.balances()}
        clearing = balances.get("clearing:IBPS")
        position_out = (clearing.credits_posted - clearing.debits_posted) if clearing else 0
        channel_out = sim.books.settled_total()
        lag = await books.lag()
    finally:
        await books.ledger.close()
        await store.close()
    return {
        "lost": lost,
        "duplicates": repeated_arrivals + split_orders,
        "ledger_difference": abs(position_out - channel_out),
        "ledger_balanced": ledger.balanced,
        "outbox_lag": lag,
        "not_final": len(not_final),
        "not_final_examples": not_final[:5],
        "by_state": {s: sum(1 for v in states.values() if v == s)
                     for s in sorted(set(states.values()))},
        "channel_settled_amount": channel_out,
    }


def ok(figures: dict[str, Any]) -> bool:
    return (figures["lost"] == 0 and figures["duplicates"] == 0
            and figures["ledger_difference"] == 0 and figures["ledger_balanced"]
            and figures["not_final"] == 0 and figures["unacked"] == 0
            and figures["outbox_lag"] == 0)


async def main(args: argparse.Namespace) -> int:
    figures = await run(args.kills, args.orders, args.seed, args.deadline)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}: {value}")
    return 0 if ok(figures) else 1


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=900.0, help="bound on the run, s")
    parser.add_argument("--json", action="store_true")
    sys.exit(uvloop.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
