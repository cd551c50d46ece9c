"""End-to-end benchmark: orders/s and ack latency of the whole switch, beside a bare baseline.

    python -m bench.e2e [--orders N] [--window W] [--metrics] [--json]

The switch (embedded SQLite store) and the IBPS simulator run as their own processes; the load
comes from this one, over the real protocol. The baseline, measured in the same run, sends the
same SUBMIT frames with the same window to a bare uvloop echo server (bench/echo_server.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import uvloop

from bench.loadgen import drive, order_mix, percentile
from fastpath.framescan import FrameScanner
from switch import protocol as proto
from switch.client import SwitchClient

ROOT = Path(__file__).resolve().parents[1]


@contextlib.asynccontextmanager
async def child(*args: str, metrics: bool = False) -> AsyncIterator[int]:
    """A child process that prints `LISTENING host:port` once ready; yields the port.

    With ``metrics`` it also prints `METRICS url`, which it scrapes once a second meanwhile,
    as Prometheus would."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env
    )
    scraper: asyncio.Task[None] | None = None
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"{args} did not start: {line!r}")
        if metrics:
            url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()[1]
            scraper = asyncio.get_running_loop().create_task(_scrape(url))
        yield int(line.rsplit(":", 1)[1])
    finally:
        if scraper is not None:
            scraper.cancel()
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


class _Pipe(asyncio.Protocol):
    """Raw pipelined frames for the baseline: counts replies and their latency."""

    def __init__(self, frames: list[bytes], window: int, done: asyncio.Future[None]) -> None:
        self.frames = frames
        self.window = window
        self.done = done
        self.scanner = FrameScanner(1 << 20)
        self.sent_at: list[float] = []
        self.latency_ms: list[float] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._top_up()

    def _top_up(self) -> None:
        start = len(self.sent_at)
        stop = min(len(self.frames), len(self.latency_ms) + self.window)
        if stop > start:
            now = time.perf_counter()
            self.sent_at.extend([now] * (stop - start))
            self.transport.write(b"".join(self.frames[start:stop]))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        for _ in self.scanner.feed(data):
            self.latency_ms.append((now - self.sent_at[len(self.latency_ms)]) * 1000)
        if len(self.latency_ms) == len(self.frames):
            if not self.done.done():
                self.done.set_result(None)
        else:
            self._top_up()


async def baseline(n: int, window: int, timeout: float) -> dict[str, float]:
    frames = [proto.encode(proto.Submit(seq=i, order=o))
              for i, o in enumerate(order_mix(n, seed=99, run="BASE"))]
    async with child("-m", "bench.echo_server") as port:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        started = time.perf_counter()
        transport, pipe = await loop.create_connection(
            lambda: _Pipe(frames, window, done), "127.0.0.1", port
        )
        await asyncio.wait_for(done, timeout)
        seconds = time.perf_counter() - started
        transport.close()
    return {
        "baseline_frames_per_s": round(n / seconds, 1),
        "baseline_p50_ms": round(percentile(pipe.latency_ms, 50), 3),
        "baseline_p99_ms": round(percentile(pipe.latency_ms, 99), 3),
    }


async def _scrape(url: str) -> None:
    while True:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())


async def switch_run(n: int, window: int, timeout: float,
                     metrics: bool = False) -> dict[str, object]:
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="payswitch-bench-") as tmp:
        sim_cfg = Path(tmp, "ibps.toml")
        sim_cfg.write_text('closed_accounts = ["6222020000000000001"]\n')
        async with child("-m", "switch.cli", "simulate", "IBPS", "--port", "0",
                         "--config", str(sim_cfg)) as sim_port:
            cfg = Path(tmp, "switch.toml")
            cfg.write_text(
                f'[server]\nport = 0\nwindow = {window}\n\n[clients.BENCH]\nsecret = "{secret}"\n'
                f"\n[channels.ibps]\nport = {sim_port}\n"
            )
            extra = ("--metrics-port", "0") if metrics else ()
            async with child("-m", "switch.cli", "serve", "--config", str(cfg), "--store",
                             f"sqlite://{tmp}/bench.db", "--port", "0", *extra,
                             metrics=metrics) as port:
                client = await SwitchClient.connect("127.0.0.1", port, "BENCH", secret)
                orders = order_mix(n, seed=7, run=f"B{int(time.time())}")
                result = await drive(client, orders, window=window, final_timeout=timeout)
                await client.close()
    return {
        "orders": n,
        "final": len(result.finals),
        "errors": len(result.errors),
        "orders_per_s": round(len(result.finals) / result.seconds, 1),
        "ack_p50_ms": round(percentile(result.ack_latency_ms, 50), 3),
        "ack_p99_ms": round(percentile(result.ack_latency_ms, 99), 3),
        "seconds": round(result.seconds, 3),
    }


async def main(args: argparse.Namespace) -> int:
    figures: dict[str, object] = {"window": args.window}
    figures.update(await baseline(args.orders, args.window, args.timeout))
    figures.update(await switch_run(args.orders, args.window, args.timeout))
    if args.metrics:
        on = await switch_run(args.orders, args.window, args.timeout, metrics=True)
        figures["metrics_on_orders_per_s"] = on["orders_per_s"]
        figures["metrics_on_ack_p99_ms"] = on["ack_p99_ms"]
        off_rate = float(cast(float, figures["orders_per_s"]))
        figures["metrics_cost_pct"] = round(
            100 * (off_rate - float(cast(float, on["orders_per_s"]))) / off_rate, 2)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{'':24}{'orders/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
        print(f"{'switch (end to end)':24}{figures['orders_per_s']:>12,}"
              f"{figures['ack_p50_ms']:>10}{figures['ack_p99_ms']:>10}")
        print(f"{'baseline (bare echo)':24}{figures['baseline_frames_per_s']:>12,}"
              f"{figures['baseline_p50_ms']:>10}{figures['baseline_p99_ms']:>10}")
        if args.metrics:
            print(f"{'switch, metrics scraped':24}{figures['metrics_on_orders_per_s']:>12,}"
                  f"{'':>10}{figures['metrics_on_ack_p99_ms']:>10}"
                  f"   cost {figures['metrics_cost_pct']} %")
        print(f"{figures['final']:,} of {figures['orders']:,} orders final, "
              f"window {args.window}, SQLite store")
    return 0 if figures["final"] == args.orders and not figures["errors"] else 1


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on each phase, s")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--metrics", action="store_true",
                        help="also run with the metrics endpoint on (scraped every second) "
                             "and print what it costs")
    sys.exit(uvloop.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
