"""Stable error codes of the switch's binary protocol (docs/protocol.md, "Error codes").

Codes are part of the wire contract: never rename one, only add.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # Fatal: the session is closed after the ERROR frame is sent.
    FRAME_TOO_LARGE = "FRAME_TOO_LARGE"
    FRAME_HEADER_INVALID = "FRAME_HEADER_INVALID"
    AUTH_FAILED = "AUTH_FAILED"
    AUTH_TIMEOUT = "AUTH_TIMEOUT"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    IDLE_TIMEOUT = "IDLE_TIMEOUT"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    AUTH_RATE_LIMITED = "AUTH_RATE_LIMITED"
    # Not fatal: the offending frame is answered and the session goes on.
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
    UNKNOWN_FRAME_TYPE = "UNKNOWN_FRAME_TYPE"
    MALFORMED_PAYLOAD = "MALFORMED_PAYLOAD"
    UNEXPECTED_FRAME = "UNEXPECTED_FRAME"
    WINDOW_EXCEEDED = "WINDOW_EXCEEDED"
    RETRY_LATER = "RETRY_LATER"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    NOT_AUTHORISED = "NOT_AUTHORISED"


FATAL = frozenset(
    {
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.FRAME_HEADER_INVALID,
        ErrorCode.AUTH_FAILED,
        ErrorCode.AUTH_TIMEOUT,
        ErrorCode.NOT_AUTHENTICATED,
        ErrorCode.IDLE_TIMEOUT,
        ErrorCode.SHUTTING_DOWN,
        ErrorCode.AUTH_RATE_LIMITED,
    }
)


class ConfigError(Exception):
    """Configuration that cannot run; names the key that is wrong."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
