"""A small payment day under the chaos fault plan, left for operations to reconcile.

The six simulators run in a child process (as in `payswitch demo`) and stay up after the
day, so their statements and their record of what they injected can be asked for. The chaos
plan's statement faults are raised so that a few hundred orders show every kind, and the
switch's status inquiries are put off past the day, so every dropped reply leaves its payment
UNKNOWN for reconciliation to find.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
import tomllib
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from adapters import adapter_class
from bench.loadgen import channel_mix, drive
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import ShiftedClock
from switch.config import ClientConfig, ServerConfig, SwitchConfig
from switch.demo import _LINKS, DEMO_CLIENT, DEMO_DAY, _demo_catalogue, simulator_farm
from switch.states import TERMINAL

DAY = DEMO_DAY.date()
# Per settled item, drawn from its end-to-end id, which differs from run to run. About 190 items
# settle on these four channels in a day: at 3 % each kind came out about 6 times, and in one
# full run of the suite here not at all (e^-6.6, about 1 run in 700); at 6 % it is e^-12.3, about
# 1 in 200,000.
STATEMENT_FAULTS = {"omit": 0.06, "amount": 0.06, "amount_delta": 7, "extra": 1}


class Day(msgspec.Struct):
    store_url: str
    ports: dict[str, int]  # channel key -> simulator port
    channels: dict[str, str]  # channel key -> catalogue name


def _fault_plan(path: Path) -> None:
    """chaos.toml with statement faults on every ISO 20022 channel raised, one made-up item
    on the UnionPay settlement file, and items missing or misstated on SWIFT's MT950s."""
    chaos = resources.files("simulators").joinpath("chaos.toml").read_text(encoding="utf-8")
    text = re.sub(r"^\[\w+\.statement\]\n(?:[^\[\n].*\n)*", "", chaos, flags=re.M)
    faults = ", ".join(f"{k} = {v}" for k, v in STATEMENT_FAULTS.items())
    text += "".join(f"\n[{key}.statement]\n{faults.replace(', ', chr(10))}\n"
                    for key in ("ibps", "hvps", "beps", "cips"))
    text += "\n[unionpay.statement]\nextra = 1\n"
    # SWIFT's MT950s carry a made-up item in every currency under one reference, which the
    # books record once: per-item faults only there, at rates its few items still show
    text += "\n[swift.statement]\nomit = 0.1\namount = 0.1\namount_delta = 7\n"
    assert "statement" in tomllib.loads(text)["ibps"]
    path.write_text(text, encoding="utf-8")


@contextlib.asynccontextmanager
async def chaos_day(store_url: str, orders: int = 300, seed: int = 7) -> AsyncIterator[Day]:
    """Run the day to its end (every payment final or UNKNOWN); yields with the simulators up
    and the switch stopped."""
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "faults.toml"
        _fault_plan(plan)
        clock = ShiftedClock(DEMO_DAY, anchor=time.time())
        async with simulator_farm(seed, str(plan), clock) as ports:
            links = {key: {**_LINKS.get(key, {})} for key in ports}
            links["beps"]["pending_timeout_s"] = 10.0  # a lost receipt is UNKNOWN soon
            channels = {key: adapter_class(key).Config(port=port, **links[key])
                        for key, port in ports.items()}
            config = SwitchConfig(server=ServerConfig(port=0, window=200),
                                  clients={DEMO_CLIENT: ClientConfig(secret="s" * 32)},
                                  channels=channels)
            app = SwitchApp(config, store_url=store_url, clock=clock,
                            catalogue=_demo_catalogue())
            app.engine.inquiry_delay_s = 24 * 3600.0  # no inquiry today: UNKNOWN stays
            port = await app.start(port=0)
            try:
                client = await SwitchClient.connect("127.0.0.1", port, DEMO_CLIENT, "s" * 32)
                batch = channel_mix(orders, seed, run="RECON")
                load = asyncio.ensure_future(drive(client, batch, window=200,
                                                   final_timeout=240))
                await _until_day_ends(app, len(batch), load)
                load.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await load
                await client.close()
                deadline = time.monotonic() + 60
                while await app.poster.lag() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            finally:
                await app.stop()
            yield Day(store_url, dict(ports),
                      {key: str(adapter_class(key).channel) for key in ports})


async def _until_day_ends(app: SwitchApp, orders: int, load: asyncio.Future[Any]) -> None:
    """Wait (bounded) until every order's payment is final or UNKNOWN and no batch is open."""
    settled_states = {s.value for s in TERMINAL} | {"UNKNOWN"}
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        summary = await app.store.summary()
        total = sum(r.count for r in summary)
        waiting = sum(r.count for r in summary if r.state not in settled_states)
        if load.done() or (total >= orders and not waiting):
            return
    raise AssertionError("the day did not end in time")


async def sim(port: int, request: dict[str, Any]) -> dict[str, Any]:
    from simulators.link import admin_request

    return await admin_request("127.0.0.1", port, request)
