"""End-to-end benchmark: orders/s and ack latency of the whole switch, beside a bare baseline.

    python -m bench.e2e [--orders N] [--window W] [--metrics] [--sustained-seconds S]
                        [--sustained-steps K] [--json]
    python -m bench.e2e --workers 2 --store postgresql [--orders N]

The switch (embedded SQLite store) and the simulators run as their own processes; the load
comes from this one, over the real protocol. Four figures, each beside a baseline measured in
the same run (the same SUBMIT frames sent to a bare uvloop echo server, bench/echo_server.py):

- **intake**: a burst of IBPS orders, closed loop with a window: orders acknowledged per second
  (``intake_per_s``; ``orders_per_s`` counts them until final) and ack latency;
- **at 50 % and 90 %** of that intake rate, open loop (fixed arrival rate, latency from when
  each order was due): ack p50 / p99, and the echo server's at the same rates;
- **sustained**: the six channel simulators in their own process on the demo's business day,
  a mixed order book across channels at a fixed rate for ``--sustained-seconds`` (>= 60):
  orders reaching a final state per second (``final_per_s``) and whether the backlog (acked,
  not final) grew: its lowest point in the second half against the first. BEPS nets once a
  minute of business time, so the backlog is a saw-tooth whose floor is what tells; the
  business clock runs ``--sustained-clock-speed`` times wall speed (default 6: a netting
  session every 10 s), so a minute's run holds several sessions. It starts at a quarter of the
  intake (or ``--sustained-rate``) and tries rates 1.25 times higher while the switch keeps
  up (the backlog does not grow and the acknowledgements keep pace with the arrivals: a switch
  that falls behind makes the load wait at its window instead), ``--sustained-steps`` runs at
  most; the figures are the best run that kept up (``sustained_kept_up``).

With ``--workers N --store postgresql`` it measures scale-out instead: the same IBPS burst over
several client sessions against `payswitch serve --workers 1` and then ``--workers N``, each on
a fresh schema of the PostgreSQL at ``PAYSWITCH_BENCH_PG_DSN`` (else ``PAYSWITCH_TEST_PG_DSN``,
else the local server's ``postgres`` database): orders/s until final, acked/s and ack p50/p99
for each, beside the echo baseline of the same run.
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
from typing import Any, cast

import uvloop

from bench.loadgen import LoadSpec, drive, generate_load, no_gc_pauses, order_mix, percentile
from fastpath.framescan import FrameScanner
from switch import protocol as proto
from switch.client import SwitchClient

ROOT = Path(__file__).resolve().parents[1]


@contextlib.asynccontextmanager
async def child(*args: str, metrics: bool = False, pids: list[int] | None = None,
                urls: list[str] | None = None) -> AsyncIterator[int]:
    """A child process that prints `LISTENING host:port` once ready; yields the port (and
    appends its pid to ``pids``, for whoever watches its memory).

    With ``metrics`` it also prints `METRICS url`, which it scrapes once a second meanwhile,
    as Prometheus would (and appends to ``urls``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env
    )
    if pids is not None:
        pids.append(proc.pid)
    scraper: asyncio.Task[None] | None = None
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"{args} did not start: {line!r}")
        if metrics:
            url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()[1]
            if urls is not None:
                urls.append(url)
            scraper = asyncio.get_running_loop().create_task(_scrape(url))
        yield int(line.rsplit(":", 1)[1])
    finally:
        if scraper is not None:
            scraper.cancel()
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


