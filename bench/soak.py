"""Soak: the switch under steady load for minutes, its memory sampled; flat or not.

    python -m bench.soak [--seconds 600] [--share 0.8] [--json]

The switch (embedded SQLite store) and the IBPS simulator run as their own processes, as in
bench.e2e. First a closed-loop burst measures the rate at which this machine takes orders to a
final state (the maximum); then an open-loop load at ``--share`` of it (default 80 %) runs for
``--seconds`` (default 10 minutes), in segments of ``--segment-seconds`` so the load generator's
own bookkeeping does not pile up. The orders are bench.loadgen's ``customer_mix``: the usual mix
with debtors from a customer base of 50,000 accounts, since the switch keeps each debtor's
daily cap usage for the business day (about 150 bytes a debtor). The resident set size (RSS,
/proc/<pid>/status) of the switch and of the simulator is sampled every ``--sample-seconds``.

The verdict reads the switch's RSS after the warm-up (the first quarter of the run: caches and
pools filling): its least-squares slope in MiB per minute, and its growth from the first to the
last sample. Memory is flat when that growth stays within ``--tolerance-mib`` (default 16).
Beside it, measured in the same run, the simulator: it keeps every item it was sent in its
books, so its slope is what memory that grows with the load looks like, and the bare echo
server's burst rate is the baseline of the maximum (bench.e2e).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import uvloop

from bench.e2e import baseline, ibps_switch
from bench.loadgen import LoadSpec, generate_load


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute.

    >>> slope_per_min([(0.0, 100.0), (60.0, 102.0), (120.0, 104.0)])
    2.0
    >>> slope_per_min([(0.0, 50.0)])
    0.0
    """
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return round(cov / var * 60, 3)


def verdict(samples: list[tuple[float, float]], seconds: float, tolerance_mib: float
            ) -> dict[str, object]:
    """Slope and growth of one process's RSS after the warm-up (the first quarter)."""
    steady = [(t, m) for t, m in samples if t >= seconds / 4] or samples
    growth = steady[-1][1] - steady[0][1] if steady else 0.0
    return {
        "rss_start_mib": round(samples[0][1], 1) if samples else 0.0,
        "rss_steady_start_mib": round(steady[0][1], 1) if steady else 0.0,
        "rss_end_mib": round(samples[-1][1], 1) if samples else 0.0,
        "rss_peak_mib": round(max(m for _, m in samples), 1) if samples else 0.0,
        "rss_growth_mib": round(growth, 1),
        "rss_slope_mib_per_min": slope_per_min(steady),
        "flat": abs(growth) <= tolerance_mib,
    }


async def _sample(pids: dict[str, int], into: dict[str, list[tuple[float, float]]],
                  every: float, start: float) -> None:
    while True:
        now = round(time.perf_counter() - start, 2)
        for name, pid in pids.items():
            with contextlib.suppress(OSError, RuntimeError):  # a process that just ended
                into[name].append((now, rss_mib(pid)))
        await asyncio.sleep(every)


