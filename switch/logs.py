"""Structured logs: JSON lines, one event per state change or error, never a secret or a full
account number.

Every record becomes one JSON object: ``ts``, ``level``, ``logger``, ``msg``, and the
record's ``fields`` (``log.info("state", extra={"fields": {...}})``). Account numbers are masked
where they are known to be accounts (`mask_account`, in the fields the engine writes) and, as a
second line of defence, wherever a run of 12-19 digits stands alone in any text; passwords in
URLs and ``secret=`` / ``password=`` values are redacted.

>>> mask_account("6222020000000000001")
'****0001'
>>> scrub("debtor 6217000000000001 paid, dsn postgresql://app:hunter2@db/x secret=abc")
'debtor ****0001 paid, dsn postgresql://app:***@db/x secret=***'
>>> scrub("payment 3f2a9c1d0b4e4f7a8c6d5e4f3a2b1c0d and bank code 102100099996")
'payment 3f2a9c1d0b4e4f7a8c6d5e4f3a2b1c0d and bank code ****9996'
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

__all__ = ["EVENTS", "JsonFormatter", "configure_logging", "mask_account", "scrub"]

# The logger of business events (one line per state change); its level gates their cost.
EVENTS = logging.getLogger("payswitch.events")

_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{12,19}(?![0-9A-Za-z])")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)")
_SECRET_VALUE = re.compile(r"(?i)\b(secret|password|passwd|mac_key|key)=([^\s&,;]+)")


def mask_account(account: str | None) -> str | None:
    """Only the last four characters of an account number are ever shown."""
    if account is None:
        return None
    return "****" + account[-4:] if len(account) > 4 else "****"


def scrub(text: str) -> str:
    """Mask account-like digit runs and redact passwords and secrets in free text."""
    text = _DIGITS.sub(lambda m: "****" + m.group(0)[-4:], text)
    text = _URL_PASSWORD.sub(r"\1***\2", text)
    return _SECRET_VALUE.sub(r"\1=***", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the message and every text field scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                out[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    """The human format, scrubbed the same way."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return scrub(text)


def configure_logging(level: str = "WARNING", fmt: str = "text",
                      stream: IO[str] | None = None) -> None:
    """Set the root handler once: ``fmt`` "json" for JSON lines, "text" for people."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "text":
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        raise ValueError(f"log format must be json or text, not {fmt!r}")
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
