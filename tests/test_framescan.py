"""Frame scanner: every test runs on the Cython module and on its pure twin."""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastpath._framescan_py as pure_impl
from fastpath.errors import FrameError, FrameHeaderInvalid, FrameTooLarge
from tests.twins import twins

ROOT = Path(__file__).resolve().parent.parent

cython_impl, _pure, IMPLS, _CYTHON_MISSING = twins("framescan")

Frame = tuple[int, int, bytes]


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = request.param
    return module


def both_impls() -> list[ModuleType]:
    """For property tests, which cannot take function-scoped fixtures."""
    return [m for m in (cython_impl, pure_impl) if m is not None]


def header(length: int, version: int = 1, ftype: int = 0) -> bytes:
    return length.to_bytes(4, "big") + bytes([version, ftype])


# --- encode_frame -------------------------------------------------------------------------


def test_encode_frame_layout(impl: ModuleType) -> None:
    assert impl.HEADER_SIZE == 6
    assert impl.encode_frame(5, b"abc") == b"\x00\x00\x00\x05\x01\x05abc"
    assert impl.encode_frame(255, b"", version=9) == b"\x00\x00\x00\x02\x09\xff"
    assert impl.encode_frame(1, bytearray(b"xy")) == b"\x00\x00\x00\x04\x01\x01xy"
    assert impl.encode_frame(1, memoryview(b"xy")) == b"\x00\x00\x00\x04\x01\x01xy"


@pytest.mark.parametrize(("ftype", "version"), [(-1, 1), (256, 1), (1, -1), (1, 256)])
def test_encode_frame_rejects_out_of_range(impl: ModuleType, ftype: int, version: int) -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.255"):
        impl.encode_frame(ftype, b"", version=version)


# --- scanning -----------------------------------------------------------------------------


def test_single_frame(impl: ModuleType) -> None:
    scanner = impl.FrameScanner()
    assert scanner.feed(impl.encode_frame(7, b"payload", version=3)) == [(3, 7, b"payload")]
    assert (scanner.offset, scanner.buffered) == (13, 0)


def test_many_frames_in_one_chunk(impl: ModuleType) -> None:
    frames = [(1, i % 256, bytes([i % 251]) * (i % 300)) for i in range(500)]
    wire = b"".join(impl.encode_frame(t, p, version=v) for v, t, p in frames)
    scanner = impl.FrameScanner()
    assert scanner.feed(wire) == frames
    assert (scanner.offset, scanner.buffered) == (len(wire), 0)


def test_payload_is_bytes_for_every_input_type(impl: ModuleType) -> None:
    wire = impl.encode_frame(1, b"abc") * 2
    for data in (wire, bytearray(wire), memoryview(wire)):
        scanner = impl.FrameScanner()
        first = scanner.feed(data[:12])  # first frame from the direct path, second buffered
        second = scanner.feed(data[12:])
        assert first + second == [(1, 1, b"abc")] * 2
        assert all(type(p) is bytes for _, _, p in first + second)


def test_frame_split_at_every_byte_position(impl: ModuleType) -> None:
    wire = impl.encode_frame(9, bytes(range(40))) + impl.encode_frame(2, b"tail")
    expected = [(1, 9, bytes(range(40))), (1, 2, b"tail")]
    for cut in range(len(wire) + 1):
        scanner = impl.FrameScanner()
        got = scanner.feed(wire[:cut])
        assert scanner.buffered + scanner.offset == cut
        got += scanner.feed(wire[cut:])
        assert got == expected, cut
        assert (scanner.offset, scanner.buffered) == (len(wire), 0)


def test_byte_at_a_time(impl: ModuleType) -> None:
    wire = impl.encode_frame(1, b"x" * 10) + impl.encode_frame(2, b"")
    scanner = impl.FrameScanner()
    got: list[Frame] = []
    for i in range(len(wire)):
        got += scanner.feed(wire[i : i + 1])
    assert got == [(1, 1, b"x" * 10), (1, 2, b"")]


def test_empty_payload_and_empty_feed(impl: ModuleType) -> None:
    scanner = impl.FrameScanner()
    assert scanner.feed(b"") == []
    assert scanner.feed(impl.encode_frame(4, b"")) == [(1, 4, b"")]
    assert scanner.feed(b"") == []
    assert (scanner.offset, scanner.buffered) == (6, 0)


