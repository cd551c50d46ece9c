"""docs/protocol.md is enough to write a client: a minimal one, written from that page alone.

Nothing here imports switch.protocol, switch.client or fastpath: frames are built with struct,
payloads are plain dicts through msgspec.msgpack, the MAC with hmac/hashlib, and the frame type
codes are read out of the page's own table, so the page and this client cannot drift apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import struct
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.conftest import CLIENT_ID, CLIENT_SECRET, Rig

DOC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text(encoding="utf-8")
TIMEOUT = 5.0


def _frame_types(doc: str) -> dict[str, int]:
    """The frame type table of the page: | `NAME` | `0xNN` | ..."""
    found = re.findall(r"^\| `([A-Z_]+)` \| `0x([0-9A-Fa-f]{2})` \|", doc, re.MULTILINE)
    return {name: int(code, 16) for name, code in found}


T = _frame_types(DOC)
NAME = {code: name for name, code in T.items()}


def _block(marker: str, lang: str) -> str:
    m = re.search(rf"<!-- {marker} -->\s*```{lang}\n(.*?)```", DOC, re.DOTALL)
    assert m is not None, f"no {lang} block after <!-- {marker} --> in docs/protocol.md"
    return m.group(1)


def frame(ftype: int, payload: dict[str, Any], version: int = 1) -> bytes:
    body = msgspec.msgpack.encode(payload)
    return struct.pack(">IBB", 2 + len(body), version, ftype) + body


class Conn:
    """One session over asyncio streams: write frames, read (type name, payload dict)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, ftype: str, payload: dict[str, Any]) -> None:
        self.writer.write(frame(T[ftype], payload))
        await self.writer.drain()

    async def recv(self) -> tuple[str, dict[str, Any]]:
        header = await asyncio.wait_for(self.reader.readexactly(4), TIMEOUT)
        (length,) = struct.unpack(">I", header)
        rest = await asyncio.wait_for(self.reader.readexactly(length), TIMEOUT)
        version, ftype = rest[0], rest[1]
        assert version == 1
        payload = msgspec.msgpack.decode(rest[2:])
        assert isinstance(payload, dict)
        return NAME[ftype], payload

    async def reply(self) -> tuple[str, dict[str, Any]]:
        """The next frame that is not a STATUS push (pushes may interleave with replies)."""
        while True:
            kind, payload = await self.recv()
            if kind != "STATUS":
                return kind, payload

    async def expect_closed(self) -> None:
        assert await asyncio.wait_for(self.reader.read(), TIMEOUT) == b""

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def mac(secret: str, nonce: bytes, client_id: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), nonce + client_id.encode("utf-8"),
                    hashlib.sha256).digest()


async def login(port: int, secret: str = CLIENT_SECRET) -> tuple[Conn, dict[str, Any]]:
    conn = await Conn.open(port)
    kind, hello = await conn.recv()
    assert kind == "HELLO"
    assert hello["server"] == "payswitch" and hello["version"] == 1
    assert isinstance(hello["nonce"], bytes) and len(hello["nonce"]) == 32
    assert isinstance(hello["auth_timeout_s"], float) and hello["auth_timeout_s"] > 0
    await conn.send("AUTH", {"client_id": CLIENT_ID, "mac": mac(secret, hello["nonce"], CLIENT_ID)})
    return conn, hello


def an_order(client_order_id: str) -> dict[str, Any]:
    """Only the required fields; the optional ones take the page's defaults."""
    return {
        "client_order_id": client_order_id,
        "amount": 12_345,  # 123.45 CNY in fen
        "currency": "CNY",
        "debtor": {"account": "6217000000000001", "name": "张三", "agent": "102100099996"},
        "creditor": {"account": "6222000000000009", "name": "李四", "agent": "103100000026"},
    }


def test_worked_example_decodes_as_documented() -> None:
    wire = bytes.fromhex(_block("example-frame", "hex"))
    (length,) = struct.unpack(">I", wire[:4])
    assert length == len(wire) - 4 == 40
    assert (wire[4], wire[5]) == (1, T["QUERY"]) == (1, 0x13)
    expected = json.loads(_block("example-payload", "json"))
    assert msgspec.msgpack.decode(wire[6:]) == expected
    assert frame(T["QUERY"], expected) == wire  # and a dict encodes to exactly those bytes


