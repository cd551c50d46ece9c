"""Several switch processes over one PostgreSQL: the database coordinates them, nothing else.

Each process is a worker with an id. It drives the payments it took in (`payments.owner`);
the store moves a payment only for its owner, so a worker wrongly presumed dead cannot write
behind the back of the one that took over. What only one worker may do at a time is a lease in
`cluster_leases` with an expiry: posting the books (a lease per outbox partition, shared out
evenly among the live workers), and the session of a channel that allows one (UnionPay).
Workers heartbeat in `cluster_workers`; a worker silent for `lease_s` is dead, and a live worker
claims its unfinished payments (one UPDATE: whoever gets the rows resumes them, inquiring what
was sent, resending nothing blindly).

Status pushes cross processes by PostgreSQL LISTEN/NOTIFY: a worker that moves a payment tells
its own sessions of the client and notifies the others, whose sessions of that client get it.
A payment for a channel whose session another worker holds is handed to it (owner changed,
then a NOTIFY so it picks the payment up at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from switch.store.base import StoreError
from switch.store.postgres import CLOSE_S, PostgresStore

__all__ = ["Cluster", "new_worker_id"]

log = logging.getLogger("payswitch.cluster")

STATUS_CHANNEL = "payswitch_status"  # a prefix: `Cluster.start` adds the schema's tag
ADOPT_CHANNEL = "payswitch_adopt"
_NOTIFY_MAX = 7_000  # PostgreSQL refuses payloads of 8,000 bytes and more


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Cluster:
    def __init__(self, store: PostgresStore, worker_id: str, *, address: str = "",
                 lease_s: float = 5.0, heartbeat_s: float = 1.0) -> None:
        self.store = store
        self.worker_id = worker_id
        self.address = address
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self.held: set[str] = set()  # leases this worker holds now
        self.wanted: set[str] = set()  # leases it tries to take
        self.shared: set[str] = set()  # leases it takes its share of: of n live workers, each
        # holds at most ceil(len(shared) / n), so a worker that joins is given work
        self.on_lease: Callable[[str, bool], None] = lambda name, held: None
        self.on_status: Callable[[dict[str, Any]], None] = lambda status: None
        self.on_adopt: Callable[[list[str]], None] = lambda payment_ids: None
        self.on_takeover: Callable[[list[str]], None] = lambda payment_ids: None
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._outgoing: list[str] = []
        self.status_channel = self.adopt_channel = ""  # named in `start`, by the schema
        self._flush_pending = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Join: register, claim what nobody drives (payments from before the cluster, or
        of workers already dead), listen; the engine then resumes this worker's payments."""
        self.store.owner = self.worker_id
        pool = self.store.pool
        await pool.execute(
            "INSERT INTO cluster_workers (worker_id, address) VALUES ($1, $2) "
            "ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), stopped = false",
            self.worker_id, self.address)
        await pool.execute(
            "UPDATE payments SET owner = $1 WHERE owner IS NULL "
            "AND state NOT IN ('SETTLED', 'REJECTED', 'RETURNED', 'CANCELLED')",
            self.worker_id)
        await self.claim_from_the_dead()
        # NOTIFY is heard across the whole database: two switches in two schemas of one
        # database (tenants, test runs) must not push each other's payments to their clients
        tag = hashlib.sha256(str(await pool.fetchval("SELECT current_schema()")).encode())
        self.status_channel = f"{STATUS_CHANNEL}_{tag.hexdigest()[:16]}"
        self.adopt_channel = f"{ADOPT_CHANNEL}_{tag.hexdigest()[:16]}"
        self._listener = await asyncpg.connect(self.store.dsn)
        await self._listener.add_listener(self.status_channel, self._heard_status)
        await self._listener.add_listener(self.adopt_channel, self._heard_adopt)
        await self._beat()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cluster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            # a clean stop lets the others take over at once instead of after the lease
            await self.store.pool.execute(
                "UPDATE cluster_workers SET stopped = true WHERE worker_id = $1", self.worker_id)
            await self.store.pool.execute(
                "DELETE FROM cluster_leases WHERE worker_id = $1", self.worker_id)
        if self._listener is not None:
            listener, self._listener = self._listener, None
            try:
                await listener.close(timeout=CLOSE_S)
            except TimeoutError:  # asyncpg has dropped it by then: a stop must end
                log.warning("cluster listener not closed after %.0f s; dropped", CLOSE_S)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self._beat()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cluster heartbeat failed: %r", exc)

    async def _beat(self) -> None:
        pool = self.store.pool
        await pool.execute("UPDATE cluster_workers SET heartbeat_at = now(), stopped = false "
                           "WHERE worker_id = $1", self.worker_id)
        for name in sorted(self.wanted):
            self._now_held(name, await self.acquire(name))
        if self.shared:
            await self._take_share()
        claimed = await self.claim_from_the_dead()
        if claimed:
            self.on_takeover(claimed)

    def _now_held(self, name: str, held: bool) -> None:
        if held != (name in self.held):
            (self.held.add if held else self.held.discard)(name)
            log.info("lease %s %s", name, "taken" if held else "lost")
            self.on_lease(name, held)

    async def _take_share(self) -> None:
        """Renew the shared leases held, give back those beyond this worker's share, and take
        free ones up to it (a dead worker's, once they expire)."""
        live = await self.store.pool.fetchval(
            "SELECT count(*) FROM cluster_workers WHERE NOT stopped "
            "AND heartbeat_at >= now() - make_interval(secs => $1)", self.lease_s)
        share = -(-len(self.shared) // max(1, live))
        mine = sorted(n for n in self.shared if n in self.held)
        for name in mine[share:]:
            # Given up after its work is told to stop: a page still being written meanwhile
            # is harmless (posting is serialised in the database and idempotent per event).
            self._now_held(name, False)
            await self.release(name)
        count = 0  # the ones kept first (renewed), then free ones while under the share
        for name in [*mine[:share], *sorted(self.shared - set(mine))]:
            if count >= share:
                break
            held = await self.acquire(name)
            self._now_held(name, held)
            count += held

    async def release(self, name: str) -> None:
        await self.store.pool.execute(
            "DELETE FROM cluster_leases WHERE name = $1 AND worker_id = $2", name, self.worker_id)

    # -- leases and takeover -----------------------------------------------------------------

    async def acquire(self, name: str) -> bool:
        """Take or renew the lease ``name``; True when this worker holds it now."""
        holder = await self.store.pool.fetchval(
            "INSERT INTO cluster_leases (name, worker_id, expires_at) "
            "VALUES ($1, $2, now() + make_interval(secs => $3)) "
            "ON CONFLICT (name) DO UPDATE SET worker_id = excluded.worker_id, "
            "expires_at = excluded.expires_at "
            "WHERE cluster_leases.worker_id = excluded.worker_id "
            "OR cluster_leases.expires_at < now() RETURNING worker_id",
            name, self.worker_id, self.lease_s)
        return holder == self.worker_id

    async def holder(self, name: str) -> str | None:
        return await self.store.pool.fetchval(
            "SELECT worker_id FROM cluster_leases WHERE name = $1 AND expires_at >= now()",
            name)

    async def claim_from_the_dead(self) -> list[str]:
        """Unfinished payments of workers silent for longer than the lease (or stopped):
        now this worker's. Atomic: of two live workers claiming at once, one gets each row."""
        rows = await self.store.pool.fetch(
            "UPDATE payments p SET owner = $1 FROM cluster_workers w "
            "WHERE p.owner = w.worker_id AND w.worker_id <> $1 "
            "AND (w.stopped OR w.heartbeat_at < now() - make_interval(secs => $2)) "
            "AND p.state NOT IN ('SETTLED', 'REJECTED', 'RETURNED', 'CANCELLED') "
            "RETURNING p.payment_id", self.worker_id, self.lease_s)
        if rows:
            log.warning("took over %d unfinished payments of dead workers", len(rows))
        return [r["payment_id"] for r in rows]

    async def hand_over(self, payment_id: str, to_worker: str) -> bool:
        """Give a payment to the worker holding its channel's session; it picks it up now."""
        done = await self.store.pool.execute(
            "UPDATE payments SET owner = $1 WHERE payment_id = $2 AND owner = $3",
            to_worker, payment_id, self.worker_id)
        if not done.endswith(" 1"):
            return False
        await self.store.pool.execute("SELECT pg_notify($1, $2)", self.adopt_channel,
                                      json.dumps({"to": to_worker, "ids": [payment_id]}))
        return True

    # -- status pushes -----------------------------------------------------------------------

    def broadcast(self, status: dict[str, Any]) -> None:
        """Tell the other workers about a state change (their sessions of the client)."""
        self._outgoing.append(json.dumps(status, separators=(",", ":"), ensure_ascii=False))
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # gather what this loop turn published
        self._flush_pending = False
        lines, self._outgoing = self._outgoing, []
        chunks: list[str] = []
        size = 0
        for line in lines:
            n = len(line.encode()) + 1  # PostgreSQL counts the payload's bytes
            if chunks and size + n > _NOTIFY_MAX:
                await self._notify(chunks)
                chunks, size = [], 0
            chunks.append(line)
            size += n
        if chunks:
            await self._notify(chunks)

    async def _notify(self, lines: list[str]) -> None:
        # The statuses go in as they were encoded: encoding them again as strings escaped
        # every quote and made payloads measured under the limit too long for PostgreSQL.
        payload = f'{{"from":{json.dumps(self.worker_id)},"statuses":[{",".join(lines)}]}}'
        try:
            await self.store.pool.execute("SELECT pg_notify($1, $2)", self.status_channel, payload)
        except (OSError, asyncpg.PostgresError, StoreError) as exc:
            # a push is best effort (QUERY stands); StoreError: the process is stopping
            log.warning("status push to other workers lost: %r", exc)

    def _heard_status(self, _con: Any, _pid: int, _channel: str, payload: str) -> None:
        message = json.loads(payload)
        if message.get("from") == self.worker_id:
            return
        for status in message.get("statuses", ()):
            self.on_status(status)

    def _heard_adopt(self, _con: Any, _pid: int, _channel: str, payload: str) -> None:
        message = json.loads(payload)
        if message.get("to") == self.worker_id:
            self.on_adopt(list(message.get("ids", ())))