def test_version_and_type_are_not_judged(impl: ModuleType) -> None:
    scanner = impl.FrameScanner()
    assert scanner.feed(header(3, version=0, ftype=255) + b"z") == [(0, 255, b"z")]


def test_offset_and_buffered_bookkeeping(impl: ModuleType) -> None:
    scanner = impl.FrameScanner()
    frame = impl.encode_frame(1, b"0123456789")  # 16 bytes
    assert scanner.feed(frame[:3]) == []
    assert (scanner.offset, scanner.buffered) == (0, 3)
    assert scanner.feed(frame[3:10]) == []
    assert (scanner.offset, scanner.buffered) == (0, 10)
    assert scanner.feed(frame[10:] + frame[:5]) == [(1, 1, b"0123456789")]
    assert (scanner.offset, scanner.buffered) == (16, 5)
    assert scanner.feed(frame[5:]) == [(1, 1, b"0123456789")]
    assert (scanner.offset, scanner.buffered) == (32, 0)


def test_exactly_max_frame_accepted(impl: ModuleType) -> None:
    scanner = impl.FrameScanner(max_frame=100)
    payload = b"p" * 98  # LENGTH = 100
    assert scanner.feed(impl.encode_frame(1, payload)) == [(1, 1, payload)]


@pytest.mark.parametrize("split", [None, 2, 5, 30])
def test_max_frame_plus_one_raises_too_large(impl: ModuleType, split: int | None) -> None:
    good = impl.encode_frame(1, b"ok")  # 8 bytes, so the bad header sits at offset 8
    wire = good + impl.encode_frame(1, b"p" * 99)  # LENGTH = 101
    scanner = impl.FrameScanner(max_frame=100)
    chunks = [wire] if split is None else [wire[: len(good) + split], wire[len(good) + split :]]
    with pytest.raises(FrameTooLarge) as info:
        for chunk in chunks:
            scanner.feed(chunk)
    err = info.value
    assert (err.code, err.offset, err.length, err.max_frame) == ("FRAME_TOO_LARGE", 8, 101, 100)
    assert "stream offset 8" in str(err)
    # frames cut before the bad header in the failing feed ride on the error
    assert err.frames == ([(1, 1, b"ok")] if split is None or split >= 4 else [])
    assert (scanner.offset, scanner.buffered) == (8, 0)


def test_too_large_detected_from_the_length_field_alone(impl: ModuleType) -> None:
    scanner = impl.FrameScanner(max_frame=10)
    assert scanner.feed(b"\x00\x00") == []
    with pytest.raises(FrameTooLarge):
        scanner.feed(b"\x00\x0b")  # no VERSION/TYPE/payload yet: LENGTH 11 suffices


@pytest.mark.parametrize("length", [0, 1])
def test_length_below_two_raises_header_invalid(impl: ModuleType, length: int) -> None:
    scanner = impl.FrameScanner()
    with pytest.raises(FrameHeaderInvalid) as info:
        scanner.feed(impl.encode_frame(1, b"abc") + length.to_bytes(4, "big"))
    err = info.value
    assert (err.code, err.offset, err.length) == ("FRAME_HEADER_INVALID", 9, length)
    assert isinstance(err, FrameError)


def test_poisoned_after_error(impl: ModuleType) -> None:
    scanner = impl.FrameScanner()
    with pytest.raises(FrameHeaderInvalid) as first:
        scanner.feed(impl.encode_frame(1, b"a") + header(1))
    assert first.value.frames == [(1, 1, b"a")]
    for data in (impl.encode_frame(1, b"fine"), b""):
        with pytest.raises(FrameHeaderInvalid) as again:
            scanner.feed(data)
        assert (again.value.code, again.value.offset, again.value.length) == (
            "FRAME_HEADER_INVALID", 7, 1)
        assert again.value.frames == []  # already handed over with the first error
    assert (scanner.offset, scanner.buffered) == (7, 0)


