"""Shared fixtures: stores on both backends, and a running switch with an IBPS simulator.

PostgreSQL tests use PAYSWITCH_TEST_PG_DSN. Unset: they skip (a user's clone without a
database). Set: they must run, so an unreachable database fails them rather than skipping.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# Imported here, at the shallow stack of conftest loading. Otherwise a run whose tests never use
# hypothesis imports it first from its plugin's terminal summary, deep in pytest's stack, where
# the assertion rewriter's ast.parse of it hits CPython 3.11.7's "AST constructor recursion depth
# mismatch" SystemError (CPython gh-106905, fixed in 3.11.8) and the run ends in a traceback.
import hypothesis  # noqa: F401
import pytest
import uvloop

from accounting.config import Books
from accounting.worker import AccountingWorker
from adapters.ibps import IbpsLinkConfig
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import SystemClock
from switch.config import (
    ClientConfig,
    ServerConfig,
    StoreConfig,
    SwitchConfig,
)
from switch.store import Store, open_store

# `pytest --impact-map=.payswitch-impact.db` keeps the map `payswitch regress impact` reads.
pytest_plugins = ["bench.regress.coverage_map", "tests.hang_report"]

PG_DSN = os.environ.get("PAYSWITCH_TEST_PG_DSN")
CLIENT_ID = "CORE-TEST"
CLIENT_SECRET = "test-secret-" + "x" * 16
CLOSED_ACCOUNT = "6222020000000000001"


async def _pg_schema_url() -> tuple[str, str]:
    assert PG_DSN is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        con = await asyncpg.connect(PG_DSN, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PAYSWITCH_TEST_PG_DSN={PG_DSN} is set but unreachable: {exc!r}")
    try:
        await con.execute(f"CREATE SCHEMA {schema}")
    finally:
        await con.close()
    sep = "&" if "?" in PG_DSN else "?"
    return schema, f"{PG_DSN}{sep}search_path={schema}"


async def _drop_schema(schema: str) -> None:
    assert PG_DSN is not None
    con = await asyncpg.connect(PG_DSN)
    try:
        # A connection the test's switch left open inside a transaction would make the drop
        # wait for good: fail instead, naming what holds the schema.
        await con.execute("SET lock_timeout = '30s'")
        for attempt in range(5):
            try:
                await con.execute(f"DROP SCHEMA {schema} CASCADE")
                return
            except asyncpg.LockNotAvailableError:
                holders = await con.fetch(
                    "SELECT DISTINCT a.pid, a.state, a.query FROM pg_locks l"
                    " JOIN pg_stat_activity a USING (pid)"
                    " JOIN pg_class c ON c.oid = l.relation"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = $1 AND l.granted AND a.pid <> pg_backend_pid()", schema)
                raise AssertionError(
                    f"schema {schema} still held after the test: {[dict(h) for h in holders]}"
                ) from None
            except asyncpg.DeadlockDetectedError:
                # A query the test's switch cancelled at its stop can still be running in its
                # backend for a moment, taking table locks while DROP takes them too, and
                # PostgreSQL then ends one of the two (seen once in 2,400 tests). Once that
                # backend has gone, the drop goes through.
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await con.close()


async def posted_to_the_end(store_url: str, books: Books | None = None,
                            timeout_s: float = 30.0) -> None:
    """Wait until the running switch has posted every outbox event. Only while it runs: a
    switch that stops leaves what it has not posted in the outbox for its next start."""
    store = open_store(store_url)
    await store.open()
    reader = AccountingWorker(store, SystemClock(), books=books)  # only to read
    try:
        for _ in range(int(timeout_s / 0.05)):
            if await reader.lag() == 0:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{await reader.lag()} events still unposted after {timeout_s} s")
    finally:
        await reader.ledger.close()
        await store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'switch.db'}"
        return
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    schema, url = await _pg_schema_url()
    try:
        yield url
    finally:
        await _drop_schema(schema)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = open_store(store_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@dataclass
class Rig:
    """A running switch, its IBPS simulator, and how to reach them."""

    app: SwitchApp
    sim: IbpsSimulator
    port: int

    async def client(self, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> SwitchClient:
        return await SwitchClient.connect("127.0.0.1", self.port, client_id, secret)


def switch_config(sim_port: int, **server: object) -> SwitchConfig:
    return SwitchConfig(
        server=ServerConfig(port=0, **server),  # type: ignore[arg-type]
        store=StoreConfig(),
        clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET),
                 "OTHER-CORE": ClientConfig(secret=secrets.token_hex(16))},
        channels={"ibps": IbpsLinkConfig(port=sim_port, reply_timeout_s=5)},
    )


@pytest.fixture
async def rig(store_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    marker = request.node.get_closest_marker("server")
    server_opts = dict(marker.kwargs) if marker else {}
    sim = IbpsSimulator(IbpsConfig(closed_accounts=(CLOSED_ACCOUNT,)), SystemClock(), seed=3)
    sim_port = await sim.start()
    app = SwitchApp(switch_config(sim_port, **server_opts), store_url=store_url)
    port = await app.start(port=0)
    try:
        yield Rig(app, sim, port)
    finally:
        await app.stop()
        await sim.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server(**opts): ServerConfig overrides for the rig")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test runs on uvloop, the loop the switch runs on in production."""
    from tests.hang_report import tracked  # a plugin (above): imported by pytest first

    return {"uvloop": tracked(uvloop.new_event_loop)}
