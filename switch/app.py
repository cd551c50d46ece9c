"""Wiring: one switch process from its configuration (store, engine, server, poster, adapters)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from accounting.config import load_books
from accounting.poster import LedgerPoster
from adapters import ChannelAdapter, ChannelError, adapter_class
from routing import Router, load_catalogue
from routing.catalogue import Catalogue
from switch.batching import BatchDesk
from switch.clock import Clock, SystemClock
from switch.cluster import Cluster, new_worker_id
from switch.config import SwitchConfig, default_store_url
from switch.engine import PaymentEngine
from switch.journal import MessageJournal
from switch.metrics import SwitchMetrics
from switch.ops_http import OpsEndpoint
from switch.order import Party
from switch.server import SwitchServer
from switch.store import Store, open_store, redacted
from switch.store.postgres import PostgresStore

log = logging.getLogger("payswitch")


class SwitchApp:
    """A running switch; `start()` returns the port it listens on."""

    def __init__(
        self, config: SwitchConfig, *, store_url: str | None = None, clock: Clock | None = None,
        metrics_port: int | None = None, catalogue: Catalogue | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.store: Store = open_store(store_url or config.store.url or default_store_url())
        adapters: dict[str, ChannelAdapter] = {}
        for key, link in config.channels.items():
            adapter = adapter_class(key).from_config(link, clock=self.clock, bank=config.bank)
            adapters[adapter.channel] = adapter
        # Only channels this switch can reach are candidates.
        if catalogue is None:
            catalogue = load_catalogue(config.routing.catalogue or None)
        catalogue = catalogue.only(adapters)
        bank = Party(account="", name=config.bank.name, agent=config.bank.cnaps_code)
        self.engine = PaymentEngine(
            store=self.store, clock=self.clock, router=Router(catalogue), adapters=adapters,
            batch_max=config.store.group_commit_max,
            batching=BatchDesk(catalogue, bank) if catalogue.batching else None,
        )
        self.server = SwitchServer(config.server, self.engine, self.store, config.clients)
        self.journal: MessageJournal | None = None
        if config.store.keep_messages:
            self.journal = MessageJournal(self.store, self.clock)
            for adapter in adapters.values():
                adapter.on_message = self.journal.record
        # The books live in the same database, in the accounting package's own tables.
        books = load_books(config.accounting.books) if config.accounting.books else None
        self.poster = LedgerPoster(self.store, self.clock, books=books)
        checked = set(config.routing.positions)
        if checked:
            # the router reads positions without I/O: the worker's figures as of its last page
            self.engine.positions = lambda: {k: v for k, v in self.poster.positions.items()
                                             if k[0] in checked}
            self.engine.positions_as_of = lambda: self.poster.positions_as_of
            self.engine.refresh_positions = self.poster.refresh
        self.poster.subscribe_alerts(self.server.push_alert)
        self.cluster: Cluster | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._accounting_turn = asyncio.Lock()
        self._stopping = False
        if isinstance(self.store, PostgresStore) and config.cluster.enabled:
            self._join_cluster(config, adapters)
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.ops: OpsEndpoint | None = None
        if metrics_port is None:
            metrics_port = config.observability.metrics_port
        if metrics_port is not None:
            metrics = SwitchMetrics()
            self.engine.metrics = metrics
            self.ops = OpsEndpoint(self, metrics)
            self._metrics_at = (config.observability.metrics_host, metrics_port)

    def _join_cluster(self, config: SwitchConfig, adapters: dict[str, ChannelAdapter]) -> None:
        """A worker of several over one PostgreSQL: leases for the books and single sessions."""
        assert isinstance(self.store, PostgresStore)
        cluster = self.cluster = Cluster(
            self.store, new_worker_id(), address=f"{config.server.host}:{config.server.port}",
            lease_s=config.cluster.lease_s, heartbeat_s=config.cluster.heartbeat_s)
        self.engine.cluster, self.engine.worker_id = cluster, cluster.worker_id
        self.server.cluster = cluster
        cluster.on_status = self.server.push_remote
        cluster.on_adopt = self.engine.adopt
        cluster.on_takeover = self.engine.adopt
        cluster.wanted = {f"channel:{name}" for name, a in adapters.items() if a.single_session}
        # a lease per outbox partition (one unless the books partition it), shared out
        cluster.shared = {p.consumer for p in self.poster.partitions}
        cluster.on_lease = self._on_lease

    def _on_lease(self, name: str, held: bool) -> None:
        """Run what the lease stands for while this worker holds it, and only then."""
        if self._stopping:
            return
        if self.cluster is not None and name in self.cluster.shared:
            # while other workers post, this one follows the books they post (positions for
            # routing, alerts for its operator consoles)
            self._background(self._accounting())
            return
        adapter = self.engine.adapters.get(name.removeprefix("channel:"))
        if adapter is not None:
            self._background(self._session(adapter, held))

    async def _accounting(self) -> None:
        async with self._accounting_turn:  # lease changes in order, one at a time
            assert self.cluster is not None
            await self.poster.stop(close=False)
            self.poster.start(partitions=sorted(self.cluster.held & self.cluster.shared))

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # kept until done: the loop holds tasks only weakly
        task.add_done_callback(self._tasks.discard)

    async def _session(self, adapter: ChannelAdapter, held: bool) -> None:
        if not held:
            await adapter.close()
            return
        try:
            await adapter.start()
        except ChannelError as exc:  # it keeps trying on its own
            log.warning("%s session not up yet: %s", adapter.channel, exc)

    async def start(self, port: int | None = None) -> int:
        await self.store.open()
        if self.cluster is not None:
            await self.cluster.start()  # before recovery: which payments are this worker's
        if self.journal is not None:
            self.journal.start()  # before the engine: recovery already talks to channels
        await self.engine.start()
        # In a cluster a worker posts the partitions whose leases it holds, or follows. The
        # leases, taken while the engine started, may have set the books going already.
        async with self._accounting_turn:
            if not self.poster.running:
                self.poster.start(partitions=None if self.cluster is None else [])
        self.port = await self.server.start(port=port)
        if self.ops is not None:
            self.metrics_port = await self.ops.start(*self._metrics_at)
            log.info("metrics and health on http://%s:%d/", self._metrics_at[0],
                     self.metrics_port)
        log.info("switch listening on %s:%d, store %s", self.config.server.host, self.port,
                 redacted(self.store.url))
        return self.port

    async def stop(self) -> None:
        if self.ops is not None:
            await self.ops.stop()
        await self.server.stop()
        await self.engine.stop()
        self._stopping = True  # a lease change from here on starts nothing
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # The books before the journal: on SQLite a worker posting page after page holds the
        # database's one write lock nearly all the time, and the journal's last write, waiting
        # for it, timed out and was lost. What the books have not posted waits in the outbox.
        await self.poster.stop()
        if self.journal is not None:
            await self.journal.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        await self.store.close()
