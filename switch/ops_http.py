"""The operators' HTTP endpoint beside the switch: metrics, health, readiness and status.

| path | answer |
|---|---|
| `GET /metrics` | Prometheus text exposition (`prometheus_client.generate_latest`) |
| `GET /healthz` | liveness: 200 when the process and its engine run, else 503 (JSON) |
| `GET /readyz` | readiness: 200 when store, outbox lag and channels are fine, else 503 |
| `GET /status` | the whole health report as JSON (what `payswitch status` shows) |

Only GET, small requests and one request per connection: this is for scrapers and probes on a
management network, not for the public. Figures that need the store (outbox lag, positions) are
read when asked for, never on the payment path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from switch.health import check_health
from switch.metrics import SwitchMetrics
from switch.store.base import ThreadLoad

if TYPE_CHECKING:
    from switch.app import SwitchApp

__all__ = ["OpsEndpoint"]

log = logging.getLogger("payswitch.ops")

_MAX_REQUEST = 8192
_READ_TIMEOUT_S = 5.0
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request",
            503: "Service Unavailable"}


class OpsEndpoint:
    def __init__(self, app: SwitchApp, metrics: SwitchMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._server: asyncio.AbstractServer | None = None
        self._lag = 0
        self._positions: dict[tuple[str, str], int] = {}
        metrics.add_source(self._switch_state)

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
            status, ctype, body = await self._answer(head[:_MAX_REQUEST])
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            status, ctype, body = 400, "text/plain", b"bad request\n"
        except Exception:  # the probe must get an answer even when the report fails
            log.exception("ops endpoint failed")
            status, ctype, body = 503, "text/plain", b"internal error\n"
        writer.write(f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {ctype}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _answer(self, head: bytes) -> tuple[int, str, bytes]:
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3:
            return 400, "text/plain", b"bad request\n"
        method, path = parts[0], parts[1].split(b"?", 1)[0]
        if method != b"GET":
            return 405, "text/plain", b"only GET\n"
        if path == b"/metrics":
            await self._refresh()
            return 200, "text/plain; version=0.0.4; charset=utf-8", self.metrics.exposition()
        if path in (b"/healthz", b"/readyz", b"/status"):
            report = await check_health(self.app)
            ok = report.live if path == b"/healthz" else report.ready
            if path == b"/status":
                ok = True  # the report itself is the answer, whatever it says
            return (200 if ok else 503), "application/json", msgspec.json.encode(report)
        return 404, "text/plain", b"not found\n"

    async def _refresh(self) -> None:
        """The figures that need I/O, read once per scrape."""
        try:
            self._lag = await self.app.poster.lag()
        except Exception as exc:
            log.warning("outbox lag unavailable: %r", exc)
            self._lag = -1
        self._positions = dict(self.app.poster.positions)

    def _switch_state(self) -> Iterable[Metric]:
        app, engine = self.app, self.app.engine
        now = engine.clock.now()
        sessions = GaugeMetricFamily("payswitch_sessions", "Authenticated client sessions",
                                     labels=["client"])
        for client, live in sorted(app.server.sessions.items()):
            sessions.add_metric([client], len(live))
        yield sessions
        pending = GaugeMetricFamily(
            "payswitch_payments_pending",
            "Payments not final, by state and channel (SUBMITTED = in flight)",
            labels=["state", "channel"])
        counts: dict[tuple[str, str], int] = {}
        for p in engine.live_payments():
            key = (p.state, p.channel or "none")
            counts[key] = counts.get(key, 0) + 1
        for (state, channel), n in sorted(counts.items()):
            pending.add_metric([state, channel], n)
        yield pending
        connected = GaugeMetricFamily("payswitch_channel_connected",
                                      "1 when the channel link is up (signed on)",
                                      labels=["channel"])
        circuit = GaugeMetricFamily("payswitch_channel_circuit_open",
                                    "1 when the channel's circuit breaker is open",
                                    labels=["channel"])
        success = GaugeMetricFamily("payswitch_channel_success_ratio",
                                    "Rolling share of definitive outcomes that succeeded",
                                    labels=["channel"])
        for name, adapter in sorted(engine.adapters.items()):
            connected.add_metric([name], 1 if adapter.connected else 0)
            circuit.add_metric([name], 1 if engine.breakers[name].state(now) == "open" else 0)
            success.add_metric([name], engine.success[name].ppm() / 1_000_000)
        yield connected
        yield circuit
        yield success
        yield GaugeMetricFamily("payswitch_outbox_lag",
                                "Outbox events the accounting worker has not posted",
                                value=self._lag)
        positions = GaugeMetricFamily("payswitch_position_available",
                                      "Available position of a channel clearing account, "
                                      "minor units", labels=["channel", "currency"])
        for (channel, currency), amount in sorted(self._positions.items()):
            positions.add_metric([channel, currency], amount)
        yield positions
        thresholds = GaugeMetricFamily(
            "payswitch_position_threshold",
            "Alert thresholds of channel clearing accounts from the books, minor units",
            labels=["channel", "currency", "bound"])
        for account in app.poster.ledger.books.positions():
            if not account.code.startswith("clearing:") or account.is_family:
                continue
            channel = account.code.removeprefix("clearing:")
            if account.alert_below is not None:
                thresholds.add_metric([channel, account.currency, "below"], account.alert_below)
            if account.alert_above is not None:
                thresholds.add_metric([channel, account.currency, "above"], account.alert_above)
        yield thresholds
        yield from _thread_load(app.store.thread_load())


def _thread_load(load: dict[str, ThreadLoad]) -> Iterable[Metric]:
    """The embedded store's one database thread (every statement on the SQLite file runs on
    it): the rate of its busy seconds is its utilisation, the rate of the wait its saturation.
    A store with a pool of connections (PostgreSQL) has none of these."""
    if not load:
        return
    jobs = CounterMetricFamily("payswitch_db_thread_jobs",
                               "Jobs the embedded store's database thread ran, by kind",
                               labels=["job"])
    waited = CounterMetricFamily("payswitch_db_thread_wait_seconds",
                                 "Time jobs waited for the embedded store's database thread, "
                                 "by kind", labels=["job"])
    busy = CounterMetricFamily("payswitch_db_thread_busy_seconds",
                               "Time the embedded store's database thread spent on each kind "
                               "of job", labels=["job"])
    for kind, figures in sorted(load.items()):
        jobs.add_metric([kind], figures.jobs)
        waited.add_metric([kind], figures.waited_s)
        busy.add_metric([kind], figures.busy_s)
    yield from (jobs, waited, busy)
