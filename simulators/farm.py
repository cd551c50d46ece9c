"""Every channel simulator in one process: what the demo, the chaos run and the regression
scenarios run the switch against (`payswitch simulate all`).

One process for all six keeps the switch's other core for the simulators instead of six
interpreters fighting over it. Each simulator keeps its own port, seed stream (the farm's seed
plus the channel's position), books and fault plan.

A farm configuration (TOML) has one optional table per channel key with that simulator's
`Config` fields; a farm fault plan has one optional table per channel key with a `FaultPlan`.
``chaos`` names the plan shipped in `simulators/chaos.toml`.
"""

from __future__ import annotations

import asyncio
import signal
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from simulators import SIMULATORS, simulator_class
from simulators.base import ChannelSimulator
from simulators.faults import FaultPlan
from switch.clock import Clock

__all__ = ["CHANNELS", "Farm", "farm_config", "farm_faults", "load_farm_config",
           "load_farm_faults"]

CHANNELS = tuple(SIMULATORS)


def load_farm_config(path: str | Path | None) -> dict[str, Any]:
    """Per channel key, that simulator's configuration (defaults where a table is absent)."""
    return farm_config(tomllib.loads(Path(path).read_text(encoding="utf-8")) if path else {})


def farm_config(raw: dict[str, Any]) -> dict[str, Any]:
    """`load_farm_config` of tables already read (a regression scenario's `[simulators]`)."""
    _known_channels(raw)
    return {key: msgspec.convert(raw.get(key, {}), simulator_class(key).Config)
            for key in CHANNELS}


def _known_channels(raw: dict[str, Any]) -> None:
    unknown = sorted(set(raw) - set(CHANNELS))
    if unknown:
        raise ValueError(f"no simulator for {', '.join(unknown)} (one of {', '.join(CHANNELS)})")


def load_farm_faults(spec: str | None) -> dict[str, FaultPlan]:
    """Per channel key, its fault plan: from a TOML file, or ``chaos`` for the shipped one."""
    if not spec:
        return {}
    if spec == "chaos":
        text = resources.files("simulators").joinpath("chaos.toml").read_text(encoding="utf-8")
    else:
        text = Path(spec).read_text(encoding="utf-8")
    return farm_faults(tomllib.loads(text))


def farm_faults(raw: dict[str, Any]) -> dict[str, FaultPlan]:
    """`load_farm_faults` of tables already read (a regression scenario's `[faults]`)."""
    _known_channels(raw)
    return {key: msgspec.convert(plan, FaultPlan) for key, plan in raw.items()}


class Farm:
    """The six simulators on loopback ports."""

    def __init__(self, clock: Clock, seed: int = 0, *, configs: dict[str, Any] | None = None,
                 faults: dict[str, FaultPlan] | None = None) -> None:
        configs = configs or load_farm_config(None)
        faults = faults or {}
        self.simulators: dict[str, ChannelSimulator] = {
            key: simulator_class(key)(configs[key], clock, seed=seed * 100 + i,
                                      faults=faults.get(key))
            for i, key in enumerate(CHANNELS)}
        self.ports: dict[str, int] = {}

    async def start(self) -> dict[str, int]:
        for key, sim in self.simulators.items():
            self.ports[key] = await sim.start()
        return self.ports

    async def stop(self) -> None:
        for sim in self.simulators.values():
            await sim.stop()


async def run_farm(farm: Farm) -> int:
    """Serve until SIGINT/SIGTERM; prints ``LISTENING <key> host:port`` per channel, then
    ``READY``."""
    ports = await farm.start()
    for key, port in ports.items():
        print(f"LISTENING {key} 127.0.0.1:{port}", flush=True)
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await farm.stop()
    return 0