class _Pipe(asyncio.Protocol):
    """Raw pipelined frames for the baseline: counts replies and their latency. With a
    ``rate`` the frames leave on a fixed schedule (open loop), each timed from when it was due.
    """

    def __init__(self, frames: list[bytes], window: int, done: asyncio.Future[None],
                 rate: float = 0.0) -> None:
        self.frames = frames
        self.window = window
        self.done = done
        self.rate = rate
        self.scanner = FrameScanner(1 << 20)
        self.sent_at: list[float] = []
        self.latency_ms: list[float] = []
        self.start = time.perf_counter()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.start = time.perf_counter()
        self._top_up()

    def _top_up(self) -> None:
        start = len(self.sent_at)
        stop = min(len(self.frames), len(self.latency_ms) + self.window)
        now = time.perf_counter()
        if self.rate:
            due = int((now - self.start) * self.rate) + 1
            stop = min(stop, due)
            if stop > start:
                self.sent_at.extend(self.start + i / self.rate for i in range(start, stop))
            if len(self.sent_at) < len(self.frames):
                asyncio.get_running_loop().call_later(0.001, self._top_up)
        elif stop > start:
            self.sent_at.extend([now] * (stop - start))
        if stop > start:
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


async def baseline(n: int, window: int, timeout: float, rate: float = 0.0,
                   prefix: str = "baseline") -> dict[str, float]:
    """The bare echo server: a burst with ``window`` in flight, or ``n`` frames at ``rate``."""
    frames = [proto.encode(proto.Submit(seq=i, order=o))
              for i, o in enumerate(order_mix(n, seed=99, run="BASE"))]
    async with child("-m", "bench.echo_server") as port:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with no_gc_pauses():  # measured as the switch's load is
            started = time.perf_counter()
            transport, pipe = await loop.create_connection(
                lambda: _Pipe(frames, window, done, rate), "127.0.0.1", port
            )
            await asyncio.wait_for(done, timeout)
            seconds = time.perf_counter() - started
        transport.close()
    return {
        f"{prefix}_frames_per_s": round(n / seconds, 1),
        f"{prefix}_p50_ms": round(percentile(pipe.latency_ms, 50), 3),
        f"{prefix}_p99_ms": round(percentile(pipe.latency_ms, 99), 3),
    }


async def _db_thread_busy(url: str) -> dict[str, float]:
    """Seconds the switch's one SQLite thread has spent on each kind of job, from its metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    return {s.labels["job"]: s.value for f in text_string_to_metric_families(body.decode())
            for s in f.samples if s.name == "payswitch_db_thread_busy_seconds_total"}


def _db_thread_share(before: dict[str, float], after: dict[str, float], seconds: float
                     ) -> dict[str, object]:
    """How busy the SQLite thread was over a run of ``seconds``, and on what: the embedded
    store's ceiling (it has one writer), from the switch's own account."""
    busy = {job: after[job] - before.get(job, 0.0) for job in after
            if after[job] > before.get(job, 0.0)}
    by_job = sorted(busy.items(), key=lambda item: -item[1])
    return {"db_thread_busy_share": round(sum(busy.values()) / seconds, 3),
            "db_thread_busy_share_by_job": {job: round(v / seconds, 3) for job, v in by_job}}


async def _scrape(url: str) -> None:
    while True:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())


@contextlib.asynccontextmanager
async def ibps_switch(window: int, metrics: bool = False, store: str = "",
                      workers: int = 1, pids: list[int] | None = None,
                      urls: list[str] | None = None) -> AsyncIterator[tuple[int, str]]:
    """The switch with the IBPS simulator, each its own process; yields (port, secret). The
    store is a fresh SQLite file unless ``store`` names one; ``pids`` gets the simulator's pid,
    then the switch's."""
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="payswitch-bench-") as tmp:
        sim_cfg = Path(tmp, "ibps.toml")
        sim_cfg.write_text('closed_accounts = ["6222020000000000001"]\n')
        async with child("-m", "switch.cli", "simulate", "IBPS", "--port", "0",
                         "--config", str(sim_cfg), pids=pids) as sim_port:
            cfg = Path(tmp, "switch.toml")
            cfg.write_text(
                f'[server]\nport = 0\nwindow = {window}\n\n[clients.BENCH]\nsecret = "{secret}"\n'
                f"\n[channels.ibps]\nport = {sim_port}\n"
            )
            extra: tuple[str, ...] = ("--metrics-port", "0") if metrics else ()
            if workers > 1:
                extra += ("--workers", str(workers))
            async with child("-m", "switch.cli", "serve", "--config", str(cfg), "--store",
                             store or f"sqlite://{tmp}/bench.db", "--port", "0", *extra,
                             metrics=metrics, pids=pids, urls=urls) as port:
                yield port, secret


