"""Traffic replay: a recorded order file through the switch against the six simulators, at its
own pace times ``speed``, each order's outcome checked against the file's ``expected`` column.

The file is CSV with a header, or JSON lines (``.jsonl`` / ``.ndjson``). A row is an order:
``client_order_id`` (or ``id``), ``amount`` (minor units), ``currency``, and the parties as
``debtor_account``, ``debtor_name``, ``debtor_agent``, ``creditor_account``, ...
(``creditor_country``, ``creditor_lei``) or, in JSON, as ``debtor`` / ``creditor`` objects;
optional ``product``, ``urgency``, ``purpose``, ``remittance_info``, ``designated_channel``,
``charge_bearer``, ``requested_execution``. ``at`` is when it was sent: seconds from the start
or an ISO 8601 time with offset. ``expected``, when present and not empty, is the final state
and reason, e.g. ``SETTLED`` or ``REJECTED AC04``.

Business time starts at the first order's ``at`` (for offsets: ``start``, by default the
demo's working Monday at 10:00) and runs ``speed`` times wall speed, for the switch and the
simulators alike; the channels keep their own rules (BEPS nets every 30 minutes).

>>> row_order({"id": "O1", "amount": "150", "currency": "CNY", "debtor_account": "6217",
...            "debtor_name": "A", "debtor_agent": "102100099996", "creditor_account": "6222",
...            "creditor_name": "B", "creditor_agent": "103100000026"}).creditor.agent
'103100000026'
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from bench.loadgen import CLOSED_ACCOUNTS
from bench.regress.run import switch_config
from simulators.farm import Farm, farm_config, load_farm_faults
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import ShiftedClock
from switch.demo import DEMO_DAY
from switch.order import Order

__all__ = ["TrafficRow", "flat_row", "read_traffic", "replay_traffic", "row_order",
           "write_traffic"]

CLIENT_ID = "TRAFFIC-CORE"
_PARTY_FIELDS = ("account", "name", "agent", "country", "lei")
_ORDER_FIELDS = ("product", "business_type", "urgency", "purpose", "remittance_info",
                 "designated_channel", "charge_bearer", "requested_execution")


class TrafficRow(msgspec.Struct):
    order: Order
    at: float | datetime  # seconds from the start, or a time
    expected: str | None
    raw: dict[str, Any]


def row_order(row: dict[str, Any]) -> Order:
    """The order of one row (flat CSV columns or JSON objects)."""
    fields: dict[str, Any] = {
        "client_order_id": str(row.get("client_order_id") or row.get("id") or ""),
        "amount": int(row["amount"]), "currency": str(row["currency"])}
    for side in ("debtor", "creditor"):
        party = dict(row[side]) if isinstance(row.get(side), dict) else {}
        for key in _PARTY_FIELDS:
            value = row.get(f"{side}_{key}")
            if value not in (None, ""):
                party[key] = value
        fields[side] = party
    for key in _ORDER_FIELDS:
        if row.get(key) not in (None, ""):
            fields[key] = row[key]
    return msgspec.convert(fields, Order)


def _at(value: Any) -> float | datetime:
    if value in (None, ""):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        moment = datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            raise ValueError(f"at {value!r} needs a UTC offset") from None
        return moment


def read_traffic(path: Path) -> list[TrafficRow]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".jsonl", ".ndjson"):
        raws = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        raws = list(csv.DictReader(io.StringIO(text)))
    rows = []
    for n, raw in enumerate(raws, start=1):
        try:
            rows.append(TrafficRow(row_order(raw), _at(raw.get("at")),
                                   str(raw["expected"]).strip() or None
                                   if raw.get("expected") not in (None, "") else None, raw))
        except (KeyError, ValueError, msgspec.ValidationError) as exc:
            raise ValueError(f"{path}: row {n}: {exc}") from exc
    if len({r.order.client_order_id for r in rows}) != len(rows):
        raise ValueError(f"{path}: client_order_id values must be unique")
    return rows


def write_traffic(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows (flat dicts) as CSV, or JSON lines for .jsonl / .ndjson."""
    if path.suffix in (".jsonl", ".ndjson"):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                        encoding="utf-8")
        return
    columns = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def flat_row(order: Order, at: float, expected: str | None = None) -> dict[str, Any]:
    """An order as a flat traffic row."""
    raw = msgspec.to_builtins(order)
    row: dict[str, Any] = {"at": round(at, 3), "client_order_id": order.client_order_id,
                           "amount": order.amount, "currency": order.currency}
    for side in ("debtor", "creditor"):
        for key in _PARTY_FIELDS:
            if raw[side].get(key) is not None:
                row[f"{side}_{key}"] = raw[side][key]
    for key in _ORDER_FIELDS:
        if raw.get(key) is not None:
            row[key] = raw[key]
    if expected is not None:
        row["expected"] = expected
    return row