async def soak(seconds: float, share: float, *, window: int = 1000, calibrate_orders: int = 20_000,
               segment_s: float = 30.0, sample_s: float = 1.0, tolerance_mib: float = 16.0,
               series_path: str | None = None) -> dict[str, object]:
    figures: dict[str, object] = {}
    figures.update(await baseline(calibrate_orders, window, timeout=120.0))
    pids: list[int] = []
    async with ibps_switch(window, pids=pids) as (port, secret):
        sim_pid, switch_pid = pids
        tag = f"S{int(time.time()) % 10**6}"
        burst = await generate_load(LoadSpec(
            port=port, client_id="BENCH", secret=secret, mode="closed", window=window,
            orders=calibrate_orders, seconds=60.0, final_timeout=120.0, run=f"{tag}C-",
            generator="customer_mix"))
        max_rate = burst.figures()["final_per_s"]
        rate = max(1.0, share * max_rate)
        figures.update({"max_final_per_s": max_rate, "share": share, "rate": round(rate, 1)})
        series: dict[str, list[tuple[float, float]]] = {"switch": [], "simulator": []}
        start = time.perf_counter()
        sampler = asyncio.get_running_loop().create_task(
            _sample({"switch": switch_pid, "simulator": sim_pid}, series, sample_s, start))
        sent = acked = final = errors = 0
        worst_ack_p99 = 0.0
        segment = 0
        try:
            while (left := seconds - (time.perf_counter() - start)) > 1.0:
                span = min(segment_s, left)
                report = await generate_load(LoadSpec(
                    port=port, client_id="BENCH", secret=secret, mode="open", rate=rate,
                    window=window, orders=int(rate * span) + 1, seconds=span,
                    final_timeout=60.0, run=f"{tag}-{segment}-", seed=segment + 1,
                    generator="customer_mix"))
                segment += 1
                sent, acked = sent + report.sent, acked + report.acked
                final, errors = final + report.final, errors + report.errors
                worst_ack_p99 = max(worst_ack_p99, report.figures()["ack_p99_ms"])
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        elapsed = time.perf_counter() - start
    figures.update({"seconds": round(elapsed, 1), "sent": sent, "acked": acked, "final": final,
                    "errors": errors, "final_per_s": round(final / elapsed, 1),
                    "worst_segment_ack_p99_ms": worst_ack_p99,
                    "samples": len(series["switch"])})
    for name in ("switch", "simulator"):
        figures.update({f"{name}_{k}": v for k, v in
                        verdict(series[name], elapsed, tolerance_mib).items()})
    figures["memory_flat"] = figures.pop("switch_flat")
    figures.pop("simulator_flat")
    if series_path is not None:  # (seconds, MiB) per process, to plot or fit other ways
        Path(series_path).write_text(json.dumps(series))
    return figures


def print_table(f: dict[str, object]) -> None:
    print(f"{'':34}{'rate/s':>10}")
    print(f"{'max (burst, until final)':34}{f['max_final_per_s']:>10,}")
    print(f"{'baseline burst (bare echo)':34}{f['baseline_frames_per_s']:>10,}")
    print(f"{'soak offered':34}{f['rate']:>10,}   {f['share']:.0%} of max for {f['seconds']} s")
    print(f"{'soak final':34}{f['final_per_s']:>10,}   {f['final']:,} of {f['sent']:,} final, "
          f"{f['errors']} errors, worst segment ack p99 {f['worst_segment_ack_p99_ms']} ms")
    print(f"\n{'RSS MiB':34}{'start':>8}{'steady':>8}{'end':>8}{'peak':>8}{'growth':>8}"
          f"{'MiB/min':>9}")
    for name in ("switch", "simulator"):
        print(f"{name:34}{f[name + '_rss_start_mib']:>8}{f[name + '_rss_steady_start_mib']:>8}"
              f"{f[name + '_rss_end_mib']:>8}{f[name + '_rss_peak_mib']:>8}"
              f"{f[name + '_rss_growth_mib']:>8}{f[name + '_rss_slope_mib_per_min']:>9}")
    print(f"switch memory {'FLAT' if f['memory_flat'] else 'GROWING'} after the warm-up "
          "(the simulator keeps every item: growth by design, for comparison); "
          f"{os.cpu_count()} cores, SQLite store")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0, help="soak length (bounded)")
    parser.add_argument("--share", type=float, default=0.8, help="of the measured maximum")
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--calibrate-orders", type=int, default=20_000)
    parser.add_argument("--segment-seconds", type=float, default=30.0)
    parser.add_argument("--sample-seconds", type=float, default=1.0)
    parser.add_argument("--tolerance-mib", type=float, default=16.0)
    parser.add_argument("--series", help="write the RSS samples of both processes here (JSON)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 < args.share <= 1 or not 0 < args.seconds <= 3600:
        parser.error("--share in (0, 1] and --seconds in (0, 3600]")
    figures = uvloop.run(soak(args.seconds, args.share, window=args.window,
                              calibrate_orders=args.calibrate_orders,
                              segment_s=args.segment_seconds, sample_s=args.sample_seconds,
                              tolerance_mib=args.tolerance_mib, series_path=args.series))
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    sys.exit(0 if figures["memory_flat"] and not figures["errors"] else 1)


if __name__ == "__main__":
    cli()
