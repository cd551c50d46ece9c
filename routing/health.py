"""Channel health: a circuit breaker and a rolling success rate, fed outcomes and injected time.

Neither does I/O nor reads a clock of its own; the caller passes ``now`` from the switch's clock.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
>>> cb = CircuitBreaker(failure_threshold=2, cool_down=timedelta(seconds=30))
>>> cb.record_failure(t0); cb.record_failure(t0); cb.state(t0), cb.allows(t0)
('open', False)
>>> later = t0 + timedelta(seconds=30)
>>> cb.state(later), cb.allows(later)
('half_open', True)
>>> cb.record_success(later); cb.state(later)
'closed'
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Literal

__all__ = ["TECHNICAL_REASONS", "CircuitBreaker", "CircuitState", "SuccessWindow"]

CircuitState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive technical failures; after ``cool_down`` it
    lets one probe through (half-open); the probe's success closes it, its failure reopens it.

    Only definitive technical failures count: a timeout whose outcome is UNKNOWN is neither a
    success nor a failure until the status inquiry settles it.
    """

    def __init__(self, failure_threshold: int = 5,
                 cool_down: timedelta = timedelta(seconds=60)) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cool_down = cool_down
        self.failures = 0
        self.opened_at: datetime | None = None
        self.probe_out = False

    def state(self, now: datetime) -> CircuitState:
        if self.opened_at is None:
            return "closed"
        return "half_open" if now - self.opened_at >= self.cool_down else "open"

    def allows(self, now: datetime) -> bool:
        """May a payment go to the channel now? In half-open, only while no probe is out."""
        state = self.state(now)
        return state == "closed" or (state == "half_open" and not self.probe_out)

    def record_dispatch(self, now: datetime) -> None:
        """A payment was sent; in half-open it is the probe, and no other goes until it ends."""
        if self.state(now) == "half_open":
            self.probe_out = True

    def record_success(self, now: datetime) -> None:
        self.failures = 0
        self.opened_at = None
        self.probe_out = False

    def record_failure(self, now: datetime) -> None:
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.failure_threshold:
            self.opened_at = now  # a failed probe restarts the cool-down
        self.probe_out = False


class SuccessWindow:
    """Success rate over the last ``size`` definitive outcomes, in parts per million.

    >>> w = SuccessWindow(size=4)
    >>> for ok in (True, False, True, True, True):
    ...     w.record(ok)
    >>> w.ppm()  # the first success has left the window: F T T T
    750000
    >>> SuccessWindow(size=4).ppm()  # no history yet: assume the channel works
    1000000
    """

    def __init__(self, size: int = 100) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._outcomes: deque[bool] = deque(maxlen=size)
        self._ok = 0

    def record(self, ok: bool) -> None:
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            self._ok -= 1
        self._outcomes.append(ok)
        self._ok += ok

    def ppm(self) -> int:
        if not self._outcomes:
            return 1_000_000
        return self._ok * 1_000_000 // len(self._outcomes)


# ISO 20022 reasons that say the channel (or a bank behind it) failed technically, not that the
# payment itself is wrong: they count against the channel's health and allow a fallback route.
TECHNICAL_REASONS = frozenset({
    "AB05",  # timeout at the creditor agent
    "AB06",  # timeout at the instructed agent
    "AB07",  # offline agent
    "AB08",  # offline creditor agent
    "AB09",  # error at the creditor agent
    "AB10",  # error at the instructed agent
    "MS03",  # reason not specified (the channel's own malfunction)
    "TM01",  # after the channel's cut-off
})

