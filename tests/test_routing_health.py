"""Channel health: circuit breaker and rolling success rate, on injected time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.health import CircuitBreaker, SuccessWindow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COOL = timedelta(seconds=30)


def test_opens_after_n_consecutive_failures_only() -> None:
    cb = CircuitBreaker(failure_threshold=3, cool_down=COOL)
    cb.record_failure(T0)
    cb.record_failure(T0)
    cb.record_success(T0)  # the run is broken: count starts again
    cb.record_failure(T0)
    cb.record_failure(T0)
    assert cb.state(T0) == "closed" and cb.allows(T0)
    cb.record_failure(T0)
    assert cb.state(T0) == "open" and not cb.allows(T0)


def test_half_open_lets_one_probe_through_after_the_cool_down() -> None:
    cb = CircuitBreaker(failure_threshold=1, cool_down=COOL)
    cb.record_failure(T0)
    assert not cb.allows(T0 + COOL - timedelta(microseconds=1))
    probe_at = T0 + COOL
    assert cb.state(probe_at) == "half_open" and cb.allows(probe_at)
    cb.record_dispatch(probe_at)
    assert not cb.allows(probe_at)  # one probe at a time
    cb.record_success(probe_at + timedelta(seconds=1))
    assert cb.state(probe_at) == "closed" and cb.allows(probe_at)


def test_a_failed_probe_restarts_the_cool_down() -> None:
    cb = CircuitBreaker(failure_threshold=2, cool_down=COOL)
    cb.record_failure(T0)
    cb.record_failure(T0)
    probe_at = T0 + COOL
    cb.record_dispatch(probe_at)
    cb.record_failure(probe_at)
    assert cb.state(probe_at) == "open"
    assert cb.state(probe_at + COOL) == "half_open"


def test_dispatch_while_closed_changes_nothing() -> None:
    cb = CircuitBreaker()
    cb.record_dispatch(T0)
    assert cb.allows(T0) and not cb.probe_out


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        SuccessWindow(size=0)


@given(outcomes=st.lists(st.booleans(), max_size=60), size=st.integers(1, 20))
def test_success_window_is_the_rate_of_the_last_outcomes(outcomes: list[bool], size: int) -> None:
    w = SuccessWindow(size)
    for ok in outcomes:
        w.record(ok)
    last = outcomes[-size:]
    assert w.ppm() == (sum(last) * 1_000_000 // len(last) if last else 1_000_000)