def _pg_dsn() -> str:
    return (os.environ.get("PAYSWITCH_BENCH_PG_DSN") or os.environ.get("PAYSWITCH_TEST_PG_DSN")
            or "postgresql://127.0.0.1:5432/postgres")


@contextlib.asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """A fresh schema for one run, dropped afterwards; yields the store URL that uses it."""
    import asyncpg

    dsn = _pg_dsn()
    schema = f"bench_{secrets.token_hex(6)}"
    con = await asyncpg.connect(dsn, timeout=10)
    try:
        await con.execute(f"CREATE SCHEMA {schema}")
        # the application name finds the run's backends (`cpu_seconds`)
        yield f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}&application_name={schema}"
    finally:
        await con.execute(f"DROP SCHEMA {schema} CASCADE")
        await con.close()


def _proc_cpu() -> dict[int, tuple[int, float]]:
    """Every process's parent and the CPU seconds it and its reaped children used (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, float]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue  # ended while we looked
            f = stat[stat.rindex(")") + 2:].split()
            procs[int(d.name)] = (int(f[1]), sum(int(x) for x in f[11:15]) / ticks)
    return procs


async def cpu_seconds(store: str) -> dict[str, float]:
    """CPU seconds used so far by this run's switch processes (our descendants) and by the
    PostgreSQL backends serving the run's store (its ``application_name``). Read before and
    after a load while the processes live, the difference is what the load cost them."""
    import asyncpg

    app = store.rsplit("application_name=", 1)[1]
    con = await asyncpg.connect(_pg_dsn(), timeout=10)
    try:
        backends = {r[0] for r in await con.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", app)}
    finally:
        await con.close()
    procs = _proc_cpu()

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = procs[pid][0] if pid in procs else 0
            if pid == os.getpid():
                return True
        return False

    return {"switch": sum(cpu for pid, (_, cpu) in procs.items() if ours(pid)),
            "postgres": sum(procs[pid][1] for pid in backends if pid in procs)}


async def workers_run(workers: int, n: int, window: int, connections: int,
                      timeout: float) -> dict[str, object]:
    """The IBPS burst over ``connections`` sessions against ``workers`` switch processes on
    one PostgreSQL store (the kernel spreads the sessions over the processes), with the CPU
    each order cost the switch and PostgreSQL: what a projection to more cores rests on."""
    async with pg_schema() as store, ibps_switch(window, store=store, workers=workers) as (
            port, secret):
        spec = LoadSpec(port=port, client_id="BENCH", secret=secret, mode="closed",
                        window=max(1, window // connections), connections=connections,
                        orders=n, seconds=timeout, final_timeout=timeout,
                        run=f"W{workers}-{int(time.time()) % 10**6}-")
        before = await cpu_seconds(store)
        load = (await generate_load(spec)).figures()
        after = await cpu_seconds(store)
    tag = f"workers{workers}"
    final = max(1, int(load["final"]))
    return {f"{tag}_orders_per_s": load["final_per_s"], f"{tag}_acked_per_s": load["acked_per_s"],
            f"{tag}_ack_p50_ms": load["ack_p50_ms"], f"{tag}_ack_p99_ms": load["ack_p99_ms"],
            f"{tag}_final": load["final"], f"{tag}_errors": load["errors"],
            **{f"{tag}_{who}_cpu_ms_per_order": round((after[who] - before[who]) * 1000 / final, 3)
               for who in after}}


async def scale_out(args: argparse.Namespace) -> int:
    """1 worker and ``args.workers`` workers in the same run, beside the echo baseline."""
    if args.store != "postgresql":
        raise SystemExit("--workers measures processes sharing a PostgreSQL store: "
                         "add --store postgresql")
    connections = 4 * args.workers  # the same sessions for each count, enough to spread
    figures: dict[str, object] = {"window": args.window, "orders": args.orders,
                                  "connections": connections}
    figures.update(await baseline(args.orders, args.window, args.timeout))
    for workers in sorted({1, args.workers}):
        figures.update(await workers_run(workers, args.orders, args.window, connections,
                                         args.timeout))
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{'':32}{'final/s':>10}{'acked/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        print(f"{'baseline burst (bare echo)':32}{'':>10}{figures['baseline_frames_per_s']:>10,}"
              f"{figures['baseline_p50_ms']:>10}{figures['baseline_p99_ms']:>10}")
        for workers in sorted({1, args.workers}):
            t = f"workers{workers}"
            print(f"{f'switch, {workers} worker(s)':32}{figures[t + '_orders_per_s']:>10,}"
                  f"{figures[t + '_acked_per_s']:>10,}{figures[t + '_ack_p50_ms']:>10}"
                  f"{figures[t + '_ack_p99_ms']:>10}")
        for workers in sorted({1, args.workers}):
            t = f"workers{workers}"
            print(f"CPU per order, {workers} worker(s): switch "
                  f"{figures[t + '_switch_cpu_ms_per_order']} ms, PostgreSQL "
                  f"{figures[t + '_postgres_cpu_ms_per_order']} ms")
        print(f"{args.orders:,} IBPS orders over {connections} sessions, window {args.window}, "
              f"PostgreSQL store, {os.cpu_count()} cores")
    ok = all(figures[f"workers{w}_final"] == args.orders and not figures[f"workers{w}_errors"]
             for w in {1, args.workers})
    return 0 if ok else 1


async def switch_run(n: int, window: int, timeout: float, metrics: bool = False,
                     rates: tuple[float, ...] = (), open_seconds: float = 5.0
                     ) -> dict[str, object]:
    """A burst of ``n`` orders (closed loop), then open-loop runs at each fraction of the
    burst's intake rate in ``rates``."""
    figures: dict[str, object] = {}
    urls: list[str] = []
    async with ibps_switch(window, metrics, urls=urls) as (port, secret):
        client = await SwitchClient.connect("127.0.0.1", port, "BENCH", secret)
        orders = order_mix(n, seed=7, run=f"B{int(time.time())}")
        scraped_from = time.perf_counter()
        before = await _db_thread_busy(urls[0]) if urls else {}
        with no_gc_pauses():
            result = await drive(client, orders, window=window, final_timeout=timeout)
        await client.close()
        if urls:
            after = await _db_thread_busy(urls[0])
            # over the time between the scrapes, which the busy time is counted over (it
            # takes in the books' last pages after the last status, beyond the burst itself)
            figures.update(_db_thread_share(before, after,
                                            time.perf_counter() - scraped_from))
        intake = len(result.acks) / result.ack_seconds if result.ack_seconds else 0.0
        figures.update({
            "orders": n,
            "final": len(result.finals),
            "errors": len(result.errors),
            "orders_per_s": round(len(result.finals) / result.seconds, 1),
            "intake_per_s": round(intake, 1),
            "ack_p50_ms": round(percentile(result.ack_latency_ms, 50), 3),
            "ack_p99_ms": round(percentile(result.ack_latency_ms, 99), 3),
            "seconds": round(result.seconds, 3),
        })
        for share in rates:
            rate = max(1.0, share * intake)
            spec = LoadSpec(port=port, client_id="BENCH", secret=secret, mode="open",
                            rate=rate, window=window, orders=max(1, int(rate * open_seconds)),
                            seconds=open_seconds, final_timeout=timeout,
                            run=f"R{round(share * 100)}-{int(time.time()) % 10**6}-")
            load = (await generate_load(spec)).figures()
            tag = f"at{round(share * 100)}"
            figures.update({f"{tag}_rate": round(rate, 1),
                            f"{tag}_orders_per_s": load["acked_per_s"],
                            f"{tag}_ack_p50_ms": load["ack_p50_ms"],
                            f"{tag}_ack_p99_ms": load["ack_p99_ms"],
                            f"{tag}_errors": load["errors"]})
    return figures


