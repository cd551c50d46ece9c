"""`payswitch serve --workers N`: N switch processes on one port, over one PostgreSQL store.

The parent starts N workers (`payswitch serve` each, SO_REUSEPORT on the same port: the kernel
spreads client connections over them), prints ``LISTENING host:port`` once all are up, restarts
a worker that dies (its unfinished payments are taken over by the others meanwhile, see
switch.cluster), and stops them all on SIGINT/SIGTERM. Nothing is coordinated here beyond
process supervision: every guarantee between workers lives in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys

__all__ = ["run_workers"]

_RESTART_DELAY_S = 1.0


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def _start(argv: list[str]) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "switch.cli", *argv,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode().strip()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise RuntimeError(f"a worker did not start: {line!r}")
    return proc, line


async def run_workers(n: int, serve_argv: list[str], host: str, port: int) -> int:
    port = port or free_port(host)
    argv = [*serve_argv, "--port", str(port), "--reuse-port"]
    procs = [proc for proc, _ in await asyncio.gather(*(_start(argv) for _ in range(n)))]
    print(f"LISTENING {host}:{port}", flush=True)
    print(f"WORKERS {' '.join(str(p.pid) for p in procs)}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)

    async def supervise(i: int) -> None:
        while not stopping.is_set():
            await procs[i].wait()
            if stopping.is_set():
                return
            print(f"WORKER-EXITED {procs[i].pid} {procs[i].returncode}", flush=True)
            await asyncio.sleep(_RESTART_DELAY_S)
            with contextlib.suppress(RuntimeError, TimeoutError):
                procs[i], _ = await _start(argv)
                print(f"WORKER-STARTED {procs[i].pid}", flush=True)

    watchers = [loop.create_task(supervise(i)) for i in range(n)]
    await stopping.wait()
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
    for proc in procs:
        await proc.wait()
    for w in watchers:
        w.cancel()
    return 0
