"""Hostile FIN text: every failure is an MtError with a stable code, and it comes fast."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages.mt import MtError, MTMessage, parse_mt
from tests.test_mt_codec import MT103_TEXT
from tests.test_mt_roundtrip import ALL

CODES = {"MT_BAD_BLOCK", "MT_BAD_FIELD", "MT_MISSING_FIELD", "MT_BAD_CHARSET", "MT_TOO_LARGE",
         "MT_UNSUPPORTED_TYPE"}


def code_of(text: str, **kw: int) -> str:
    with pytest.raises(MtError) as info:
        parse_mt(text, **kw)
    assert info.value.code in CODES
    return info.value.code


def test_every_truncation_fails_cleanly() -> None:
    last = len(MT103_TEXT) - len("{5:{CHK:123456789ABC}}")  # cut before: still a message
    codes = {code_of(MT103_TEXT[:cut]) for cut in range(last)}
    assert codes <= CODES
    assert "MT_BAD_BLOCK" in codes


@pytest.mark.parametrize(("text", "code"), [
    (MT103_TEXT.replace("{4:", "{4:{"), "MT_BAD_BLOCK"),  # unbalanced
    (MT103_TEXT.replace("-}{5:", "-}}{5:"), "MT_BAD_BLOCK"),
    (MT103_TEXT.replace("{3:{108:MUR1}", "{3:{108:{MUR1}"), "MT_BAD_BLOCK"),  # nests twice
    (MT103_TEXT.replace("JOHN DOE", "JOHN\tDOE"), "MT_BAD_CHARSET"),
    (MT103_TEXT.replace("JOHN DOE", "JOHN DÖE"), "MT_BAD_CHARSET"),
    (MT103_TEXT.replace("JOHN DOE", "JOHN @DOE"), "MT_BAD_CHARSET"),
    (MT103_TEXT.replace("JOHN DOE", "JOHN\x00DOE"), "MT_BAD_CHARSET"),
    (MT103_TEXT.replace("\r\n", "\n"), "MT_BAD_BLOCK"),  # LF-only line ends
    (MT103_TEXT.replace("MUR1", "MUR\x7f"), "MT_BAD_CHARSET"),
    ("{1:F01BANKBEBBAXXX0000000000}{2:I103BANKDEFFXXXXN}{4:\r\n-}{4:\r\n-}", "MT_BAD_BLOCK"),
])
def test_hostile_structure(text: str, code: str) -> None:
    assert code_of(text) == code


def test_oversized_input_is_refused_at_once() -> None:
    huge = MT103_TEXT + "{" * 50_000_000
    t0 = time.perf_counter()
    assert code_of(huge) == "MT_TOO_LARGE"
    assert time.perf_counter() - t0 < 0.05
    assert code_of(MT103_TEXT, max_size=100) == "MT_TOO_LARGE"


def test_worst_case_inside_the_limit_is_fast() -> None:
    # the largest accepted input built to make field regexes work hardest
    field = ":79:" + "\r\n".join(["A" * 50] * 35) + "\r\n"
    body = field * (60000 // len(field))
    text = ("{1:F01BANKBEBBAXXX0000000000}{2:I199BANKDEFFXXXXN}{4:\r\n:20:X\r\n" + body + "-}")
    t0 = time.perf_counter()
    assert code_of(text) == "MT_BAD_FIELD"  # only one :79: is allowed
    nasty = text.replace("A" * 50, "1" * 49 + ",", 1)
    code_of(nasty)
    assert time.perf_counter() - t0 < 0.5


def mutate(text: str, edits: list[tuple[int, str]]) -> str:
    for pos, piece in edits:
        pos %= len(text) + 1
        text = text[:pos] + piece + text[pos + 1 :]
    return text


@settings(max_examples=400, deadline=None)
@given(msg=st.one_of(*ALL.values()), data=st.data())
def test_mutations_give_a_message_or_an_mt_error(msg: MTMessage, data: st.DataObject) -> None:
    from messages.mt import build_mt

    text = build_mt(msg)
    edits = data.draw(st.lists(st.tuples(
        st.integers(0, len(text)),
        st.sampled_from(["", "{", "}", ":", "\r\n", "-", "/", "X", "9", ",", " ", "é", "\n",
                         ":20:", ":61:", "\r\n:86:A", "\r\n:71F:EUR1,"])), min_size=1, max_size=4))
    try:
        assert isinstance(parse_mt(mutate(text, edits)), MTMessage)
    except MtError as err:
        assert err.code in CODES
        assert str(err).startswith(err.code)
