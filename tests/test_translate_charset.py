"""UTF-8 -> SWIFT X: transliteration of Latin accents, '.' for the rest, every change reported."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from messages.translate import is_x, to_x
from messages.translate._losses import Losses, cut, wrap
from messages.translate._model import RULE_CHARSET, RULE_LINE_START, RULE_TRUNCATE


def test_latin_accents_are_transliterated() -> None:
    assert to_x("Ærøskøbing Straße Łódź Ñandú Çà")[0] == "AEroskobing Strasse Lodz Nandu Ca"


def test_everything_else_becomes_a_dot_and_is_reported() -> None:
    converted, changes = to_x("李四 & Co @ 100%")
    assert converted == ".. . Co . 100."
    assert [original for original, _ in changes] == ["李", "四", "&", "@", "%"]


def test_each_replacement_is_a_warning_naming_the_field() -> None:
    losses = Losses()
    assert losses.x("张三", "59", "Cdtr/Nm") == ".."
    assert [(w.field, w.element, w.rule) for w in losses.items] == [("59", "Cdtr/Nm",
                                                                        RULE_CHARSET)] * 2
    assert "'张'" in losses.items[0].lost


def test_text_already_in_x_is_left_alone_without_warnings() -> None:
    losses = Losses()
    assert losses.fit("PAYMENT 1/2 (INV-9)", 35, "70", "RmtInf/Ustrd") == "PAYMENT 1/2 (INV-9)"
    assert losses.items == []


def test_truncation_ends_with_plus_and_is_reported() -> None:
    losses = Losses()
    assert losses.fit("A" * 40, 35, "50K", "Dbtr/Nm") == "A" * 34 + "+"
    assert losses.items[0].rule == RULE_TRUNCATE
    assert losses.items[0].lost == repr("A" * 6) + " after 34 characters"


def test_lines_beyond_the_field_are_cut_with_plus() -> None:
    losses = Losses()
    lines = losses.lines("B" * 200, 4, 35, "70", "RmtInf/Ustrd")
    assert lines == ("B" * 35,) * 3 + ("B" * 34 + "+",)
    assert [w.rule for w in losses.items] == [RULE_TRUNCATE]


def test_a_line_may_not_start_a_field_or_end_the_block() -> None:
    losses = Losses()
    assert losses.lines("A" * 35 + ":B" + "C" * 34 + "-D", 4, 35, "70", "x") == (
        "A" * 35, ".B" + "C" * 33, "C-D")
    assert [w.rule for w in losses.items] == [RULE_LINE_START]


def test_references_lose_slashes_at_the_ends_and_doubled() -> None:
    losses = Losses()
    assert losses.reference("/A//B/", "20", "PmtId/InstrId") == ".A/.B."
    assert len(losses.items) == 1


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_output_is_always_x_and_changes_account_for_every_difference(text: str) -> None:
    converted, changes = to_x(text)
    assert is_x(converted)
    outside = [c for c in text if not is_x(c)]
    assert [original for original, _ in changes] == outside
    assert (converted == text) == (not changes)


@given(st.text(max_size=200), st.integers(2, 70))
def test_cut_and_wrap(text: str, width: int) -> None:
    assert len(cut(text, width)) <= width
    assert cut(text, width) == text or cut(text, width).endswith("+")
    assert "".join(wrap(text, width)) == text
    assert all(len(chunk) <= width for chunk in wrap(text, width))