# Channel links for a long load, in business seconds: deadlines well above a loaded machine's
# reply times even on a fast business clock.
_SUSTAINED_LINKS: dict[str, dict[str, object]] = {
    "ibps": {"reply_timeout_s": 120.0}, "hvps": {"reply_timeout_s": 120.0},
    "beps": {"reply_timeout_s": 120.0, "package_wait_s": 1.0, "pending_timeout_s": 600.0},
    "unionpay": {"reply_timeout_s": 120.0}, "cips": {"reply_timeout_s": 120.0},
    "swift": {"reply_timeout_s": 120.0},
}


async def sustained_run(rate: float, seconds: float, window: int, timeout: float,
                        speed: float = 6.0) -> dict[str, object]:
    """The mixed order book on all six channels at ``rate`` orders/s for ``seconds``."""
    from switch.clock import ShiftedClock
    from switch.demo import DEMO_DAY, simulator_farm

    secret = secrets.token_hex(16)
    clock = ShiftedClock(DEMO_DAY, anchor=time.time(), speed=speed)
    with tempfile.TemporaryDirectory(prefix="payswitch-sustained-") as tmp:
        async with simulator_farm(7, None, clock) as ports:
            cfg = Path(tmp, "switch.toml")
            links = "".join(
                f"\n[channels.{key}]\nport = {port}\n" + "".join(
                    f"{k} = {v}\n" for k, v in _SUSTAINED_LINKS[key].items())
                for key, port in ports.items())
            cfg.write_text(f'[server]\nport = 0\nwindow = {window}\n\n'
                           f'[clients.BENCH]\nsecret = "{secret}"\n{links}')
            async with child("-m", "bench.e2e", "--serve", str(cfg), "--serve-store",
                             f"sqlite://{tmp}/sustained.db", "--clock", clock.spec()) as port:
                spec = LoadSpec(port=port, client_id="BENCH", secret=secret, mode="open",
                                rate=rate, window=window, orders=int(rate * seconds) + 1,
                                seconds=seconds, final_timeout=timeout,
                                generator="channel_mix", run=f"M{int(time.time())}-")
                report = await generate_load(spec)
    load = report.figures()
    during = [(t, acked - final) for t, acked, final in report.samples if t <= seconds]
    finals_by_end = max((f for t, _, f in report.samples if t <= seconds), default=0)
    half = seconds / 2
    first = min((b for t, b in during if 0 < t <= half), default=0)
    last = min((b for t, b in during if t > half), default=0)
    # A switch that cannot keep up acknowledges late, the load's window fills, and the orders
    # wait in the load generator instead of the switch's backlog: the acknowledgements must
    # have kept pace with the arrivals too (same slack of two seconds' arrivals).
    t_end, acked_by_end = max(((t, a) for t, a, _ in report.samples if t <= seconds),
                              default=(0.0, 0))
    growing = last > first + 2 * rate
    acks_behind = acked_by_end < min(spec.orders, rate * t_end) - 2 * rate
    return {
        "sustained_rate": round(rate, 1),
        "sustained_clock_speed": speed,
        "sustained_s": round(min(seconds, report.send_seconds), 1),
        "final_per_s": round(finals_by_end / seconds, 1),
        "sustained_final": report.final,
        "sustained_orders": report.sent,
        "sustained_errors": report.errors,
        "sustained_backlog_floor_first_half": first,
        "sustained_backlog_floor_second_half": last,
        # slack of two seconds' arrivals: the floor is sampled once a second
        "sustained_backlog_growing": growing,
        "sustained_acked_by_end": acked_by_end,
        "sustained_kept_up": not growing and not acks_behind and not report.errors,
        "sustained_final_p50_ms": load["final_p50_ms"],
        "sustained_final_p99_ms": load["final_p99_ms"],
        "sustained_ack_p99_ms": load["ack_p99_ms"],
    }


