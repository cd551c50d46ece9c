"""FIN tokenizer: every test runs on the Cython module and on its pure twin."""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastpath._mttok_py as pure_impl
from fastpath.mttok import MtSyntaxError
from messages.mt import build_mt
from tests.test_mt_roundtrip import ALL
from tests.twins import twins

ROOT = Path(__file__).resolve().parent.parent

cython_impl, _pure, IMPLS, _CYTHON_MISSING = twins("mttok")


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = request.param
    return module


def both_impls() -> list[ModuleType]:
    """For property tests, which cannot take function-scoped fixtures."""
    return [m for m in (cython_impl, pure_impl) if m is not None]


B1 = "{1:F01BANKBEBBAXXX0000000000}"
B2 = "{2:I103BANKDEFFXXXXN}"
B3 = "{3:{108:MUR1}{121:8e0f1c2a-1b2c-4d3e-8f40-5a6b7c8d9e0f}}"
B4 = "{4:\r\n:20:REF-1\r\n:32A:240506EUR1234,56\r\n:50K:/123\r\nJOHN DOE\r\n:71A:SHA\r\n-}"
B5 = "{5:{CHK:123456789ABC}{PDE:}}"
MESSAGE = B1 + B2 + B3 + B4 + B5


def error_of(call: object) -> tuple[object, ...]:
    assert callable(call)
    with pytest.raises(MtSyntaxError) as info:
        call()
    err = info.value
    return err.code, err.offset, err.line, err.tag, err.reason


# --- good input ---------------------------------------------------------------------------


def test_tokenize_full_message(impl: ModuleType) -> None:
    blocks, fields = impl.tokenize(MESSAGE)
    assert [b[0] for b in blocks] == ["1", "2", "3", "4", "5"]
    assert blocks[0] == ("1", "F01BANKBEBBAXXX0000000000", 3)
    assert blocks[2][1] == "{108:MUR1}{121:8e0f1c2a-1b2c-4d3e-8f40-5a6b7c8d9e0f}"
    assert all(MESSAGE[off : off + len(content)] == content for _, content, off in blocks)
    assert fields == [
        ("20", "REF-1", 1),
        ("32A", "240506EUR1234,56", 2),
        ("50K", "/123\r\nJOHN DOE", 3),
        ("71A", "SHA", 5),
    ]


def test_subblocks(impl: ModuleType) -> None:
    assert impl.split_subblocks("{108:MUR1}{121:x}") == [("108", "MUR1"), ("121", "x")]
    assert impl.split_subblocks("") == []
    assert impl.split_subblocks("{PDE:}{S:a b}") == [("PDE", ""), ("S", "a b")]


def test_empty_block4_and_empty_value(impl: ModuleType) -> None:
    assert impl.split_fields("\r\n-") == []
    assert impl.split_fields("\r\n:20:\r\n-") == [("20", "", 1)]
    assert impl.split_fields("\r\n:20::x\r\n-") == [("20", ":x", 1)]


def test_no_block4_means_no_fields(impl: ModuleType) -> None:
    assert impl.tokenize(B1 + B2) == ([("1", B1[3:-1], 3), ("2", B2[3:-1], 32)], [])


def test_results_are_exact_str(impl: ModuleType) -> None:
    _, fields = impl.tokenize(MESSAGE)
    for tag, value, line in fields:
        assert type(tag) is str and type(value) is str and type(line) is int


# --- hostile input ------------------------------------------------------------------------

