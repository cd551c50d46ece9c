"""The switch's metrics, exposed by `prometheus_client` (never hand-written exposition).

Counters and histograms that move with each order are updated where the event happens (the
server for frames and acks, the engine after each group commit); everything that is a state
rather than an event (sessions, payments in flight or UNKNOWN per channel, circuit states,
outbox lag, positions) is read when Prometheus scrapes, so it costs the hot path nothing.
`NO_METRICS` has the same methods doing nothing: a switch run without a metrics port, and the
baseline of the benchmark that measures what metrics cost.

>>> m = SwitchMetrics()
>>> m.received(); m.accepted(); m.final("SETTLED", "IBPS", 0.5)
>>> m.value("payswitch_orders_final_total", state="SETTLED", channel="IBPS")
1.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

__all__ = ["NO_METRICS", "NullMetrics", "SwitchMetrics"]

# Acks are milliseconds on a healthy switch; a second or more is an incident.
_ACK_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# Time to final spans real-time channels (seconds) to netting sessions and gpi (hours).
_FINAL_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 14_400.0,
                  86_400.0)
_COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class NullMetrics:
    """Metrics switched off: every hook is a no-op."""

    def received(self) -> None: ...
    def accepted(self) -> None: ...
    def rejected(self, reason: str, stage: str) -> None: ...
    def final(self, state: str, channel: str | None, seconds: float) -> None: ...
    def routed(self, channel: str | None) -> None: ...
    def acked(self, seconds: float) -> None: ...
    def committed(self, seconds: float, size: int) -> None: ...
    def protocol_error(self, code: str) -> None: ...
    def batch(self, channel: str, members: int) -> None: ...


NO_METRICS = NullMetrics()

Snapshot = Callable[[], Iterable[Metric]]


class _Scraped(Collector):
    """Gauges computed at scrape time from whatever the switch hands in."""

    def __init__(self) -> None:
        self.sources: list[Snapshot] = []

    def collect(self) -> Iterable[Metric]:
        for source in self.sources:
            yield from source()


class SwitchMetrics(NullMetrics):
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._received = Counter("payswitch_orders_received", "SUBMIT frames received",
                                 registry=r)
        self._accepted = Counter("payswitch_orders_accepted",
                                 "Orders durably accepted (ACCEPTED at intake)", registry=r)
        self._rejected = Counter("payswitch_orders_rejected",
                                 "Orders that ended REJECTED, by ISO reason code and stage "
                                 "(intake, route, channel)", ["reason", "stage"], registry=r)
        self._final = Counter("payswitch_orders_final",
                              "Orders that reached a final state, by state and channel",
                              ["state", "channel"], registry=r)
        self._routed = Counter("payswitch_route_decisions",
                               "Routing decisions by chosen channel (none: refused)",
                               ["channel"], registry=r)
        self._ack = Histogram("payswitch_ack_latency_seconds",
                              "SUBMIT received to ACK written, on the switch", registry=r,
                              buckets=_ACK_BUCKETS)
        self._to_final = Histogram("payswitch_time_to_final_seconds",
                                   "Acceptance to final state, on the injected clock",
                                   registry=r, buckets=_FINAL_BUCKETS)
        self._commit = Histogram("payswitch_store_commit_seconds",
                                 "Duration of one group-commit store transaction", registry=r,
                                 buckets=_COMMIT_BUCKETS)
        self._group = Histogram("payswitch_group_commit_size",
                                "Writes (accepts, transitions, intake errors) per commit",
                                registry=r, buckets=_SIZE_BUCKETS)
        self._errors = Counter("payswitch_protocol_errors",
                               "Error frames sent to clients, by stable code", ["code"],
                               registry=r)
        self._batch = Histogram("payswitch_batch_members",
                                "Member orders per micro-payment batch submitted",
                                ["channel"], registry=r, buckets=_SIZE_BUCKETS)
        self.info = Gauge("payswitch_up", "1 while this switch process runs", registry=r)
        self.info.set(1)
        self._scraped = _Scraped()
        r.register(self._scraped)
        # label children cached: a labels() lookup costs three times an inc()
        self._final_of: dict[tuple[str, str], Any] = {}
        self._rejected_of: dict[tuple[str, str], Any] = {}
        self._routed_of: dict[str, Any] = {}

    # -- events ------------------------------------------------------------------------------

    def received(self) -> None:
        self._received.inc()

    def accepted(self) -> None:
        self._accepted.inc()

    def rejected(self, reason: str, stage: str) -> None:
        key = (reason, stage)
        child = self._rejected_of.get(key)
        if child is None:
            child = self._rejected_of[key] = self._rejected.labels(*key)
        child.inc()

    def final(self, state: str, channel: str | None, seconds: float) -> None:
        key = (state, channel or "none")
        child = self._final_of.get(key)
        if child is None:
            child = self._final_of[key] = self._final.labels(*key)
        child.inc()
        self._to_final.observe(seconds)

    def routed(self, channel: str | None) -> None:
        key = channel or "none"
        child = self._routed_of.get(key)
        if child is None:
            child = self._routed_of[key] = self._routed.labels(key)
        child.inc()

    def acked(self, seconds: float) -> None:
        self._ack.observe(seconds)

    def committed(self, seconds: float, size: int) -> None:
        self._commit.observe(seconds)
        self._group.observe(size)

    def protocol_error(self, code: str) -> None:
        self._errors.labels(code).inc()

    def batch(self, channel: str, members: int) -> None:
        self._batch.labels(channel).observe(members)

    # -- scrape ------------------------------------------------------------------------------

    def add_source(self, source: Snapshot) -> None:
        """A function giving gauge families, called at every scrape."""
        self._scraped.sources.append(source)

    def exposition(self) -> bytes:
        """The text exposition format, as Prometheus scrapes it."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float | None:
        """One sample's value (tests and `payswitch status`)."""
        return self.registry.get_sample_value(name, labels)