_STEP = 1.25  # each sustained rate tried is this much above the last


async def sustained_steps(rate: float, args: argparse.Namespace) -> dict[str, object]:
    """The sustained run at ``rate``, then at rates ``_STEP`` times higher while the switch
    keeps up (backlog not growing, acknowledgements keeping pace with the arrivals, no errors),
    at most ``--sustained-steps`` runs: one rate chosen in advance would measure that rate,
    not what the switch sustains. The figures are those of the run that finished most orders
    per second while keeping up (the first run's if none did), with every run in
    ``sustained_tries``."""
    runs: list[dict[str, object]] = []
    for _ in range(max(1, args.sustained_steps)):
        run = await sustained_run(rate, args.sustained_seconds, args.window, args.timeout,
                                  args.sustained_clock_speed)
        runs.append(run)
        if not run["sustained_kept_up"]:
            break
        rate *= _STEP
    kept = [r for r in runs if r["sustained_kept_up"]]
    best = max(kept, key=lambda r: float(cast(float, r["final_per_s"])), default=runs[0])
    return {**best, "sustained_tries": [
        {"rate": r["sustained_rate"], "final_per_s": r["final_per_s"],
         "kept_up": r["sustained_kept_up"], "backlog_growing": r["sustained_backlog_growing"],
         "acked_by_end": r["sustained_acked_by_end"], "errors": r["sustained_errors"]}
        for r in runs]}


