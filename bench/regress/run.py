"""Run a scenario: the six simulators and the switch in this process on one virtual clock, the
timeline step by step, then the transcript of what happened.

The clock moves only between steps and timer by timer; before each move everything the last
one set off is allowed to finish (`Run.settle`), so the same scenario replays the same messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from accounting.poster import check_ledger
from adapters import adapter_class
from adapters.base import MessageRecord
from bench.regress.scenario import Scenario, Step, duration
from bench.regress.transcript import Numbering, Volatile, flatten, group_name
from simulators.farm import Farm, farm_config, farm_faults
from switch import protocol as proto
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import VirtualClock
from switch.config import ClientConfig, ServerConfig, SwitchConfig
from switch.order import Order

__all__ = ["CLIENT_ID", "Run", "run_scenario", "switch_config"]

CLIENT_ID = "REGRESS-CORE"
_QUIET_POLLS = 4  # polls in a row with nothing happening before the clock may move
_POLL_S = 0.005
_RECONNECT_WAIT_S = 5.0  # real time a dropped channel link gets to come back between steps


class RecordingClient(SwitchClient):
    """The core system of a scenario: records every frame about each order."""

    def __init__(self, client_id: str, secret: bytes) -> None:
        super().__init__(client_id, secret)
        self.frames: dict[str, list[dict[str, Any]]] = {}
        self.frame_count = 0
        self._order_of_seq: dict[int, str] = {}

    def submit_recorded(self, order: Order) -> asyncio.Future[proto.Ack]:
        fut = self.submit_nowait(order)
        if not fut.done():  # sent: the newest request waiting for its answer is this one
            self._order_of_seq[max(self._pending)] = order.client_order_id
        self._frame(order.client_order_id, "SUBMIT",
                    flatten(msgspec.to_builtins(order)))
        return fut

    def _on_frame(self, ftype: int, msg: Any) -> None:
        if isinstance(msg, proto.Ack | proto.Status):
            name = "ACK" if isinstance(msg, proto.Ack) else "STATUS"
            fields = msgspec.to_builtins(msg)
            fields.pop("seq", None)
            self._frame(msg.client_order_id, name, fields)
        elif isinstance(msg, proto.Error) and msg.seq in self._order_of_seq:
            self._frame(self._order_of_seq[msg.seq], "ERROR", msgspec.to_builtins(msg))
        super()._on_frame(ftype, msg)

    def _frame(self, order_id: str, name: str, fields: dict[str, Any]) -> None:
        self.frame_count += 1
        self.frames.setdefault(order_id, []).append({"frame": name, **fields})


class Run:
    """One scenario's farm, switch and core system, on one virtual clock."""

    def __init__(self, scenario: Scenario, store_url: str) -> None:
        self.scenario = scenario
        self.store_url = store_url
        self.clock = VirtualClock(scenario.start)
        self.farm = Farm(self.clock, scenario.seed, configs=farm_config(scenario.simulators),
                         faults=farm_faults(scenario.faults))
        for sim in self.farm.simulators.values():
            sim.server.traffic = []  # counted by `settle`
        self.orders = {o.client_order_id: o for o in scenario.order_list()}
        self.sent: list[str] = []
        self.messages: list[MessageRecord] = []
        self._store_calls = 0  # store calls under way (a thread or the database at work)
        self.app: SwitchApp | None = None
        self.client: RecordingClient | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        ports = await self.farm.start()
        secret = secrets.token_hex(16)
        config = switch_config({k: ports[k] for k in self.scenario.channels},
                               self.scenario.links, CLIENT_ID, secret)
        app = self.app = SwitchApp(config, store_url=self.store_url, clock=self.clock)
        for adapter in app.engine.adapters.values():
            adapter.on_message = _tee(adapter.on_message, self.messages.append)
        # every store call is counted while under way
        for name, _ in inspect.getmembers(type(app.store), inspect.iscoroutinefunction):
            if not name.startswith("_"):
                setattr(app.store, name, self._counted(getattr(app.store, name)))
        port = await app.start(port=0)
        client = await RecordingClient.connect("127.0.0.1", port, CLIENT_ID, secret)
        assert isinstance(client, RecordingClient)
        self.client = client
        await self.settle()

    def _counted(self, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self._store_calls += 1
            try:
                return await method(*args, **kwargs)
            finally:
                self._store_calls -= 1

        return call

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self.app is not None:
            await self.app.stop()
        await self.farm.stop()

    # -- the timeline --------------------------------------------------------------------------

    async def play(self) -> None:
        for step in self.scenario.timeline:
            await self.step(step)

    async def step(self, step: Step) -> None:
        if step.submit is not None:
            await self.submit(step.submit)
        elif step.advance is not None:
            await self.move_to(self.clock.now() + timedelta(seconds=duration(step.advance)))
        elif step.until is not None:
            await self.move_to(step.until)
        elif step.run_until_final is not None:
            limit = self.clock.now() + timedelta(seconds=duration(step.run_until_final))
            await self.move_to(limit, stop=self.all_final)
        elif step.admin is not None:
            await self.admin(dict(step.admin))

    async def submit(self, which: str | list[str]) -> None:
        assert self.client is not None
        ids = [i for i in self.orders if i not in self.sent] if which == "*" else (
            [which] if isinstance(which, str) else list(which))
        unknown = [i for i in ids if i not in self.orders]
        if unknown:
            raise ValueError(f"submit: no order {', '.join(unknown)}")
        futures = [self.client.submit_recorded(self.orders[i]) for i in ids]
        self.sent += ids
        await asyncio.gather(*futures, return_exceptions=True)
        await self.settle()

    async def move_to(self, target: datetime, stop: Callable[[], bool] | None = None) -> None:
        """Advance to ``target`` one timer at a time, letting each one's effects finish."""
        while stop is None or not stop():
            due = self.clock.next_timer
            if due is None or due > target:
                break
            self.clock.set(max(due, self.clock.now()))
            await self.settle()
        if stop is None or not stop():
            self.clock.set(max(target, self.clock.now()))
            await self.settle()

    async def admin(self, request: dict[str, Any]) -> None:
        channel = str(request.pop("channel"))
        order_id = request.pop("order", None)
        sim = self.farm.simulators[channel]
        if order_id is not None:
            payment = await self._payment(str(order_id))
            # SWIFT keys items by the MT reference where the link is MT: find it by UETR
            item = sim.by_uetr(payment.uetr) if hasattr(sim, "by_uetr") else None
            request.setdefault("end_to_end_id",
                               payment.end_to_end_id if item is None else item.end_to_end_id)
        sim.admin(request)
        await self.settle()

    def all_final(self) -> bool:
        assert self.client is not None
        statuses = self.client.statuses
        return all(i in statuses and statuses[i].final for i in self.sent)

    async def settle(self) -> None:
        """Wait until nothing moves: no store call under way, nothing in the engine's inbox,
        every channel link up (bounded), and no message, frame or commit for a few polls."""
        assert self.app is not None
        engine = self.app.engine
        quiet, last = 0, None
        links_deadline = time.monotonic() + _RECONNECT_WAIT_S
        while quiet < _QUIET_POLLS:
            await asyncio.sleep(_POLL_S)
            links_down = any(not a.connected for a in engine.adapters.values())
            if links_down and time.monotonic() > links_deadline:
                links_down = False  # a channel that stays down is part of the scenario
            now = (len(self.messages), self.client.frame_count if self.client else 0,
                   engine.stats.commits, engine.stats.transitions,
                   sum(len(s.server.traffic or ()) for s in self.farm.simulators.values()))
            busy = self._store_calls or engine.backlog or links_down
            quiet = 0 if busy or now != last else quiet + 1
            last = now

    # -- the outcome ---------------------------------------------------------------------------

    async def _payment(self, order_id: str) -> Any:
        assert self.app is not None
        payment = await self.app.store.payment_by_client_key(CLIENT_ID, order_id)
        if payment is None:
            raise ValueError(f"order {order_id} has no payment (was it submitted?)")
        return payment

    async def transcript(self) -> dict[str, Any]:
        assert self.app is not None and self.client is not None
        app = self.app
        await self.settle()
        while await app.poster.lag():
            await app.poster.post_available()
        volatile = Volatile()
        payments = {}
        for order_id in self.sent:
            payment = await app.store.payment_by_client_key(CLIENT_ID, order_id)
            if payment is not None:
                payments[order_id] = payment
                volatile.add_payment(order_id, payment.payment_id, payment.uetr)
        for b in await app.store.batches():
            volatile.add_batch(f"{b.profile}/{b.payee_account}/{b.window_key}#{b.seq}",
                               b.batch_id, b.uetr)
        orders: dict[str, Any] = {}
        for order_id in self.sent:
            payment = payments.get(order_id)
            numbering = Numbering()
            frames = [{k: volatile.normalise(v, numbering) if isinstance(v, str) else v
                       for k, v in frame.items()}
                      for frame in self.client.frames.get(order_id, [])]
            if payment is None:
                orders[order_id] = {"state": None, "protocol": frames}
                continue
            history = await app.store.history(payment.payment_id)
            orders[order_id] = {
                "state": payment.state, "reason": payment.reason, "channel": payment.channel,
                "fee": payment.fee,
                "history": [[h.to_state, h.reason, volatile.normalise(h.cause, numbering)]
                            for h in history],
                "protocol": frames,
            }
        groups: dict[str, list[dict[str, Any]]] = {}
        numberings: dict[str, Numbering] = {}
        for m in self.messages:
            ids = [volatile.order_of_payment.get(p, p) for p in m.payment_ids] \
                or volatile.orders_in(m.data)
            group = group_name(ids, m.channel)
            numbering = numberings.setdefault(group, Numbering())
            groups.setdefault(group, []).append(
                volatile.message(m.channel, m.direction, m.data, numbering))
        balances = await app.poster.ledger.balances()
        check = await check_ledger(app.poster.ledger)
        return {
            "scenario": self.scenario.name,
            "orders": orders,
            "messages": dict(sorted(groups.items())),
            "ledger": {f"{b.account} {b.currency}": b.net
                       for b in sorted(balances, key=lambda b: (b.account, b.currency)) if b.net},
            "ledger_balanced": check.balanced,
            "channels": {sim.name: {
                "balances": {f"{p} {c}": v for c, per in sorted(_balances(sim).items())
                             for p, v in sorted(per.items())},
                "items": dict(sorted(Counter(i.state.value
                                             for i in sim.books.items.values()).items())),
                "duplicates": sim.duplicates()}
                for key, sim in self.farm.simulators.items() if key in self.scenario.channels},
        }


def switch_config(ports: dict[str, int], links: dict[str, dict[str, Any]], client_id: str,
                  secret: str) -> SwitchConfig:
    """A switch on a free port with one core system, linked to simulators at ``ports``
    (channel key -> port), each link with its ``links`` options."""
    return SwitchConfig(
        server=ServerConfig(port=0), clients={client_id: ClientConfig(secret=secret)},
        channels={key: adapter_class(key).Config(port=port, **links.get(key, {}))
                  for key, port in ports.items()})


def _balances(sim: Any) -> dict[str, dict[str, int]]:
    """Every participant's balance per currency the simulator's books hold."""
    currencies = {sim.books.currency, *(i.currency for i in sim.books.items.values())}
    return {c: sim.balances(c) for c in sorted(currencies)}


def _tee(first: Callable[[MessageRecord], None] | None,
         second: Callable[[MessageRecord], None]) -> Callable[[MessageRecord], None]:
    def both(message: MessageRecord) -> None:
        if first is not None:
            first(message)
        second(message)

    return both


@contextlib.asynccontextmanager
async def running(scenario: Scenario, store_url: str | None = None) -> AsyncIterator[Run]:
    """A started run of ``scenario`` (on a throw-away SQLite file unless ``store_url``)."""
    with tempfile.TemporaryDirectory(prefix="payswitch-scenario-") as tmp:
        run = Run(scenario, store_url or f"sqlite://{Path(tmp) / 'switch.db'}")
        try:
            await run.start()
            yield run
        finally:
            await run.stop()


async def run_scenario(scenario: Scenario, store_url: str | None = None) -> dict[str, Any]:
    """Play the whole timeline; the transcript of the run."""
    async with running(scenario, store_url) as run:
        await run.play()
        return await run.transcript()
