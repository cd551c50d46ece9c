"""`payswitch`: the command line of the switch (serve, demo, simulate).

Exit codes: 0 success, 1 failure (the message says what), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
import tomllib
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import msgspec

from switch.errors import ConfigError
from switch.store import StoreError


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; asyncio still works
        return asyncio.run(coro)
    return uvloop.run(coro)


def _logging(level: str, fmt: str = "text") -> None:
    from switch.logs import configure_logging

    configure_logging(level, fmt)


def cmd_serve(args: argparse.Namespace) -> int:
    from switch.app import SwitchApp
    from switch.config import load_config

    config = load_config(args.config)
    if args.workers > 1:
        store_url = args.store or config.store.url
        if not store_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("--workers", "several workers need a PostgreSQL store "
                              "(SQLite is one process's file)")
        from switch.workers import run_workers

        argv = ["serve", "--config", args.config, "--store", store_url]
        for flag, value in (("--clock", args.clock), ("--log-format", args.log_format)):
            if value:
                argv += [flag, value]
        return _run(run_workers(args.workers, argv, config.server.host,
                                args.port if args.port is not None else config.server.port))
    if args.reuse_port:
        config = msgspec.structs.replace(
            config, server=msgspec.structs.replace(config.server, reuse_port=True))
    obs = config.observability
    # The file sets the log level and format unless the command line asked for a level.
    _logging(args.log_level or obs.log_level, args.log_format or obs.log_format)

    from switch.clock import parse_clock

    try:
        clock = parse_clock(args.clock)
    except ValueError as exc:
        raise ConfigError("--clock", str(exc)) from exc

    async def main() -> int:
        app = SwitchApp(config, store_url=args.store, metrics_port=args.metrics_port,
                        clock=clock)
        port = await app.start(port=args.port)
        # What starting loaded (modules, configuration, catalogues, schemas) lives as long as
        # the process: out of the collector's sight, a full collection under load took 7-10 ms
        # instead of 17-23 ms (docs/performance.md).
        gc.collect()
        gc.freeze()
        print(f"LISTENING {config.server.host}:{port}", flush=True)
        if app.metrics_port is not None:
            print(f"METRICS http://{obs.metrics_host}:{app.metrics_port}/metrics", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await app.stop()
        return 0

    return _run(main())


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulators import SIMULATORS, simulator_class
    from simulators.base import run_standalone
    from simulators.faults import FaultPlan
    from switch.clock import parse_clock

    if args.channel.lower() == "all":
        return _simulate_all(args)
    try:
        sim_class = simulator_class(args.channel)
    except KeyError:
        print(f"payswitch: no simulator for channel {args.channel!r} "
              f"(one of: {', '.join(sorted(SIMULATORS))})", file=sys.stderr)
        return 2
    config = sim_class.Config()
    if args.config:
        try:
            config = msgspec.convert(tomllib.loads(Path(args.config).read_text()),
                                     sim_class.Config)
        except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
            raise ConfigError(args.config, str(exc)) from exc
    try:
        plan = FaultPlan.load(args.faults) if args.faults else None
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(args.faults, str(exc)) from exc
    try:
        clock = parse_clock(args.clock)
    except ValueError as exc:
        raise ConfigError("--clock", str(exc)) from exc

    return _run(run_standalone(sim_class(config, clock, seed=args.seed, faults=plan),
                               args.port))


def _simulate_all(args: argparse.Namespace) -> int:
    from simulators.farm import Farm, load_farm_config, load_farm_faults, run_farm
    from switch.clock import parse_clock

    try:
        configs = load_farm_config(args.config)
    except (OSError, ValueError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(args.config, str(exc)) from exc
    try:
        faults = load_farm_faults(args.faults)
    except (OSError, ValueError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(args.faults, str(exc)) from exc
    try:
        clock = parse_clock(args.clock)
    except ValueError as exc:
        raise ConfigError("--clock", str(exc)) from exc
    return _run(run_farm(Farm(clock, args.seed, configs=configs, faults=faults)))


def cmd_demo(args: argparse.Namespace) -> int:
    from switch.demo import run_demo

    return _run(run_demo(
        orders=args.orders, seed=args.seed, store_url=args.store, as_json=args.json,
        window=args.window, faults=args.faults,
    ))


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 0 ready, 1 not ready (or not live), 2 unreachable."""
    import json
    import urllib.error
    import urllib.request

    url = args.url.rstrip("/") + "/status"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as answer:
            report = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"payswitch: cannot read {url}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"payswitch status ({args.url})")
        table.add_column("check")
        table.add_column("ok")
        table.add_column("detail")
        for check in report["checks"]:
            table.add_row(check["name"], "yes" if check["ok"] else "[red]NO[/red]",
                          check["detail"])
        console = Console()
        console.print(table)
        console.print(f"live: {report['live']}  ready: {report['ready']}")
        for key, value in report["figures"].items():
            console.print(f"{key}: {value}")
    return 0 if report["live"] and report["ready"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payswitch", description=__doc__)
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="switch + six channel simulators + load, then a summary")
    demo.add_argument("--orders", type=int, default=10_000)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--store", help="store URL (default: a fresh demo.db by the default store)")
    demo.add_argument("--window", type=int, default=1000, help="orders in flight at once")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    demo.add_argument("--faults", help="'chaos' (the shipped plan) or a farm fault plan (TOML)")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="run the switch")
    serve.add_argument("--config", required=True, help="TOML configuration file")
    serve.add_argument("--store", help="store URL, overriding [store].url")
    serve.add_argument("--port", type=int, help="listening port, overriding [server].port")
    serve.add_argument("--metrics-port", type=int,
                       help="HTTP port of /metrics, /healthz, /readyz and /status "
                            "(overriding [observability].metrics_port; 0 picks one)")
    serve.add_argument("--workers", type=int, default=1,
                       help="N processes sharing the port and a PostgreSQL store")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--clock", help="business time START@ANCHOR[xSPEED] for drills and "
                                       "rehearsals (default: the system clock)")
    serve.add_argument("--log-format", choices=("text", "json"),
                       help="text, or JSON lines (overriding [observability].log_format)")
    serve.set_defaults(func=cmd_serve)

    status = sub.add_parser("status", help="liveness, readiness and figures of a running switch")
    status.add_argument("--url", default="http://127.0.0.1:9400",
                        help="the switch's metrics endpoint (its --metrics-port)")
    status.add_argument("--timeout", type=float, default=5.0)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    # `route`, `convert` and `validate` own their options; main() hands them over untouched.
    sub.add_parser("route", help="explain a routing decision: "
                                 "route --explain ORDER.json [--at ISO-8601] [--catalogue FILE]")
    sub.add_parser("convert", help="MT <-> MX (CBPR+): convert --from mt|mx --to mx|mt FILE|-")
    sub.add_parser("validate", help="check an MT or MX message: validate [--format mt|mx] FILE|-")

    from accounting.cli import add_commands

    add_commands(sub)  # ledger trial-balance | account | payment, accounting run
    from switch.batch_cli import add_commands as add_batch_commands

    add_batch_commands(sub)  # batches list | show | retry | return
    from switch.treasury import add_commands as add_treasury_commands

    add_treasury_commands(sub)  # treasury fund | defund
    from switch.ops_cli import add_commands as add_ops_commands

    add_ops_commands(sub)  # recon run | breaks | resolve, positions, orders, report daily
    from bench.regress.cli import add_commands as add_regress_commands

    add_regress_commands(sub)  # regress record | replay | replay-traffic | impact

    sim = sub.add_parser("simulate", help="run a channel simulator")
    sim.add_argument("channel", help="IBPS, HVPS, BEPS, UnionPay, CIPS, SWIFT, or 'all'")
    sim.add_argument("--port", type=int, default=0)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--faults", help="fault plan (JSON or TOML)")
    sim.add_argument("--config", help="simulator configuration (TOML)")
    sim.add_argument("--clock", help="business time START@ANCHOR[xSPEED] (default: now)")
    sim.set_defaults(func=cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # These commands own their options; main() hands them over untouched.
    if argv[:1] == ["route"]:
        from routing.cli import explain_main

        return explain_main(argv[1:])
    if argv[:1] in (["convert"], ["validate"]):
        from messages.cli import convert_main, validate_main

        return (convert_main if argv[0] == "convert" else validate_main)(argv[1:])
    args = build_parser().parse_args(argv)
    _logging(args.log_level or "WARNING")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"payswitch: configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"payswitch: store error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
