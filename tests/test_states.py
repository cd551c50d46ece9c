"""The payment state machine's graph (DESIGN.md, "The payment order" and invariants 2 and 3)."""

from __future__ import annotations

from collections import deque

import pytest

from switch.states import TERMINAL, State, can_move

STATES = list(State)


def successors(src: State, *, without: frozenset[State] = frozenset()) -> set[State]:
    return {dst for dst in STATES if dst not in without and can_move(src, dst)}


def reachable(src: State, *, without: frozenset[State] = frozenset()) -> set[State]:
    seen, todo = {src}, deque([src])
    while todo:
        for nxt in successors(todo.popleft(), without=without):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen - {src}


def test_terminal_states_are_the_documented_four() -> None:
    assert frozenset({State.SETTLED, State.REJECTED, State.RETURNED, State.CANCELLED}) == TERMINAL


@pytest.mark.parametrize("src", sorted(TERMINAL))
def test_terminal_states_allow_nothing_but_settled_to_returned(src: State) -> None:
    expected = {State.RETURNED} if src is State.SETTLED else set()
    assert successors(src) == expected


@pytest.mark.parametrize("src", [s for s in STATES if s not in TERMINAL])
def test_every_pending_state_can_reach_a_terminal_state(src: State) -> None:
    assert successors(src), f"{src} is a dead end"
    assert reachable(src) & TERMINAL, f"{src} can never finish"


def test_unknown_never_goes_straight_to_routed() -> None:
    assert not can_move(State.UNKNOWN, State.ROUTED)
    assert successors(State.UNKNOWN) <= {State.SETTLED, State.REJECTED, State.SUBMITTED}


def test_unknown_reaches_routed_only_through_submitted() -> None:
    """A reroute after UNKNOWN needs the channel's word first (back to SUBMITTED on NOT_FOUND)."""
    assert State.ROUTED not in reachable(State.UNKNOWN, without=frozenset({State.SUBMITTED}))


def test_no_state_returns_to_received_or_accepted() -> None:
    for src in STATES:
        assert not can_move(src, State.RECEIVED)
        assert not can_move(src, State.ACCEPTED) or src is State.RECEIVED


def test_settled_is_reached_only_from_the_channel_waiting_states() -> None:
    assert {s for s in STATES if can_move(s, State.SETTLED)} == {State.SUBMITTED, State.UNKNOWN}
    assert {s for s in STATES if can_move(s, State.RETURNED)} == {State.SETTLED}


def test_cancel_only_before_anything_left_the_switch() -> None:
    assert {s for s in STATES if can_move(s, State.CANCELLED)} <= {
        State.RECEIVED, State.ACCEPTED, State.ROUTED, State.SCHEDULED}


def test_no_self_loops() -> None:
    assert [s for s in STATES if can_move(s, s)] == []

