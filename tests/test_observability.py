"""Metrics, health, status and logs as operators see them: over real HTTP and real sockets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient, SwitchError
from switch.clock import SystemClock
from switch.logs import configure_logging
from switch.order import Party
from tests.conftest import CLIENT_ID, CLIENT_SECRET, CLOSED_ACCOUNT, switch_config
from tests.orders import order

ROOT = Path(__file__).resolve().parents[1]


class Running:
    def __init__(self, app: SwitchApp, sim: IbpsSimulator) -> None:
        self.app, self.sim = app, sim

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app.metrics_port}"

    async def get(self, path: str) -> tuple[int, bytes]:
        def fetch() -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(self.url + path, timeout=10) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as err:
                return err.code, err.read()

        return await asyncio.to_thread(fetch)

    async def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, body = await self.get("/metrics")
        assert status == 200
        out = {}
        for family in text_string_to_metric_families(body.decode()):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    sim = IbpsSimulator(IbpsConfig(closed_accounts=(CLOSED_ACCOUNT,), reply_delay_ms=20),
                        SystemClock(), seed=2)
    app = SwitchApp(switch_config(await sim.start()), store_url=f"sqlite://{tmp_path / 'o.db'}",
                    metrics_port=0)
    await app.start(port=0)
    try:
        yield Running(app, sim)
    finally:
        await app.stop()
        await sim.stop()


def _with(party: Party, account: str) -> Party:
    return msgspec.structs.replace(party, account=account)


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **match: str) -> float:
    return sum(v for (n, labels), v in samples.items()
               if n == name and all(dict(labels).get(k) == want for k, want in match.items()))


def consistent(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> bool:
    """Every order that came in durably is final or pending, exactly once."""
    came_in = (total(samples, "payswitch_orders_accepted_total")
               + total(samples, "payswitch_orders_rejected_total", stage="intake"))
    accounted = (total(samples, "payswitch_orders_final_total")
                 + total(samples, "payswitch_payments_pending"))
    return came_in == accounted


async def test_counters_move_with_the_orders_during_and_after_a_run(running: Running) -> None:
    orders = [order() for _ in range(300)]
    orders += [order(creditor=_with(order().creditor, CLOSED_ACCOUNT))
               for _ in range(20)]  # the receiving bank refuses: AC04
    orders += [order(amount=9_000_000) for _ in range(10)]  # over the IBPS cap: AM02 by routing
    orders += [order(debtor=_with(order().debtor, "not-an-account"))
               for _ in range(5)]  # refused at intake: AC02
    async with await SwitchClient.connect("127.0.0.1", running.app.port or 0, CLIENT_ID,
                                          CLIENT_SECRET) as client:
        acks = await asyncio.gather(*(client.submit(o) for o in orders[:150]))
        mid = await running.samples()  # scraped while payments are in flight
        assert consistent(mid)
        assert total(mid, "payswitch_orders_received_total") == 150
        acks += await asyncio.gather(*(client.submit(o) for o in orders[150:]))
        for o in orders:
            await client.wait_final(o.client_order_id, timeout=30)
    assert len(acks) == len(orders)
    end = await running.samples()
    assert consistent(end)
    assert total(end, "payswitch_orders_received_total") == len(orders)
    assert total(end, "payswitch_orders_accepted_total") == len(orders) - 5
    assert total(end, "payswitch_orders_rejected_total", reason="AC02", stage="intake") == 5
    assert total(end, "payswitch_orders_rejected_total", reason="AM02", stage="route") == 10
    assert total(end, "payswitch_orders_rejected_total", reason="AC04", stage="channel") == 20
    assert total(end, "payswitch_orders_final_total", state="SETTLED", channel="IBPS") == 300
    assert total(end, "payswitch_payments_pending") == 0
    assert total(end, "payswitch_route_decisions_total", channel="IBPS") == 320
    assert total(end, "payswitch_route_decisions_total", channel="none") == 10
    assert total(end, "payswitch_ack_latency_seconds_count") == len(orders)
    assert total(end, "payswitch_time_to_final_seconds_count") == len(orders)
    assert total(end, "payswitch_group_commit_size_sum") >= len(orders)
    assert total(end, "payswitch_channel_connected", channel="IBPS") == 1
    assert total(end, "payswitch_channel_circuit_open", channel="IBPS") == 0
    assert total(end, "payswitch_sessions") == 0
    # the SQLite file's one thread: every group commit ran on it, and took some of its time
    assert total(end, "payswitch_db_thread_jobs_total", job="commit") >= 1
    assert total(end, "payswitch_db_thread_busy_seconds_total", job="commit") > 0
    assert total(end, "payswitch_db_thread_wait_seconds_total") >= 0
    await running.app.poster.post_available()
    after = await running.samples()
    assert total(after, "payswitch_outbox_lag") == 0
    assert total(after, "payswitch_db_thread_jobs_total", job="books_post") >= 1
    # IBPS settled 300 payments out of its clearing account
    settled = sum(o.amount for o in orders[:300])
    assert total(after, "payswitch_position_available", channel="IBPS") == -settled
    assert total(after, "payswitch_position_threshold", channel="IBPS", bound="below") < 0


async def test_health_readiness_and_status(running: Running) -> None:
    status, body = await running.get("/healthz")
    assert status == 200 and json.loads(body)["live"] is True
    status, body = await running.get("/readyz")
    report = json.loads(body)
    assert status == 200 and report["ready"] is True
    assert {c["name"]: c["ok"] for c in report["checks"]} == {
        "engine": True, "store": True, "outbox_lag": True, "channels_CNY": True}
    assert (await running.get("/nowhere"))[0] == 404

    # the CLI shows the same, with exit code 0 when ready
    proc = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "switch.cli", "status", "--url", running.url, "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ready"] is True

    await running.sim.stop()  # the only CNY channel goes away
    for _ in range(200):
        if not running.app.engine.adapters["IBPS"].connected:
            break
        await asyncio.sleep(0.01)
    status, body = await running.get("/readyz")
    checks = {c["name"]: c for c in json.loads(body)["checks"]}
    assert status == 503 and checks["channels_CNY"]["ok"] is False
    assert (await running.get("/healthz"))[0] == 200  # alive, only not ready
    proc = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "switch.cli", "status", "--url", running.url],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1 and "channels_CNY" in proc.stdout


def test_status_of_an_unreachable_switch_exits_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "switch.cli", "status", "--url",
                           "http://127.0.0.1:9", "--timeout", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and "cannot read" in proc.stderr


async def test_logs_are_json_lines_with_no_account_number_or_secret(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    sim = IbpsSimulator(IbpsConfig(closed_accounts=(CLOSED_ACCOUNT,)), SystemClock())
    app = SwitchApp(switch_config(await sim.start()), store_url=f"sqlite://{tmp_path / 'l.db'}")
    await app.start(port=0)
    orders = [order(), order(creditor=_with(order().creditor, CLOSED_ACCOUNT)),
              order(amount=9_000_000)]
    try:
        async with await SwitchClient.connect("127.0.0.1", app.port or 0, CLIENT_ID,
                                              CLIENT_SECRET) as client:
            for o in orders:
                await client.submit(o)
            for o in orders:
                await client.wait_final(o.client_order_id, timeout=10)
        # a wrong secret is logged as a failure, never with the secret
        with pytest.raises(SwitchError, match=r"AUTH_FAILED|unknown client"):
            await SwitchClient.connect("127.0.0.1", app.port or 0, CLIENT_ID,
                                       "wrong-secret-" + "y" * 16)
    finally:
        await app.stop()
        await sim.stop()
        configure_logging("WARNING", "text")
    lines = stream.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    states = [r for r in records if r.get("event") == "payment.state"]
    assert {(r["client_order_id"], r["to"]) for r in states} >= {
        (orders[0].client_order_id, "SETTLED"), (orders[1].client_order_id, "REJECTED"),
        (orders[2].client_order_id, "REJECTED")}
    assert all(r["payment_id"] and r["channel"] in (None, "IBPS") for r in states)
    text = stream.getvalue()
    for o in orders:
        for account in (o.debtor.account, o.creditor.account):
            assert account not in text, f"unmasked account {account} in the logs"
            assert "****" + account[-4:] in text
    assert CLIENT_SECRET not in text and "wrong-secret-" not in text
    assert any(r["level"] == "WARNING" and "authentication failed" in r["msg"] for r in records)
    logging.getLogger().handlers.clear()


def test_alert_rules_name_only_metrics_the_switch_exports() -> None:
    rules = yaml.safe_load((ROOT / "docs" / "alerts.yml").read_text())
    exported = set(re.findall(r'"(payswitch_[a-z_]+)"', (ROOT / "switch/metrics.py").read_text()
                              + (ROOT / "switch/ops_http.py").read_text()))
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert {"PayswitchPositionBelowThreshold", "PayswitchUnknownRising",
            "PayswitchChannelCircuitOpen", "PayswitchOutboxLag",
            "PayswitchRejectRateSpike"} <= set(alerts)
    for name, expr in alerts.items():
        for metric in re.findall(r"payswitch_[a-z_]+", expr):
            base = re.sub(r"_(total|count|sum|bucket)$", "", metric)
            assert base in exported, f"{name} uses {metric}, which the switch does not export"
