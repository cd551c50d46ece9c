"""Injected time (DESIGN.md invariant 6): every cut-off, window and timeout reads a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that moves only when told to, so scenarios replay identically.

    >>> c = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    >>> c.advance(timedelta(minutes=5)).isoformat()
    '2026-03-02T09:05:00+00:00'
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with milliseconds, the one text form timestamps take in the store."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")
