"""Wiring: one switch process from its configuration (store, engine, server, poster, adapters)."""

from __future__ import annotations

import logging

from accounting.poster import LedgerPoster
from adapters import ChannelAdapter, adapter_class
from routing import Router, load_catalogue
from switch.clock import Clock, SystemClock
from switch.config import SwitchConfig, default_store_url
from switch.engine import PaymentEngine
from switch.server import SwitchServer
from switch.store import Store, open_store, redacted

log = logging.getLogger("payswitch")


class SwitchApp:
    """A running switch; `start()` returns the port it listens on."""

    def __init__(
        self, config: SwitchConfig, *, store_url: str | None = None, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.store: Store = open_store(store_url or config.store.url or default_store_url())
        adapters: dict[str, ChannelAdapter] = {}
        for key, link in config.channels.items():
            adapter = adapter_class(key).from_config(link, clock=self.clock, bank=config.bank)
            adapters[adapter.channel] = adapter
        # Only channels this switch can reach are candidates.
        catalogue = load_catalogue(config.routing.catalogue or None).only(adapters)
        self.engine = PaymentEngine(
            store=self.store, clock=self.clock, router=Router(catalogue), adapters=adapters,
            batch_max=config.store.group_commit_max,
        )
        self.server = SwitchServer(
            config.server, self.engine, self.store,
            {cid: c.secret.encode() for cid, c in config.clients.items()},
        )
        # The books live in the same database, in the accounting package's own tables.
        self.poster = LedgerPoster(self.store, self.clock)
        self.port: int | None = None

    async def start(self, port: int | None = None) -> int:
        await self.store.open()
        await self.engine.start()
        self.poster.start()
        self.port = await self.server.start(port=port)
        log.info("switch listening on %s:%d, store %s", self.config.server.host, self.port,
                 redacted(self.store.url))
        return self.port

    async def stop(self) -> None:
        await self.server.stop()
        await self.engine.stop()
        await self.poster.stop()
        await self.store.close()
