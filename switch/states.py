"""Payment states and the transitions the state machine allows (DESIGN.md, "The payment order")."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    ROUTED = "ROUTED"
    SCHEDULED = "SCHEDULED"
    QUEUED_FOR_BATCH = "QUEUED_FOR_BATCH"
    BATCHED = "BATCHED"
    SUBMITTED = "SUBMITTED"
    UNKNOWN = "UNKNOWN"
    SETTLED = "SETTLED"
    REJECTED = "REJECTED"
    RETURNED = "RETURNED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset({State.SETTLED, State.REJECTED, State.RETURNED, State.CANCELLED})

_ALLOWED: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.ACCEPTED, State.REJECTED}),
    # ACCEPTED -> SCHEDULED without a channel: every channel that could take it has its
    # circuit open; it is routed again when one probes back.
    State.ACCEPTED: frozenset({State.ROUTED, State.SCHEDULED, State.REJECTED, State.CANCELLED}),
    State.ROUTED: frozenset(
        {State.SCHEDULED, State.QUEUED_FOR_BATCH, State.SUBMITTED, State.REJECTED, State.CANCELLED}
    ),
    State.SCHEDULED: frozenset({State.ROUTED, State.SUBMITTED, State.REJECTED, State.CANCELLED}),
    State.QUEUED_FOR_BATCH: frozenset({State.BATCHED, State.ROUTED, State.REJECTED}),
    State.BATCHED: frozenset({State.SUBMITTED, State.QUEUED_FOR_BATCH, State.REJECTED}),
    # SUBMITTED -> ROUTED only when the adapter proves nothing left the switch (ChannelError).
    State.SUBMITTED: frozenset({State.SETTLED, State.REJECTED, State.UNKNOWN, State.ROUTED}),
    # UNKNOWN is left only on the channel's word (status inquiry or reversal), never by a guess.
    State.UNKNOWN: frozenset({State.SETTLED, State.REJECTED, State.SUBMITTED}),
    State.SETTLED: frozenset({State.RETURNED}),
    State.REJECTED: frozenset(),
    State.RETURNED: frozenset(),
    State.CANCELLED: frozenset(),
}


def can_move(src: State, dst: State) -> bool:
    """Whether the state machine allows `src` -> `dst`.

    >>> can_move(State.SUBMITTED, State.SETTLED)
    True
    >>> can_move(State.REJECTED, State.SETTLED)
    False
    """
    return dst in _ALLOWED[src]