CASES = [
    # (text, code, offset, line, tag)
    ("", "MT_BAD_BLOCK", 0, 0, ""),
    ("x{1:}", "MT_BAD_BLOCK", 0, 0, ""),
    ("{1:abc", "MT_BAD_BLOCK", 0, 0, ""),  # truncated
    ("{1:a}}", "MT_BAD_BLOCK", 5, 0, ""),  # unbalanced
    ("{1:a}{2:b", "MT_BAD_BLOCK", 5, 0, ""),
    ("{:a}", "MT_BAD_BLOCK", 1, 0, ""),
    ("{1234:a}", "MT_BAD_BLOCK", 1, 0, ""),
    ("{1a}", "MT_BAD_BLOCK", 3, 0, ""),
    ("{1", "MT_BAD_BLOCK", 2, 0, ""),
    ("{3:{1:{2:x}}}", "MT_BAD_BLOCK", 6, 0, ""),
    ("{1:a\x00}", "MT_BAD_CHARSET", 4, 0, ""),
    ("{1:é}", "MT_BAD_CHARSET", 3, 0, ""),
    ("{4::20:X\r\n-}", "MT_BAD_BLOCK", 3, 0, ""),
    ("{4:\r\n:20:X\r\n}", "MT_BAD_BLOCK", 12, 0, ""),
    ("{4:\r\n:20:X-}", "MT_BAD_BLOCK", 11, 0, ""),
    ("{4:\r\nX\r\n-}", "MT_BAD_FIELD", 5, 1, ""),
    ("{4:\r\n:20:X\r\n\r\n-}", "MT_BAD_FIELD", 12, 2, "20"),
    ("{4:\r\n:2:X\r\n-}", "MT_BAD_FIELD", 5, 1, ""),
    ("{4:\r\n:20a:X\r\n-}", "MT_BAD_FIELD", 5, 1, ""),
    ("{4:\r\n:20:X\r\n-Y\r\n-}", "MT_BAD_FIELD", 12, 2, "20"),
    ("{4:\r\n:20:X\r\n:79:A\r\nB;\r\n-}", "MT_BAD_CHARSET", 20, 3, "79"),
    ("{4:\r\n:20:X\rY\r\n-}", "MT_BAD_CHARSET", 10, 1, "20"),
    ("{4:\r\n:20:X\nY\r\n-}", "MT_BAD_CHARSET", 10, 1, "20"),
    ("{4:\r\n:20:X{Y}\r\n-}", "MT_BAD_CHARSET", 10, 1, "20"),
    ("{4:\r\n:20:a_b\r\n-}", "MT_BAD_CHARSET", 10, 1, "20"),
]


@pytest.mark.parametrize(("text", "code", "offset", "line", "tag"), CASES)
def test_hostile_input(impl: ModuleType, text: str, code: str, offset: int, line: int,
                       tag: str) -> None:
    got = error_of(lambda: impl.tokenize(text))
    assert got[:4] == (code, offset, line, tag), got


@pytest.mark.parametrize(("content", "offset"), [
    ("x", 0), ("{", 1), ("{1", 2), ("{12:a", 0), ("{12:a{b}", 5), ("{:}", 1), ("{1:a}x", 5)])
def test_hostile_subblocks(impl: ModuleType, content: str, offset: int) -> None:
    code, got_offset, *_ = error_of(lambda: impl.split_subblocks(content, 100))
    assert (code, got_offset) == ("MT_BAD_BLOCK", 100 + offset)


def test_oversized_input_is_refused_without_scanning(impl: ModuleType) -> None:
    text = "{" * 5_000_000
    t0 = time.perf_counter()
    code, offset, *_ = error_of(lambda: impl.tokenize(text, 65536))
    assert (code, offset) == ("MT_TOO_LARGE", 65536)
    assert time.perf_counter() - t0 < 0.05
    assert impl.tokenize(MESSAGE, len(MESSAGE))[1]  # the limit itself is allowed


def test_deeply_nested_braces_fail_fast(impl: ModuleType) -> None:
    text = "{1:" + "{" * 60000
    t0 = time.perf_counter()
    assert error_of(lambda: impl.tokenize(text))[:2] == ("MT_BAD_BLOCK", 4)
    assert time.perf_counter() - t0 < 0.05


