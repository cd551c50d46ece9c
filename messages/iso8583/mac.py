"""MAC functions for field 128: a MAC function maps the bytes before the MAC field to 8 bytes.

`hmac_sha256_mac` is the default and a stand-in: the real UnionPay scheme (a DES/SM4-based MAC
under a MAC key exchanged at sign-on) belongs to the key-management layer, which supplies its own
function with the same signature.

>>> from messages.iso8583 import Message, UNIONPAY, decode, encode
>>> mac = hmac_sha256_mac(b"k" * 32)
>>> data = encode(Message("0800", {11: "000001", 70: "301"}), UNIONPAY, mac=mac)
>>> decode(data, UNIONPAY, mac=mac).get(128) == data[-8:]
True
>>> decode(data[:-1] + b"x", UNIONPAY, mac=mac)
Traceback (most recent call last):
...
messages.iso8583.errors.MacMismatch: ISO8583_MAC_MISMATCH at field 128, byte 29: MAC does not ...
"""

from __future__ import annotations

import hashlib
import hmac

from messages.iso8583.encoder import MacFunction

__all__ = ["MAC_SIZE", "hmac_sha256_mac"]

MAC_SIZE = 8


def hmac_sha256_mac(key: bytes) -> MacFunction:
    """HMAC-SHA256 under `key`, truncated to the 8 bytes of field 128 (stand-in, see above)."""
    if len(key) < 16:
        raise ValueError("MAC key must be at least 16 bytes")

    def mac(data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()[:MAC_SIZE]

    return mac
