"""Golden transcripts: what a scenario run did, normalised, and the readable diff of two.

A transcript holds, per order, its final state, reason, channel, fee, history and every frame of
the core-system protocol about it; every message that crossed an adapter<->simulator boundary,
grouped by the payments it was about (so the order of unrelated payments cannot matter); the
ledger's balances per account; and each channel's own books.

Values that differ from run to run become placeholders: a payment's id (also as the end-to-end
id, the 16-character SWIFT reference, the UnionPay RRN) ``{payment ORDER}``, its UETR
``{uetr ORDER}``; the adapters' message ids (random per process) ``{msg N}`` and ISO 8583 STANs
``{stan N}``, numbered in order of appearance within their group; the MAC ``{mac}``. Times come
from the virtual clock and stay as they are.

>>> v = Volatile()
>>> v.add_payment("A1", "0123456789abcdef0123456789abcdef", "7c5e7e4e-6a6b-4d8e-9d4c-1b2f3a4b5c6d")
>>> v.normalise("E2E 0123456789abcdef0123456789abcdef ref 0123456789abcde+", Numbering())
'E2E {payment A1} ref {payment A1:15}+'
>>> diff_transcripts({"ledger": {"vat-payable CNY": -94}}, {"ledger": {"vat-payable CNY": -95}})
['ledger vat-payable CNY: -94 -> -95']
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.unionpay import retrieval_reference
from bench.regress.fields import message_fields
from switch.journal import message_kind

__all__ = ["Numbering", "Volatile", "diff_transcripts", "dumps", "flatten", "group_name",
           "read_transcript", "write_transcript"]

# Adapter message ids: P + kind + 12 hex (random per process) + a 10-digit sequence.
_ADAPTER_MSG_ID = re.compile(r"\bP[A-Z][0-9a-f]{12}\d{10}\b")
_STAN, _ORIGINAL, _MAC = "011", "090", "128"  # field 90 holds the original's MTI and STAN


class Numbering:
    """Placeholders numbered in order of first appearance, within one group of messages."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], str] = {}
        self._count: dict[str, int] = {}

    def __call__(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._seen:
            self._count[kind] = self._count.get(kind, 0) + 1
            self._seen[key] = f"{{{kind} {self._count[kind]}}}"
        return self._seen[key]


class Volatile:
    """The run's volatile values (known once the run is over) and their placeholders."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}
        self.order_of_payment: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def add_payment(self, order_id: str, payment_id: str, uetr: str) -> None:
        self.order_of_payment[payment_id] = order_id
        self.known[payment_id] = f"{{payment {order_id}}}"
        self.known[payment_id[:15]] = f"{{payment {order_id}:15}}"  # SWIFT reference, 16x
        self.known[uetr] = f"{{uetr {order_id}}}"
        self.known[retrieval_reference(payment_id)] = f"{{rrn {order_id}}}"
        self._pattern = None

    def add_batch(self, name: str, batch_id: str, uetr: str) -> None:
        """A micro-payment batch: its id (also its payment's and end-to-end id) and UETR, by
        a name that is the same in every run (profile, payee, window, sequence)."""
        self.order_of_payment[batch_id] = f"batch {name}"
        self.known[batch_id] = f"{{batch {name}}}"
        self.known[batch_id[:15]] = f"{{batch {name}:15}}"
        self.known[uetr] = f"{{uetr batch {name}}}"
        self.known[retrieval_reference(batch_id)] = f"{{rrn batch {name}}}"
        self._pattern = None

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            values = sorted(self.known, key=len, reverse=True) or ["(?!)"]
            self._pattern = re.compile("|".join(re.escape(v) for v in values))
        return self._pattern

    def normalise(self, text: str, numbering: Numbering) -> str:
        text = self.pattern.sub(lambda m: self.known[m.group(0)], text)
        return _ADAPTER_MSG_ID.sub(lambda m: numbering("msg", m.group(0)), text)

    def orders_in(self, data: bytes) -> list[str]:
        """The orders whose payment ids appear in a message (for one the adapter did not
        attribute, such as a late duplicate reply)."""
        text = data.decode("latin-1")
        found = {self.order_of_payment[m.group(0)] for m in self.pattern.finditer(text)
                 if m.group(0) in self.order_of_payment}
        return sorted(found)

    def message(self, channel: str, direction: str, data: bytes, numbering: Numbering
                ) -> dict[str, Any]:
        fmt, fields = message_fields(data)
        out: dict[str, str] = {}
        for name, value in fields.items():
            if fmt == "iso8583" and name == _STAN:
                value = numbering("stan", value)
            elif fmt == "iso8583" and name == _ORIGINAL and len(value) >= 10:
                value = value[:4] + numbering("stan", value[4:10]) + value[10:]
            elif fmt == "iso8583" and name == _MAC:
                value = "{mac}"
            out[name] = self.normalise(value, numbering)
        return {"channel": channel, "dir": direction, "kind": message_kind(data),
                "fields": out}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys (the core-system frames' fields).

    >>> flatten({"seq": 1, "order": {"debtor": {"account": "62"}}})
    {'seq': 1, 'order.debtor.account': '62'}
    """
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            out.update(flatten(item, name + "."))
        else:
            out[name] = item
    return out


def write_transcript(path: Path, transcript: Mapping[str, Any]) -> None:
    path.write_text(dumps(transcript) + "\n", encoding="utf-8")


def dumps(value: Any, indent: str = "") -> str:
    """JSON for people and for git: one entry a line, a list of plain values on one line.

    >>> print(dumps({"a": [1, "x"], "b": {"c": None}}))
    {
     "a": [1, "x"],
     "b": {
      "c": null
     }
    }
    """
    inner = indent + " "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, inner)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in value) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


