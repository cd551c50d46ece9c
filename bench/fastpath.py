"""Frame scanner throughput, Cython module next to its pure twin in the same run.

    python -m bench.fastpath [--json] [--seconds 0.5]

Workloads: ``small`` = frames of 100-250 bytes arriving in 64 KiB chunks (the switch's common
case); ``split`` = 16 KiB frames arriving in 1460-byte (one TCP segment) chunks.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from fastpath import _framescan_py

CHUNK_64K = 64 * 1024
SEGMENT = 1460


@dataclass(frozen=True)
class Workload:
    name: str
    chunks: list[bytes]
    frames: int
    max_frame: int

    @property
    def size(self) -> int:
        return sum(map(len, self.chunks))


def _cut(wire: bytes, size: int) -> list[bytes]:
    return [wire[i : i + size] for i in range(0, len(wire), size)]


def small_frames(count: int = 20_000, seed: int = 1) -> Workload:
    """``count`` frames of 100-250 bytes on the wire, cut into 64 KiB chunks."""
    rng = random.Random(seed)
    wire = b"".join(
        _framescan_py.encode_frame(rng.randrange(1, 16), rng.randbytes(rng.randrange(94, 245)))
        for _ in range(count))
    return Workload("small", _cut(wire, CHUNK_64K), count, 65536)


def split_frames(count: int = 400, size: int = 16 * 1024, seed: int = 2) -> Workload:
    """``count`` frames of ``size`` bytes, each split across about a dozen 1460-byte chunks."""
    rng = random.Random(seed)
    wire = b"".join(_framescan_py.encode_frame(1, rng.randbytes(size)) for _ in range(count))
    return Workload("split", _cut(wire, SEGMENT), count, 65536)


def scan_all(impl: ModuleType, work: Workload) -> int:
    """Feed every chunk to a fresh scanner; return the number of frames cut."""
    scanner = impl.FrameScanner(max_frame=work.max_frame)
    feed = scanner.feed
    n = 0
    for chunk in work.chunks:
        n += len(feed(chunk))
    return n


def measure(run: Callable[[], int], expected: int, seconds: float) -> float:
    """Best-of-runs frames per second within roughly ``seconds`` of wall time."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    runs = 0
    while runs < 3 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        got = run()
        elapsed = time.perf_counter() - t0
        if got != expected:
            raise AssertionError(f"scanner cut {got} frames, expected {expected}")
        best = min(best, elapsed)
        runs += 1
    return expected / best


def implementations() -> dict[str, ModuleType | None]:
    try:
        compiled: ModuleType | None = importlib.import_module("fastpath._framescan")
    except ImportError:
        compiled = None
    return {"cython": compiled, "pure": _framescan_py}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fastpath", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    args = parser.parse_args(argv)

    impls = implementations()
    results: dict[str, dict[str, object]] = {}
    for work in (small_frames(), split_frames()):
        row: dict[str, object] = {"frames": work.frames, "bytes": work.size,
                                  "chunks": len(work.chunks)}
        for name, impl in impls.items():
            rate = None if impl is None else measure(
                functools.partial(scan_all, impl, work), work.frames, args.seconds)
            row[f"{name}_frames_per_s"] = rate
            row[f"{name}_mb_per_s"] = None if rate is None else rate * work.size / work.frames / 1e6
        c, p = row["cython_frames_per_s"], row["pure_frames_per_s"]
        row["speedup"] = c / p if isinstance(c, float) and isinstance(p, float) else None
        results[work.name] = row

    if args.json:
        print(json.dumps({"benchmark": "framescan", "python": sys.version.split()[0],
                          "workloads": results}, indent=2))
        return 0
    if impls["cython"] is None:
        print("fastpath._framescan is not built: pure twin only "
              "(python setup.py build_ext --inplace)")
    print(f"{'workload':<8} {'impl':<7} {'frames/s':>14} {'MB/s':>9}")
    for name, row in results.items():
        for impl_name in impls:
            fps = row[f"{impl_name}_frames_per_s"]
            mbs = row[f"{impl_name}_mb_per_s"]
            if isinstance(fps, float) and isinstance(mbs, float):
                print(f"{name:<8} {impl_name:<7} {fps:>14,.0f} {mbs:>9,.1f}")
        if isinstance(row["speedup"], float):
            print(f"{name:<8} speed-up cython/pure: {row['speedup']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