async def serve(config_path: str, store: str, clock_spec: str) -> int:
    """The switch on a business clock shared with the simulators' process (the sustained run
    needs the demo's working Monday, which `payswitch serve` does not take)."""
    import signal

    from switch.app import SwitchApp
    from switch.clock import parse_clock
    from switch.config import load_config

    app = SwitchApp(load_config(config_path), store_url=store, clock=parse_clock(clock_spec))
    port = await app.start(port=0)
    print(f"LISTENING 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.stop()
    return 0


async def main(args: argparse.Namespace) -> int:
    if args.serve:
        return await serve(args.serve, args.serve_store, args.clock)
    if args.workers:
        return await scale_out(args)
    figures: dict[str, object] = {"window": args.window}
    figures.update(await baseline(args.orders, args.window, args.timeout))
    figures.update(await switch_run(args.orders, args.window, args.timeout,
                                    rates=(0.5, 0.9), open_seconds=args.open_seconds))
    for share in (0.5, 0.9):
        rate = float(cast(float, figures[f"at{round(share * 100)}_rate"]))
        figures.update(await baseline(max(1, int(rate * args.open_seconds)), args.window,
                                      args.timeout, rate=rate,
                                      prefix=f"baseline_at{round(share * 100)}"))
    if args.metrics:
        on = await switch_run(args.orders, args.window, args.timeout, metrics=True)
        figures["metrics_on_orders_per_s"] = on["orders_per_s"]
        figures["metrics_on_ack_p99_ms"] = on["ack_p99_ms"]
        figures["db_thread_busy_share"] = on["db_thread_busy_share"]
        figures["db_thread_busy_share_by_job"] = on["db_thread_busy_share_by_job"]
        off_rate = float(cast(float, figures["orders_per_s"]))
        figures["metrics_cost_pct"] = round(
            100 * (off_rate - float(cast(float, on["orders_per_s"]))) / off_rate, 2)
    if args.sustained_seconds > 0:
        # six channels cost more per order than the IBPS burst: a quarter of its intake
        rate = args.sustained_rate or 0.25 * float(cast(float, figures["intake_per_s"]))
        figures.update(await sustained_steps(rate, args))
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    ok = figures["final"] == args.orders and not figures["errors"]
    return 0 if ok else 1


def print_table(figures: dict[str, object]) -> None:
    """The figures beside their same-run baselines."""
    f = figures
    print(f"{'':32}{'orders/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'switch burst (acked)':32}{f['intake_per_s']:>12,}{f['ack_p50_ms']:>10}"
          f"{f['ack_p99_ms']:>10}")
    print(f"{'switch burst (until final)':32}{f['orders_per_s']:>12,}")
    print(f"{'baseline burst (bare echo)':32}{f['baseline_frames_per_s']:>12,}"
          f"{f['baseline_p50_ms']:>10}{f['baseline_p99_ms']:>10}")
    for tag in ("at50", "at90"):
        print(f"{'switch open loop ' + tag:32}{f[tag + '_orders_per_s']:>12,}"
              f"{f[tag + '_ack_p50_ms']:>10}{f[tag + '_ack_p99_ms']:>10}")
        print(f"{'baseline open loop ' + tag:32}{f['baseline_' + tag + '_frames_per_s']:>12,}"
              f"{f['baseline_' + tag + '_p50_ms']:>10}{f['baseline_' + tag + '_p99_ms']:>10}")
    if "metrics_on_orders_per_s" in f:
        print(f"{'switch, metrics scraped':32}{f['metrics_on_orders_per_s']:>12,}"
              f"{'':>10}{f['metrics_on_ack_p99_ms']:>10}   cost {f['metrics_cost_pct']} %")
        jobs = cast(dict[str, float], f["db_thread_busy_share_by_job"])
        print(f"SQLite thread busy {f['db_thread_busy_share']:.0%} of that burst: "
              + ", ".join(f"{job} {share:.0%}" for job, share in jobs.items()))
    if "final_per_s" in f:
        print(f"{'sustained, six channels (final)':32}{f['final_per_s']:>12,}"
              f"{f['sustained_final_p50_ms']:>10}{f['sustained_final_p99_ms']:>10}"
              f"   offered {f['sustained_rate']}/s for {f['sustained_s']} s, "
              f"{'kept up' if f['sustained_kept_up'] else 'FELL BEHIND'}")
        print("sustained rates tried: " + ", ".join(
            f"{t['rate']}/s -> {t['final_per_s']} final/s, {t['acked_by_end']:,} acked"
            f"{'' if t['kept_up'] else ' (fell behind)'}"
            for t in cast(list[dict[str, Any]], f["sustained_tries"])))
    print(f"{f['final']:,} of {f['orders']:,} burst orders final, window {f['window']}, "
          "SQLite store")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on each phase, s")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--metrics", action="store_true",
                        help="also run with the metrics endpoint on (scraped every second) "
                             "and print what it costs, and how busy the switch's SQLite "
                             "thread was in that burst, by kind of job")
    parser.add_argument("--open-seconds", type=float, default=5.0,
                        help="length of each open-loop run at 50 %% and 90 %% of the intake")
    parser.add_argument("--sustained-seconds", type=float, default=120.0,
                        help="length of the sustained six-channel run (0: none)")
    parser.add_argument("--sustained-rate", type=float, default=0.0,
                        help="its orders/s (default: a quarter of the burst's intake rate)")
    parser.add_argument("--sustained-steps", type=int, default=5,
                        help="sustained runs at most, each at 1.25 times the last rate, "
                             "while the switch keeps up (1: the one rate)")
    parser.add_argument("--sustained-clock-speed", type=float, default=6.0,
                        help="business time per wall second in the sustained run")
    parser.add_argument("--workers", type=int, default=0,
                        help="measure 1 and N switch processes over one store instead")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the store of the --workers runs")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the sustained run's switch process
    parser.add_argument("--serve-store", help=argparse.SUPPRESS)
    parser.add_argument("--clock", help=argparse.SUPPRESS)
    sys.exit(uvloop.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
