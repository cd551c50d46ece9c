"""Injected time (DESIGN.md invariant 6): every cut-off, window and timeout reads a Clock.

A clock also keeps the timers of business time (reply deadlines, retries, windows, netting
sessions), so a scenario on a `VirtualClock` replays identically and a day of cut-offs runs as
fast as the test advances it. Network liveness (heartbeats, reconnect backoff) stays on the
event loop's own time: a socket does not care what day the books think it is.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

__all__ = ["Clock", "ShiftedClock", "SystemClock", "Timer", "VirtualClock", "iso", "parse_clock"]


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Call ``fn(*args)`` once ``delay_s`` seconds of this clock's time have passed."""
        ...


class SystemClock:
    """Wall-clock time, always timezone-aware UTC; timers on the running event loop."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return asyncio.get_running_loop().call_later(max(delay_s, 0.0), fn, *args)


class ShiftedClock:
    """Wall-clock time moved to another moment (and optionally sped up), for demos and
    standalone simulators that must agree on one business day across processes.

    ``anchor`` is the Unix time at which this clock reads ``start``; processes given the same
    start and anchor read the same time.

    >>> c = ShiftedClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), anchor=time.time())
    >>> (c.now() - datetime(2026, 3, 2, 2, 0, tzinfo=UTC)) < timedelta(seconds=5)
    True
    """

    def __init__(self, start: datetime, *, anchor: float, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ShiftedClock needs a timezone-aware start")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.anchor = anchor
        self.speed = speed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return asyncio.get_running_loop().call_later(max(delay_s, 0.0) / self.speed, fn, *args)

    def spec(self) -> str:
        """The text `parse_clock` reads back: how to hand this clock to another process."""
        return f"{self.start.isoformat()}@{self.anchor!r}x{self.speed!r}"


class _VirtualTimer:
    __slots__ = ("args", "cancelled", "fn")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock that moves only when told to, so scenarios replay identically.

    Its timers fire, in time order, when `advance` or `set` moves the clock past them.

    >>> c = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    >>> fired = []
    >>> _ = c.call_later(60, fired.append, "a minute")
    >>> c.advance(timedelta(minutes=5)).isoformat(), fired
    ('2026-03-02T09:05:00+00:00', ['a minute'])
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._now = start
        self._timers: list[tuple[datetime, int, _VirtualTimer]] = []
        self._seq = itertools.count()  # equal deadlines fire in the order they were set

    def now(self) -> datetime:
        return self._now

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self._now + timedelta(seconds=max(delay_s, 0.0)), fn, *args)

    def call_at(self, when: datetime, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = _VirtualTimer(fn, args)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    def advance(self, delta: timedelta) -> datetime:
        self.set(self._now + delta)
        return self._now

    def set(self, when: datetime) -> None:
        """Move to ``when``, firing every timer due by then at its own time, in order."""
        while self._timers and self._timers[0][0] <= when:
            due, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, due)
            timer.fn(*timer.args)
        self._now = when

    @property
    def next_timer(self) -> datetime | None:
        """When the next live timer fires (None: none set)."""
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None


def parse_clock(spec: str | None) -> Clock:
    """A clock from its text: empty for the system clock, else `ShiftedClock.spec()` text
    ``START@ANCHOR[xSPEED]`` (START ISO 8601 with offset, ANCHOR Unix seconds).

    >>> parse_clock("2026-03-02T10:00:00+08:00@1700000000.0x2.0").speed
    2.0
    >>> parse_clock("tomorrow")
    Traceback (most recent call last):
    ...
    ValueError: clock must be START@ANCHOR[xSPEED], e.g. 2026-03-02T10:00:00+08:00@1767225600
    """
    if not spec:
        return SystemClock()
    try:
        start, _, rest = spec.partition("@")
        anchor, _, speed = rest.partition("x")
        return ShiftedClock(datetime.fromisoformat(start), anchor=float(anchor),
                            speed=float(speed) if speed else 1.0)
    except ValueError:
        raise ValueError("clock must be START@ANCHOR[xSPEED], "
                         "e.g. 2026-03-02T10:00:00+08:00@1767225600") from None


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with milliseconds, the one text form timestamps take in the store."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")
