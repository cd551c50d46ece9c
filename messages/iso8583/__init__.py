"""ISO 8583:1987 codec for the UnionPay channel: formats as data (`specs`), codec as code.

>>> msg = Message("0800", {7: "0506093015", 11: "000001", 70: "301"})
>>> decode(encode(msg, UNIONPAY), UNIONPAY) == msg
True
>>> decode(encode(msg, UNIONPAY_BCD), UNIONPAY_BCD) == msg
True
"""

from messages.iso8583.decoder import decode
from messages.iso8583.encoder import MacFunction, encode
from messages.iso8583.errors import Iso8583Error, MacMismatch
from messages.iso8583.link import LinkReader
from messages.iso8583.mac import hmac_sha256_mac
from messages.iso8583.message import FieldValue, Message, mask_pan
from messages.iso8583.response_codes import RESPONSE_CODES, ResponseCode, response_code_for
from messages.iso8583.specs import (
    UNIONPAY,
    UNIONPAY_BCD,
    UNIONPAY_HEX_BITMAP,
    FieldSpec,
    Spec,
)
from messages.iso8583.unionpay import (
    FinancialRequest,
    FinancialResponse,
    NetworkManagement,
    Reversal,
    from_message,
    transmission_time,
)

__all__ = [
    "RESPONSE_CODES",
    "UNIONPAY",
    "UNIONPAY_BCD",
    "UNIONPAY_HEX_BITMAP",
    "FieldSpec",
    "FieldValue",
    "FinancialRequest",
    "FinancialResponse",
    "Iso8583Error",
    "LinkReader",
    "MacFunction",
    "MacMismatch",
    "Message",
    "NetworkManagement",
    "ResponseCode",
    "Reversal",
    "Spec",
    "decode",
    "encode",
    "from_message",
    "hmac_sha256_mac",
    "mask_pan",
    "response_code_for",
    "transmission_time",
]