async def test_handshake_submit_ack_and_status_until_final(rig: Rig) -> None:
    conn, hello = await login(rig.port)
    kind, ok = await conn.recv()
    assert kind == "AUTH_OK"
    assert (ok["window"], ok["heartbeat_s"]) == (hello["window"], hello["heartbeat_s"])
    assert (hello["max_frame"], hello["window"], hello["heartbeat_s"]) == (65536, 1000, 30)
    assert hello["auth_timeout_s"] == 10.0

    order = an_order("SPEC-ORDER-1")
    await conn.send("SUBMIT", {"seq": 1, "order": order})
    kind, ack = await conn.recv()
    assert kind == "ACK", ack
    assert (ack["seq"], ack["client_order_id"], ack["state"]) == (1, "SPEC-ORDER-1", "ACCEPTED")
    assert ack["duplicate"] is False and ack["final"] is False and ack["payment_id"]

    states: list[str] = []
    while True:
        kind, st = await conn.recv()
        assert kind == "STATUS", (kind, st)
        assert st["payment_id"] == ack["payment_id"]
        assert st["at"].endswith("+00:00")
        states.append(st["state"])
        if st["final"]:
            break
    assert states == ["ROUTED", "SUBMITTED", "SETTLED"]
    assert (st["channel"], st["fee"], st["reason"]) == ("IBPS", 30, None)

    # Idempotency: the same key again is the original answer, now final; nothing new is pushed.
    await conn.send("SUBMIT", {"seq": 2, "order": order})
    kind, dup = await conn.recv()
    assert kind == "ACK"
    assert (dup["seq"], dup["payment_id"], dup["state"]) == (2, ack["payment_id"], "SETTLED")
    assert dup["duplicate"] is True and dup["final"] is True

    # The worked example of the page, sent as it is, is a valid QUERY.
    await conn.send("HEARTBEAT", {"seq": 3})
    assert await conn.recv() == ("HEARTBEAT_ACK", {"seq": 3})
    conn.writer.write(bytes.fromhex(_block("example-frame", "hex")))
    kind, reply = await conn.recv()
    assert (kind, reply["seq"], reply["found"], reply["status"]) == ("QUERY_REPLY", 7, False, None)
    await conn.send("QUERY", {"seq": 8, "client_order_id": "SPEC-ORDER-1"})
    kind, reply = await conn.recv()
    assert (kind, reply["seq"], reply["found"]) == ("QUERY_REPLY", 8, True)
    assert reply["status"]["state"] == "SETTLED" and reply["status"]["final"] is True
    await conn.close()


async def test_unknown_field_in_order_is_malformed_ff01_without_ack(rig: Rig) -> None:
    conn, _ = await login(rig.port)
    assert (await conn.recv())[0] == "AUTH_OK"
    order = an_order("SPEC-UNKNOWN-1") | {"colour": "blue"}
    await conn.send("SUBMIT", {"seq": 41, "order": order})
    kind, err = await conn.recv()
    assert kind == "ERROR", err  # the only answer: no ACK before it
    assert (err["code"], err["seq"], err["fatal"], err["reason"]) == (
        "MALFORMED_PAYLOAD", 41, False, "FF01")
    # The session goes on, no ACK follows, and the order never became a payment.
    await conn.send("QUERY", {"seq": 42, "client_order_id": "SPEC-UNKNOWN-1"})
    kind, reply = await conn.recv()
    assert (kind, reply["seq"], reply["found"]) == ("QUERY_REPLY", 42, False)
    # Nothing was accepted, so the key is free: the corrected order is a new payment.
    await conn.send("SUBMIT", {"seq": 43, "order": an_order("SPEC-UNKNOWN-1")})
    kind, ack = await conn.recv()
    assert (kind, ack["seq"], ack["state"], ack["duplicate"]) == ("ACK", 43, "ACCEPTED", False)
    await conn.close()