def test_not_str_is_a_type_error(impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        impl.tokenize(MESSAGE.encode())


def test_error_str_and_pickle() -> None:
    err = MtSyntaxError("MT_BAD_CHARSET", "character ';' is not allowed here", 22, 3, "79")
    assert str(err) == ("MT_BAD_CHARSET at offset 22 (block 4 line 3, field :79:): "
                        "character ';' is not allowed here")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.code, copy.offset, copy.line, copy.tag, str(copy)) == (
        err.code, err.offset, err.line, err.tag, str(err))


# --- properties: both twins, the same answers -----------------------------------------------

X_CHARS = "abcXYZ019/-?:().,'+ "
piece = st.one_of(
    st.sampled_from(["{", "}", "{1:", "{3:", "{4:\r\n", "\r\n-}", "\r\n", ":20:", ":32A:",
                     ":5:", "{121:", "{CHK:", "\r", "\n", "-", ":", "{4:", "}{", "é", "\x01"]),
    st.text(alphabet=X_CHARS, max_size=12),
)


def outcome(call: object) -> object:
    assert callable(call)
    try:
        return call()
    except MtSyntaxError as err:
        return (err.code, err.reason, err.offset, err.line, err.tag, str(err))


@settings(max_examples=1500, deadline=None)
@given(pieces=st.lists(piece, max_size=40), max_size=st.integers(0, 400))
def test_property_random_text_same_on_both(pieces: list[str], max_size: int) -> None:
    text = "".join(pieces)
    for fn in ("tokenize", "split_subblocks", "split_fields"):
        args = (text, max_size) if fn == "tokenize" else (text, 7)
        results = [outcome(functools.partial(getattr(m, fn), *args)) for m in both_impls()]
        assert all(r == results[0] for r in results), (fn, results)


field_st = st.tuples(
    st.from_regex(r"[0-9]{2}[A-Z]?", fullmatch=True),
    st.lists(st.text(alphabet=X_CHARS, min_size=1, max_size=20).filter(
        lambda s: s[0] not in ":-"), min_size=1, max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(fields=st.lists(field_st, max_size=12))
def test_property_well_formed_block4_comes_back(
        fields: list[tuple[str, list[str]]]) -> None:
    body = "".join(f":{tag}:" + "\r\n".join(lines) + "\r\n" for tag, lines in fields)
    text = B1 + "{4:\r\n" + body + "-}"
    expected, line = [], 1
    for tag, lines in fields:
        expected.append((tag, "\r\n".join(lines), line))
        line += len(lines)
    for impl in both_impls():
        assert impl.tokenize(text)[1] == expected, impl.__name__


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_property_mutated_messages_same_on_both(data: st.DataObject) -> None:
    text = build_mt(data.draw(st.one_of(*ALL.values())))
    for _ in range(data.draw(st.integers(0, 3))):
        pos = data.draw(st.integers(0, len(text)))
        text = text[:pos] + data.draw(piece) + text[pos + data.draw(st.integers(0, 3)):]
    results = [outcome(functools.partial(m.tokenize, text)) for m in both_impls()]
    assert all(r == results[0] for r in results), results


class _Str(str):
    pass


def test_only_exact_str(impl: ModuleType) -> None:
    for fn in (impl.tokenize, impl.split_blocks, impl.split_fields, impl.split_subblocks):
        for bad in (_Str(MESSAGE), MESSAGE.encode(), None):
            with pytest.raises(TypeError):
                fn(bad)


# --- selector -------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "expected"), [("1", "pure"), ("", None)])
def test_selector_honours_payswitch_pure(env: str, expected: str | None) -> None:
    if expected is None:
        expected = "pure" if cython_impl is None else "cython"
    code = ("import fastpath.mttok as f, fastpath._mttok_py as p; "
            "print(f.IMPLEMENTATION, f.tokenize is p.tokenize)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PAYSWITCH_PURE": env}, check=True).stdout.split()
    assert out == [expected, str(expected == "pure")]