async def replay_traffic(rows: list[TrafficRow], *, speed: float, seed: int = 1,
                         faults: str | None = None, store_url: str | None = None,
                         timeout: float = 300.0, start: datetime | None = None
                         ) -> dict[str, Any]:
    """Send every row at its time (scaled by ``speed``); the outcome of each, and the rows
    whose outcome is not the expected one."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    absolute = [r.at for r in rows if isinstance(r.at, datetime)]
    start = min(absolute) if absolute else start or DEMO_DAY
    clock = ShiftedClock(start, anchor=time.time(), speed=speed)
    closed = {"closed_accounts": list(CLOSED_ACCOUNTS)}
    farm = Farm(clock, seed, configs=farm_config({"ibps": closed, "hvps": closed,
                                                  "beps": closed}),
                faults=load_farm_faults(faults))
    ports = await farm.start()
    secret = secrets.token_hex(16)
    config = switch_config(ports, {}, CLIENT_ID, secret)
    with tempfile.TemporaryDirectory(prefix="payswitch-traffic-") as tmp:
        app = SwitchApp(config, store_url=store_url or f"sqlite://{tmp}/traffic.db",
                        clock=clock)
        try:
            port = await app.start(port=0)
            client = await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, secret)
            outcome = await _send(client, rows, start, clock, timeout)
            await client.close()
        finally:
            await app.stop()
            await farm.stop()
    mismatches = [{"client_order_id": r.order.client_order_id, "expected": r.expected,
                   "got": outcome[r.order.client_order_id]}
                  for r in rows if r.expected is not None
                  and r.expected != outcome[r.order.client_order_id]]
    states: dict[str, int] = {}
    for got in outcome.values():
        state = got.split()[0]
        states[state] = states.get(state, 0) + 1
    return {"orders": len(rows), "checked": sum(r.expected is not None for r in rows),
            "mismatches": mismatches, "by_state": dict(sorted(states.items())),
            "outcomes": outcome, "speed": speed}


async def _send(client: SwitchClient, rows: list[TrafficRow], start: datetime,
                clock: ShiftedClock, timeout: float) -> dict[str, str]:
    def offset(row: TrafficRow) -> float:
        return (row.at - start).total_seconds() if isinstance(row.at, datetime) else row.at

    acks = []
    for row in sorted(rows, key=offset):
        due = clock.start + timedelta(seconds=offset(row))
        wait = (due - clock.now()).total_seconds() / clock.speed
        if wait > 0:
            await asyncio.sleep(wait)
        acks.append(asyncio.ensure_future(client.submit(row.order)))
    await asyncio.gather(*acks, return_exceptions=True)
    outcome = {}
    deadline = time.monotonic() + timeout
    for row in rows:
        coid = row.order.client_order_id
        try:
            status = await client.wait_final(coid, max(0.0, deadline - time.monotonic()))
            outcome[coid] = " ".join(x for x in (status.state, status.reason) if x)
        except Exception as exc:  # a timeout, or the session lost: reported, not raised
            current = client.statuses.get(coid)
            outcome[coid] = f"{current.state if current else 'NOT ACKNOWLEDGED'} (not final: " \
                            f"{type(exc).__name__})"
    return outcome
