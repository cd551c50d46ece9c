"""The switch's binary protocol: frame types and MessagePack payloads (docs/protocol.md).

Framing itself (length prefix, version, type) is cut by fastpath.framescan; this module gives
each frame type its payload struct and one encoder and decoder per direction.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum

import msgspec

from fastpath.framescan import encode_frame
from switch.order import Order

VERSION = 1
NONCE_SIZE = 32


class FrameType(IntEnum):
    HELLO = 0x01  # server -> client, first frame of every session
    AUTH = 0x02  # client -> server
    AUTH_OK = 0x03  # server -> client
    SUBMIT = 0x10  # client -> server
    ACK = 0x11  # server -> client, one per SUBMIT
    STATUS = 0x12  # server -> client, pushed on every state change after the ACK
    QUERY = 0x13  # client -> server
    QUERY_REPLY = 0x14  # server -> client
    HEARTBEAT = 0x20  # either way
    HEARTBEAT_ACK = 0x21  # the answer to HEARTBEAT
    ALERT = 0x30  # server -> client, to operator sessions: a position crossed a threshold
    ERROR = 0x7F  # server -> client


class Hello(msgspec.Struct, frozen=True):
    server: str
    version: int
    nonce: bytes
    max_frame: int
    window: int
    heartbeat_s: int
    auth_timeout_s: float = 10.0


class Auth(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    client_id: str
    mac: bytes  # HMAC-SHA256(secret, nonce || client_id as UTF-8)


class AuthOk(msgspec.Struct, frozen=True):
    session_id: str
    window: int
    heartbeat_s: int


class Submit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seq: int  # the client's correlation number, echoed in the ACK
    order: Order


class Ack(msgspec.Struct, frozen=True):
    seq: int
    client_order_id: str
    state: str  # ACCEPTED, or REJECTED with a reason, or the current state of a duplicate
    payment_id: str | None = None
    reason: str | None = None
    duplicate: bool = False
    final: bool = False  # the state is terminal: this ACK is the last word on the order
    at: str | None = None  # when the payment entered `state`
    channel: str | None = None
    fee: int = 0
    expected_at: str | None = None  # QUEUED_FOR_BATCH: when its batch window closes


class Status(msgspec.Struct, frozen=True):
    payment_id: str
    client_order_id: str
    state: str
    at: str  # ISO 8601 UTC
    reason: str | None = None
    channel: str | None = None
    fee: int = 0
    final: bool = False
    expected_at: str | None = None  # QUEUED_FOR_BATCH: when its batch window closes


class Query(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seq: int
    client_order_id: str


class QueryReply(msgspec.Struct, frozen=True):
    seq: int
    found: bool
    status: Status | None = None


class Heartbeat(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seq: int


class Error(msgspec.Struct, frozen=True):
    code: str
    message: str
    seq: int | None = None  # the request it answers, when it answers one
    fatal: bool = False
    reason: str | None = None  # ISO 20022 reason code when an order is refused (FF01, AM05)


class Alert(msgspec.Struct, frozen=True):
    """A liquidity position crossed a threshold of the books (once per crossing)."""

    account: str  # e.g. clearing:HVPS
    currency: str
    threshold: str  # below / above
    limit: int  # minor units
    value: int  # the position after the entry that crossed it
    at: str  # when that entry was posted


PAYLOAD_TYPES: dict[FrameType, type[msgspec.Struct]] = {
    FrameType.HELLO: Hello,
    FrameType.AUTH: Auth,
    FrameType.AUTH_OK: AuthOk,
    FrameType.SUBMIT: Submit,
    FrameType.ACK: Ack,
    FrameType.STATUS: Status,
    FrameType.QUERY: Query,
    FrameType.QUERY_REPLY: QueryReply,
    FrameType.HEARTBEAT: Heartbeat,
    FrameType.HEARTBEAT_ACK: Heartbeat,
    FrameType.ALERT: Alert,
    FrameType.ERROR: Error,
}

_FRAME_OF: dict[type[msgspec.Struct], FrameType] = {
    Hello: FrameType.HELLO,
    Auth: FrameType.AUTH,
    AuthOk: FrameType.AUTH_OK,
    Submit: FrameType.SUBMIT,
    Ack: FrameType.ACK,
    Status: FrameType.STATUS,
    Query: FrameType.QUERY,
    QueryReply: FrameType.QUERY_REPLY,
    Alert: FrameType.ALERT,
    Error: FrameType.ERROR,
}

_encoder = msgspec.msgpack.Encoder()
DECODERS: dict[int, msgspec.msgpack.Decoder] = {
    int(t): msgspec.msgpack.Decoder(cls) for t, cls in PAYLOAD_TYPES.items()
}


def encode(msg: msgspec.Struct, ftype: FrameType | None = None) -> bytes:
    """One whole frame for a payload struct.

    >>> from fastpath.framescan import FrameScanner
    >>> FrameScanner().feed(encode(Heartbeat(seq=7), FrameType.HEARTBEAT))
    [(1, 32, b'\\x81\\xa3seq\\x07')]
    """
    kind = ftype if ftype is not None else _FRAME_OF[type(msg)]
    return encode_frame(int(kind), _encoder.encode(msg), VERSION)


def auth_mac(secret: bytes, nonce: bytes, client_id: str) -> bytes:
    """The client's proof of its secret, bound to this session's nonce and its own id."""
    return hmac.new(secret, nonce + client_id.encode(), hashlib.sha256).digest()
