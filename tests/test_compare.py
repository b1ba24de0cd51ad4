"""Comparison modes, output normalisation (property-based), first difference and visible text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.checking import (
    Difference,
    first_difference,
    first_number_mismatch,
    is_number,
    matches,
    normalize,
    numbers_close,
    visible,
)
from runner.exercises import CompareMode

# Printable text with the characters that normalisation cares about made frequent.
texts = st.text(alphabet=st.sampled_from("ab Z1.\t\n\r é"), max_size=40)
lines_without_cr = st.lists(st.text(alphabet=st.sampled_from("ab 1\té"), max_size=8), max_size=6)


def test_normalize_examples() -> None:
    assert normalize("a \r\nb\t\r\n\r\n\n") == "a\nb"
    assert normalize("a\rb") == "a\nb"
    assert normalize("\n\nx") == "\n\nx"  # leading blank lines are kept
    assert normalize("  x  ") == "  x"  # leading spaces are kept
    assert normalize("") == ""


@given(texts)
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


@given(lines_without_cr)
def test_normalize_ignores_crlf(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert normalize(text.replace("\n", "\r\n")) == normalize(text)


@given(lines_without_cr, st.lists(st.sampled_from([" ", "\t", "  \t"]), min_size=6, max_size=6))
def test_normalize_ignores_trailing_blanks_on_each_line(lines: list[str], pads: list[str]) -> None:
    padded = "\n".join(line + pad for line, pad in zip(lines, pads, strict=False))
    assert normalize(padded) == normalize("\n".join(lines))


@given(texts, st.integers(min_value=1, max_value=4))
def test_normalize_ignores_trailing_blank_lines(text: str, count: int) -> None:
    assert normalize(text + "\n" * count) == normalize(text)


@given(texts)
def test_normalize_leaves_no_trailing_blank_and_no_cr(text: str) -> None:
    result = normalize(text)
    assert "\r" not in result
    assert not result.endswith("\n")
    assert all(line == line.rstrip(" \t") for line in result.split("\n"))


@given(texts)
def test_every_mode_accepts_the_expected_text_itself(text: str) -> None:
    for mode in (CompareMode.EXACT, CompareMode.IGNORE_CASE, CompareMode.CONTAINS):
        assert matches(mode, text, text)
    assert matches(CompareMode.IGNORE_WHITESPACE, text, text)
    assert matches(CompareMode.NUMBERS, text, text)


@given(texts, texts)
def test_exact_match_agrees_with_first_difference(expected: str, actual: str) -> None:
    same = matches(CompareMode.EXACT, expected, actual)
    assert same == (first_difference(expected, actual) is None)


@pytest.mark.parametrize(
    ("mode", "expected", "actual", "result"),
    [
        (CompareMode.EXACT, "Bonjour !", "Bonjour !  \r\n\r\n", True),
        (CompareMode.EXACT, "Bonjour !", "bonjour !", False),
        (CompareMode.EXACT, "a\nb", "a\n\nb", False),
        (CompareMode.IGNORE_CASE, "Majeur", "MAJEUR\n", True),
        (CompareMode.IGNORE_CASE, "Majeur", "mineur", False),
        (CompareMode.IGNORE_WHITESPACE, "dort chat le", "  dort \t chat\nle ", True),
        (CompareMode.IGNORE_WHITESPACE, "dort chat le", "dortchat le", False),
        (CompareMode.CONTAINS, "4 articles\n", "1. a\n4 articles\n", True),
        (CompareMode.CONTAINS, "Bravo", "bravo", False),
        (CompareMode.REGEX, r"Tu as fait [1-6]\.", "Tu as fait 4.\n", True),
        (CompareMode.REGEX, r"Tu as fait [1-6]\.", "Tu as fait 7.", False),
        (CompareMode.REGEX, r"Tu as fait [1-6]\.", "Oui. Tu as fait 4.", False),  # fullmatch
        (CompareMode.REGEX, "a\nb\n", "a\nb", True),  # final line breaks of a pattern ignored
        (CompareMode.REGEX, "a.b", "a\nb", False),  # no DOTALL: '.' stops at a line end
        (CompareMode.REGEX, "(?s)a.b", "a\nb", True),
        (CompareMode.NUMBERS, "3.5", "3.5000001", True),
        (CompareMode.NUMBERS, "3.5", "3.6", False),
        (CompareMode.NUMBERS, "Division impossible", "Division impossible\n", True),
        (CompareMode.NUMBERS, "x = 2", "x = 2.0", True),
        (CompareMode.NUMBERS, "x = 2", "X = 2", False),
        (CompareMode.NUMBERS, "1 2", "1 2 3", False),
        (CompareMode.NUMBERS, "2", "deux", False),
    ],
)
def test_matches_each_mode(mode: CompareMode, expected: str, actual: str, result: bool) -> None:
    assert matches(mode, expected, actual) is result


def test_numbers_use_the_tolerance_absolutely_or_relatively() -> None:
    assert matches(CompareMode.NUMBERS, "13.33", "13.333333", tolerance=0.01)
    assert matches(CompareMode.NUMBERS, "13.33", "13.45", tolerance=0.01)  # 1 % relative
    assert not matches(CompareMode.NUMBERS, "13.33", "13.5", tolerance=0.01)
    assert numbers_close(1_000_000.0, 1_000_001.0, 1e-6)  # relative: 1e-6 of a million
    assert numbers_close(0.0, 5e-7, 1e-6)  # absolute near zero
    assert not numbers_close(0.0, 2e-6, 1e-6)


@pytest.mark.parametrize("token", ["3", "-3", "+2.50", ".5", "5.", "1e-3", "2E+10"])
def test_is_number_accepts_decimal_numbers(token: str) -> None:
    assert is_number(token)


@pytest.mark.parametrize("token", ["", "-", "1,5", "inf", "nan", "0x10", "1_000", "e5", "3a"])
def test_is_number_rejects_other_tokens(token: str) -> None:
    assert not is_number(token)


def test_first_number_mismatch_names_the_first_differing_tokens() -> None:
    assert first_number_mismatch("12 15", "12 16") == ("15", "16")
    assert first_number_mismatch("1 2 3", "1 2") == ("3", "")
    assert first_number_mismatch("1", "1 9") == ("", "9")
    assert first_number_mismatch("1.0 2", "1 2.0000000001") is None


def test_first_difference_is_one_based_on_normalised_text() -> None:
    assert first_difference("Bonjour, Léa !", "Bonjour Léa!\r\n") == Difference(
        line=1, column=8, expected_line="Bonjour, Léa !", actual_line="Bonjour Léa!"
    )
    assert first_difference("a\nb\nc", "a\nb\nd") == Difference(3, 1, "c", "d")
    assert first_difference("a\nb", "a \n b ") == Difference(2, 1, "b", " b")


def test_first_difference_on_a_missing_or_longer_line() -> None:
    assert first_difference("a\nb", "a") == Difference(2, 1, "b", None)
    assert first_difference("a", "a\nextra") == Difference(2, 1, None, "extra")
    assert first_difference("abc", "ab") == Difference(1, 3, "abc", "ab")
    assert first_difference("ab", "abc") == Difference(1, 3, "ab", "abc")


def test_first_difference_can_ignore_case() -> None:
    assert first_difference("Majeur", "MAJEUR", fold_case=True) is None
    assert first_difference("Majeur", "MAJEUX", fold_case=True) == Difference(
        1, 6, "Majeur", "MAJEUX"
    )


def test_difference_public_is_plain_json() -> None:
    assert Difference(2, 3, "ab", None).public() == {
        "line": 2,
        "column": 3,
        "expected_line": "ab",
        "actual_line": None,
    }


def test_visible_marks_spaces_tabs_and_line_ends() -> None:
    assert visible("a b\tc\n") == "a·b→c↵\n"
    assert visible("x\r\n") == "x␍↵\n"


@given(st.text(alphabet=st.sampled_from("ab \t"), max_size=20))
def test_visible_keeps_one_character_per_character_on_a_line(line: str) -> None:
    assert len(visible(line)) == len(line)