@pytest.mark.parametrize("bad", [0, 1, -5])
def test_max_frame_below_two_rejected(impl: ModuleType, bad: int) -> None:
    with pytest.raises(ValueError, match="max_frame"):
        impl.FrameScanner(max_frame=bad)


def test_max_frame_above_u32_is_clamped(impl: ModuleType) -> None:
    scanner = impl.FrameScanner(max_frame=1 << 40)
    assert scanner.max_frame == 0xFFFFFFFF
    assert scanner.feed(header(0xFFFFFFFF)) == []  # buffers what came, not the announced 4 GiB
    assert scanner.buffered == 6


def test_large_frame_across_many_chunks(impl: ModuleType) -> None:
    payload = bytes(range(256)) * 1000
    wire = impl.encode_frame(3, payload) + impl.encode_frame(4, b"after")
    scanner = impl.FrameScanner(max_frame=len(payload) + 2)
    got: list[Frame] = []
    for i in range(0, len(wire), 1500):
        got += scanner.feed(wire[i : i + 1500])
    assert got == [(1, 3, payload), (1, 4, b"after")]


def test_errors_pickle_round_trip() -> None:
    for err in (FrameTooLarge(3, 99, 10), FrameHeaderInvalid(4, 1)):
        err.frames = [(1, 2, b"x")]
        copy = pickle.loads(pickle.dumps(err))
        assert (type(copy), str(copy), copy.offset, copy.length, copy.frames) == (
            type(err), str(err), err.offset, err.length, err.frames)


# --- properties ---------------------------------------------------------------------------

frames_st = st.lists(
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300)), max_size=40)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=300, deadline=None)
@given(frames=frames_st, points=st.lists(st.integers(0, 1 << 16), max_size=30))
def test_property_encoded_frames_come_back(frames: list[Frame], points: list[int]) -> None:
    for impl in both_impls():
        wire = b"".join(impl.encode_frame(t, p, version=v) for v, t, p in frames)
        scanner = impl.FrameScanner(max_frame=302)
        got: list[Frame] = []
        for chunk in cut(wire, points):
            got += scanner.feed(chunk)
        assert got == frames, impl.__name__
        assert (scanner.offset, scanner.buffered) == (len(wire), 0)


# byte soup biased towards small LENGTH fields (0, 1, around max_frame) so both errors and
# frames occur, mixed with raw noise
soup_piece = st.one_of(
    st.binary(max_size=12),
    st.builds(lambda n, rest: n.to_bytes(4, "big") + rest,
              st.integers(0, 40), st.binary(max_size=40)),
)


def run(impl: ModuleType, chunks: list[bytes], max_frame: int) -> tuple[object, ...]:
    scanner = impl.FrameScanner(max_frame=max_frame)
    got: list[Frame] = []
    outcome: tuple[object, ...] = ()
    for chunk in chunks:
        try:
            got += scanner.feed(chunk)
        except FrameError as err:
            outcome = (type(err), err.code, err.offset, err.length, str(err))
            got += err.frames
            return got, outcome, scanner.offset, scanner.buffered, err.frames
    return got, outcome, scanner.offset, scanner.buffered, None


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(soup_piece, max_size=30),
       points=st.lists(st.integers(0, 1 << 12), max_size=20), max_frame=st.integers(2, 48))
def test_property_byte_soup_same_on_both(pieces: list[bytes], points: list[int],
                                         max_frame: int) -> None:
    chunks = cut(b"".join(pieces), points)
    results = [run(impl, chunks, max_frame) for impl in both_impls()]
    assert all(r == results[0] for r in results)
    # and against the whole stream in one go: chunking changes only which feed returns a frame
    assert run(pure_impl, [b"".join(pieces)], max_frame)[:3] == results[0][:3]


# --- selector -------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "expected"), [("1", "pure"), ("", None)])
def test_selector_honours_payswitch_pure(env: str, expected: str | None) -> None:
    if expected is None:
        expected = "pure" if cython_impl is None else "cython"
    code = ("import fastpath.framescan as f, fastpath._framescan_py as p; "
            "print(f.IMPLEMENTATION, f.FrameScanner is p.FrameScanner)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PAYSWITCH_PURE": env}, check=True).stdout.split()
    assert out == [expected, str(expected == "pure")]
