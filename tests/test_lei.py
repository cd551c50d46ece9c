"""LEI check digits (ISO 17442, ISO 7064 MOD 97-10): published examples and properties."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.iso20022.lei import is_lei, with_check_digits
from switch.config import BankConfig

PREFIX = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=18, max_size=18)


@pytest.mark.parametrize("lei", [
    "5493001KJTIIGC8Y1R12",  # LEIs in public use
    "529900T8BM49AURSDO55",
    BankConfig().lei,  # the default of the switch's own bank must pass CIPS
])
def test_valid(lei: str) -> None:
    assert is_lei(lei)
    assert with_check_digits(lei[:18]) == lei


@pytest.mark.parametrize("text", [
    "5493001KJTIIGC8Y1R13",  # wrong check digits
    "5493001kjtiigc8y1r12",  # lower case
    "5493001KJTIIGC8Y1R1",  # 19 characters
    "5493001KJTIIGC8Y1R120",  # 21 characters
    "5493001KJTIIGC8Y1RAB",  # check digits are digits
    "",
    None,
    5493001,
])
def test_invalid(text: object) -> None:
    assert not is_lei(text)


@given(PREFIX)
def test_only_the_computed_check_digits_pass(prefix: str) -> None:
    good = with_check_digits(prefix)
    assert 2 <= int(good[18:]) <= 98
    assert [cd for cd in range(100) if is_lei(f"{prefix}{cd:02d}")] == [int(good[18:])]


@given(PREFIX, st.integers(0, 17), st.data())
def test_a_substituted_character_is_caught(prefix: str, at: int, data: st.DataObject) -> None:
    """MOD 97-10 catches every change of one digit for a digit, or one letter for a letter."""
    lei = with_check_digits(prefix)
    same_kind = string.digits if lei[at].isdigit() else string.ascii_uppercase
    other = data.draw(st.sampled_from(same_kind.replace(lei[at], "")))
    assert not is_lei(lei[:at] + other + lei[at + 1:])


def test_prefix_must_be_18_characters_of_the_alphabet() -> None:
    for bad in ("5493001KJTIIGC8Y1", "5493001KJTIIGC8Y1r", "5493001KJTIIGC8Y1R1"):
        with pytest.raises(ValueError):
            with_check_digits(bad)
