"""MT and ISO 8583 codec micro-benchmarks: ``pytest bench/test_codecs_bench.py``.

The MT tokenizer runs on its Cython module and on the pure twin; the ISO 8583 codec beside
`pyiso8583` on the same message (both must produce the same bytes), so each group has its
baseline in the same run.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.iso8583 import sample_message
from bench.mt import _tokenize_all, mt103_texts
from fastpath import _mttok_py
from messages.iso8583 import UNIONPAY, decode, encode
from messages.iso8583.interop import pyiso8583_spec, to_pyiso8583


def _compiled() -> ModuleType | None:
    try:
        return importlib.import_module("fastpath._mttok")
    except ImportError:
        return None


MT_IMPLS = [pytest.param(_compiled(), id="cython",
                         marks=pytest.mark.skipif(_compiled() is None,
                                                  reason="fastpath._mttok not built")),
            pytest.param(_mttok_py, id="pure")]
TEXTS = mt103_texts(500)
MESSAGE = sample_message()
WIRE = encode(MESSAGE, UNIONPAY)


@pytest.mark.parametrize("impl", MT_IMPLS)
def test_mt_tokenize(benchmark: BenchmarkFixture, impl: ModuleType) -> None:
    benchmark.group = "mt-tokenize"
    benchmark.extra_info["messages"] = len(TEXTS)
    assert benchmark(_tokenize_all, impl, TEXTS) == len(TEXTS)


def test_iso8583_encode(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "iso8583-encode"
    assert benchmark(encode, MESSAGE, UNIONPAY) == WIRE


def test_iso8583_decode(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "iso8583-decode"
    assert benchmark(decode, WIRE, UNIONPAY) == MESSAGE


def _peer() -> ModuleType:
    return pytest.importorskip("iso8583")


def test_pyiso8583_encode(benchmark: BenchmarkFixture) -> None:
    peer, spec = _peer(), pyiso8583_spec(UNIONPAY)
    doc = to_pyiso8583(MESSAGE, UNIONPAY)
    benchmark.group = "iso8583-encode"
    wire, _ = benchmark(lambda: peer.encode(dict(doc), spec))
    assert bytes(wire) == WIRE


def test_pyiso8583_decode(benchmark: BenchmarkFixture) -> None:
    peer, spec = _peer(), pyiso8583_spec(UNIONPAY)
    benchmark.group = "iso8583-decode"
    doc, _ = benchmark(peer.decode, WIRE, spec)
    assert doc["t"] == MESSAGE.mti