def read_transcript(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- the diff ---------------------------------------------------------------------------------

def diff_transcripts(golden: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Every difference, one readable line each, naming the order, message and field (XPath,
    MT tag or ISO 8583 field number), the state, or the ledger account."""
    out: list[str] = []
    gold_orders, new_orders = golden.get("orders", {}), actual.get("orders", {})
    for order_id in _keys(gold_orders, new_orders):
        g, a = gold_orders.get(order_id), new_orders.get(order_id)
        if g is None or a is None:
            out.append(f"order {order_id}: {'new' if g is None else 'missing'}")
            continue
        for key in ("state", "reason", "channel", "fee"):
            if g.get(key) != a.get(key):
                out.append(f"order {order_id} {key}: {g.get(key)} -> {a.get(key)}")
        out += _list_diff(f"order {order_id} history", g.get("history", []),
                          a.get("history", []), _history_line)
        out += _frames_diff(f"order {order_id} protocol", g.get("protocol", []),
                            a.get("protocol", []))
    gold_msgs, new_msgs = golden.get("messages", {}), actual.get("messages", {})
    for group in _keys(gold_msgs, new_msgs):
        out += _messages_diff(group, gold_msgs.get(group, []), new_msgs.get(group, []))
    out += _mapping_diff("ledger", golden.get("ledger", {}), actual.get("ledger", {}))
    if golden.get("ledger_balanced") != actual.get("ledger_balanced"):
        out.append(f"ledger balanced: {golden.get('ledger_balanced')} -> "
                   f"{actual.get('ledger_balanced')}")
    gold_ch, new_ch = golden.get("channels", {}), actual.get("channels", {})
    for channel in _keys(gold_ch, new_ch):
        out += _mapping_diff(f"{channel} books", flatten(gold_ch.get(channel, {})),
                             flatten(new_ch.get(channel, {})))
    return out


def _keys(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _mapping_diff(where: str, g: Mapping[str, Any], a: Mapping[str, Any]) -> list[str]:
    return [f"{where} {k}: {g.get(k, '(absent)')} -> {a.get(k, '(absent)')}"
            for k in _keys(g, a) if g.get(k) != a.get(k)]


def _history_line(row: list[Any]) -> str:
    state, reason, cause = row
    return f"{state}{' ' + reason if reason else ''} ({cause})"


def _list_diff(where: str, g: list[Any], a: list[Any], show: Any) -> list[str]:
    out = []
    for i in range(max(len(g), len(a))):
        if i >= len(g):
            out.append(f"{where} #{i + 1}: new {show(a[i])}")
        elif i >= len(a):
            out.append(f"{where} #{i + 1}: missing {show(g[i])}")
        elif g[i] != a[i]:
            out.append(f"{where} #{i + 1}: {show(g[i])} -> {show(a[i])}")
    return out


def _frames_diff(where: str, g: list[dict[str, Any]], a: list[dict[str, Any]]) -> list[str]:
    out = []
    for i in range(max(len(g), len(a))):
        if i >= len(g) or i >= len(a):
            frame = (a if i >= len(g) else g)[i]
            out.append(f"{where} #{i + 1}: {'new' if i >= len(g) else 'missing'} "
                       f"{frame.get('frame')} {frame.get('state', '')}".rstrip())
            continue
        name = f"{where} #{i + 1} {a[i].get('frame')}"
        out += _mapping_diff(name, g[i], a[i])
    return out


def _messages_diff(group: str, g: list[dict[str, Any]], a: list[dict[str, Any]]) -> list[str]:
    out = []
    for i in range(max(len(g), len(a))):
        if i >= len(g) or i >= len(a):
            m = (a if i >= len(g) else g)[i]
            out.append(f"messages [{group}] #{i + 1}: {'new' if i >= len(g) else 'missing'} "
                       f"{m['channel']} {m['dir']} {m['kind']}")
            continue
        head = f"messages [{group}] #{i + 1} {a[i]['channel']} {a[i]['dir']} {a[i]['kind']}"
        if (g[i]["channel"], g[i]["dir"], g[i]["kind"]) != (a[i]["channel"], a[i]["dir"],
                                                             a[i]["kind"]):
            out.append(f"messages [{group}] #{i + 1}: {g[i]['channel']} {g[i]['dir']} "
                       f"{g[i]['kind']} -> {a[i]['channel']} {a[i]['dir']} {a[i]['kind']}")
            continue
        out += _mapping_diff(head, g[i]["fields"], a[i]["fields"])
    return out


def group_name(order_ids: Iterable[str], channel: str) -> str:
    ids = sorted(set(order_ids))
    return "+".join(ids) if ids else f"{channel} (no payment)"
