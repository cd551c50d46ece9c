"""What a hung async test was waiting on, printed before pytest-timeout ends the run.

pytest-timeout's thread method (pyproject.toml) dumps every thread's stack and exits; for an
async test that stack only says the event loop was waiting. This plugin prints, a few seconds
before, the stack of every task still pending on the test's loops: the await that never ended.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

_EARLIER_S = 5.0  # ahead of pytest-timeout's own dump and exit
_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_timers: dict[str, threading.Timer] = {}


def tracked(factory: LoopFactory) -> LoopFactory:
    """A loop factory whose loops this report can see."""

    def make() -> asyncio.AbstractEventLoop:
        loop = factory()
        _loops.add(loop)
        return loop

    return make


def _report(nodeid: str) -> None:
    out = sys.__stderr__ or sys.stderr
    out.write(f"\n+++ {nodeid} is about to time out; tasks still pending on its loops +++\n")
    # Read from this thread while the loop's thread is stuck in a wait: racy only if it is not.
    for loop in list(_loops):
        if loop.is_closed():
            continue
        for task in asyncio.all_tasks(loop):
            task.print_stack(limit=20, file=out)
    out.flush()


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> None:
    if settings.timeout and settings.timeout > 2 * _EARLIER_S:
        timer = threading.Timer(settings.timeout - _EARLIER_S, _report, (item.nodeid,))
        timer.daemon = True
        timer.start()
        _timers[item.nodeid] = timer
    # None: pytest-timeout's own hook sets its timer as well


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> None:
    timer = _timers.pop(item.nodeid, None)
    if timer is not None:
        timer.cancel()
