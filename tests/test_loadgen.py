"""The load generator: open loop at a fixed rate (latency from when each order was due),
closed loop with a window, several connections and processes, HDR histograms, bounded in
count and time, loopback only."""

from __future__ import annotations

import gc

import msgspec
import pytest

from bench.loadgen import LoadReport, LoadSpec, generate_load, no_gc_pauses, require_loopback
from tests.conftest import CLIENT_ID, CLIENT_SECRET, Rig


def _spec(rig: Rig, **fields: object) -> LoadSpec:
    return LoadSpec(port=rig.port, client_id=CLIENT_ID, secret=CLIENT_SECRET,
                    **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_open_loop_sends_on_schedule_and_stops_at_its_time_bound(rig: Rig) -> None:
    # 200/s for 0.5 s: orders due at 0, 5, ..., 495 ms, the one due at 500 ms is not sent
    report = await generate_load(_spec(rig, mode="open", rate=200, orders=10_000, seconds=0.5,
                                       connections=2, run="OL"))
    assert report.sent == 100
    assert report.acked == report.final == 100 and report.errors == 0
    figures = report.figures()
    assert 0 < figures["ack_p50_ms"] <= figures["ack_p99_ms"] <= figures["ack_max_ms"]
    assert figures["final_p50_ms"] >= figures["ack_p50_ms"]
    ack = LoadReport(ack_hist=report.ack_hist).figures()
    assert ack["ack_p99_ms"] == figures["ack_p99_ms"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_closed_loop_stops_at_its_count_bound(rig: Rig) -> None:
    report = await generate_load(_spec(rig, mode="closed", window=20, orders=150, seconds=60,
                                       connections=3, run="CL"))
    assert (report.sent, report.acked, report.final, report.errors) == (150, 150, 150, 0)
    assert report.samples[-1][1:] == (150, 150)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_processes_split_the_load_and_their_histograms_merge(rig: Rig) -> None:
    report = await generate_load(_spec(rig, mode="open", rate=400, orders=120, seconds=30,
                                       processes=2, connections=2, run="PL"))
    assert (report.sent, report.final, report.errors) == (120, 120, 0)
    assert report.figures()["final_p99_ms"] > 0
    again = msgspec.msgpack.decode(msgspec.msgpack.encode(report), type=LoadReport)
    assert again.figures() == report.figures()


def test_a_load_is_refused_off_loopback_and_without_a_rate() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LoadSpec(host="192.0.2.1", port=1, client_id="c", secret="s" * 16)
    with pytest.raises(ValueError, match="rate"):
        LoadSpec(port=1, client_id="c", secret="s" * 16, mode="open")
    with pytest.raises(ValueError, match="generator"):
        LoadSpec(port=1, client_id="c", secret="s" * 16, generator="lottery")
    require_loopback("::1")


def test_no_collection_pauses_the_load_while_it_is_measured() -> None:
    # a collection stops the load's loop, and its pause would count as the switch's latency
    collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    assert gc.isenabled()
    gc.callbacks.append(seen)
    try:
        with no_gc_pauses():
            assert collections == [2]  # what came before is collected first
            assert not gc.isenabled()
            cycles = []
            for _ in range(50_000):  # far past the youngest generation's threshold
                cycle: list[object] = []
                cycle.append(cycle)
                cycles.append(cycle)
            assert collections == [2]
        assert gc.isenabled()
        gc.disable()
        try:
            with pytest.raises(RuntimeError), no_gc_pauses():
                raise RuntimeError("a failed run")
            assert not gc.isenabled()  # left as it was found
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(seen)
