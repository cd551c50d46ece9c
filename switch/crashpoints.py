"""Crash points: the places where the crash harness (`python -m bench.crash`) may kill the
switch on purpose, so that a run kills it at every moment that matters, not only at random.

A process started with ``PAYSWITCH_CRASH_AT=<point>:<n>`` kills itself with SIGKILL the n-th
time it reaches ``<point>``; without the variable `reach` costs one comparison. The points:

- ``commit``: a group commit is durable, but no ack, status push or channel send has happened;
- ``send``: a payment has been written to its channel, before any answer;
- ``post``: the accounting worker committed a page of entries, before it reads the next;
- ``batch``: a micro-payment batch is closed (members frozen, its payment ROUTED), not sent.
"""

from __future__ import annotations

import os
import signal

__all__ = ["POINTS", "reach"]

POINTS = ("commit", "send", "post", "batch")


def _armed() -> tuple[str, int] | None:
    spec = os.environ.get("PAYSWITCH_CRASH_AT")
    if not spec:
        return None
    point, _, count = spec.partition(":")
    if point not in POINTS or not count.isdigit() or int(count) < 1:
        raise ValueError(f"PAYSWITCH_CRASH_AT must be <{'|'.join(POINTS)}>:<n >= 1>, not {spec!r}")
    return point, int(count)


_ARMED = _armed()
_hits = 0


def reach(point: str) -> None:
    """Die here if this is the armed point's n-th hit."""
    global _hits
    if _ARMED is None or _ARMED[0] != point:
        return
    _hits += 1
    if _hits == _ARMED[1]:
        os.kill(os.getpid(), signal.SIGKILL)