async def test_reused_key_for_another_order_is_idempotency_conflict_am05(rig: Rig) -> None:
    conn, _ = await login(rig.port)
    assert (await conn.recv())[0] == "AUTH_OK"
    original = an_order("SPEC-CONFLICT-1")
    await conn.send("SUBMIT", {"seq": 1, "order": original})
    kind, ack = await conn.reply()
    assert (kind, ack["seq"], ack["state"]) == ("ACK", 1, "ACCEPTED"), ack

    await conn.send("SUBMIT", {"seq": 2, "order": original | {"amount": 99_999}})
    kind, err = await conn.reply()
    assert kind == "ERROR", err  # the only answer to seq 2: no ACK
    assert (err["code"], err["seq"], err["fatal"], err["reason"]) == (
        "IDEMPOTENCY_CONFLICT", 2, False, "AM05")
    assert ack["payment_id"] in err["message"]

    # The original is untouched: resending it still gets its duplicate ACK, and it is the
    # very next reply (nothing was sent for seq 2 besides the ERROR).
    await conn.send("SUBMIT", {"seq": 3, "order": original})
    kind, dup = await conn.reply()
    assert (kind, dup["seq"], dup["payment_id"], dup["duplicate"]) == (
        "ACK", 3, ack["payment_id"], True)
    await conn.send("QUERY", {"seq": 4, "client_order_id": "SPEC-CONFLICT-1"})
    kind, reply = await conn.reply()
    assert (kind, reply["seq"], reply["found"]) == ("QUERY_REPLY", 4, True)
    assert reply["status"]["payment_id"] == ack["payment_id"]
    await conn.close()


@pytest.mark.server(heartbeat_s=1)
async def test_client_answers_server_heartbeats_and_stays_connected(rig: Rig) -> None:
    loop = asyncio.get_running_loop()
    conn, hello = await login(rig.port)
    kind, ok = await conn.recv()
    assert kind == "AUTH_OK" and hello["heartbeat_s"] == ok["heartbeat_s"] == 1
    start = loop.time()
    # Send nothing but answers to the server's HEARTBEATs, past the point (4 periods after
    # AUTH_OK at the latest) where a silent client would have been closed with IDLE_TIMEOUT.
    seen: list[int] = []
    while not seen or loop.time() - start < 2.5:
        kind, hb = await conn.recv()
        assert kind == "HEARTBEAT", (kind, hb)
        assert isinstance(hb["seq"], int)
        seen.append(hb["seq"])
        await conn.send("HEARTBEAT_ACK", {"seq": hb["seq"]})
    assert len(seen) >= 2 and seen == sorted(set(seen))
    await asyncio.sleep(max(0.0, start + 4.3 - loop.time()))
    await conn.send("QUERY", {"seq": 9, "client_order_id": "SPEC-NOTHING"})
    while True:
        kind, msg = await conn.recv()
        if kind == "HEARTBEAT":
            await conn.send("HEARTBEAT_ACK", {"seq": msg["seq"]})
            continue
        assert kind == "QUERY_REPLY", (kind, msg)  # not an ERROR IDLE_TIMEOUT
        assert (msg["seq"], msg["found"]) == (9, False)
        break
    await conn.close()


async def test_heartbeat_before_auth_is_not_authenticated_and_closes(rig: Rig) -> None:
    conn = await Conn.open(rig.port)
    assert (await conn.recv())[0] == "HELLO"
    await conn.send("HEARTBEAT", {"seq": 1})
    kind, err = await conn.recv()
    assert kind == "ERROR"
    assert (err["code"], err["fatal"], err["seq"], err["reason"]) == (
        "NOT_AUTHENTICATED", True, None, None)
    await conn.expect_closed()
    await conn.close()


async def test_wrong_mac_is_auth_failed_and_closes(rig: Rig) -> None:
    conn, _ = await login(rig.port, secret="not-the-secret-at-all")
    kind, err = await conn.recv()
    assert kind == "ERROR"
    assert (err["code"], err["fatal"], err["seq"]) == ("AUTH_FAILED", True, None)
    await conn.expect_closed()
    await conn.close()
