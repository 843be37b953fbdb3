"""Right-to-left output: isolates around left-to-right runs, marks where a line needs one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.bidi import (
    FSI,
    MARKS,
    PDI,
    RLM,
    finish,
    format_rtl,
    has_rtl,
    is_rtl_locale,
    isolate,
    isolate_runs,
    mark_lines,
    strip_marks,
)
from bot.core.text import clean, parse_command


def show(text: str) -> str:
    """Marks made visible: ⟨ ⟩ for an isolate, ^ for RLM."""
    return text.replace(FSI, "⟨").replace(PDI, "⟩").replace(RLM, "^")


@pytest.mark.parametrize(
    ("locale", "rtl"),
    [("fa_AF", True), ("fa", True), ("ps", True), ("ar", True), ("ru", False), ("xx", False)],
)
def test_direction_comes_from_cldr(locale: str, rtl: bool) -> None:
    assert is_rtl_locale(locale) is rtl


def test_values_are_isolated_only_when_they_hold_a_left_to_right_run() -> None:
    assert show(isolate("K7F-29Q")) == "⟨K7F-29Q⟩"
    assert show(isolate("112")) == "⟨112⟩"
    assert isolate("دری") == "دری"
    assert isolate("") == ""
    assert show(isolate("Gastown\nدری")) == "⟨Gastown⟩\nدری"  # line by line


def test_literal_runs_keep_together_and_leave_punctuation_out() -> None:
    assert show(isolate_runs("برای دیدن /status.")) == "برای دیدن ⟨/status⟩."
    assert show(isolate_runs("سوزن 27G، ۴۰ ملی")) == "سوزن ⟨27G⟩، ۴۰ ملی"  # Persian digits stay
    assert show(isolate_runs("مثلاً /stock nalox_inj 6.")) == "مثلاً ⟨/stock nalox_inj 6⟩."
    assert show(isolate_runs("ساعات 10:00–18:00 است")) == "ساعات ⟨10:00–18:00⟩ است"


def test_a_literal_glued_to_a_value_is_one_run() -> None:
    assert show(format_rtl("هشدار A{id} تمام شد", {"id": 12})) == "هشدار ⟨A⟨12⟩⟩ تمام شد"


def test_lines_without_a_right_to_left_letter_of_their_own_get_a_mark() -> None:
    text = format_rtl("- {name}: {n}\n{ref}\nتشکر", {"name": "Gastown", "n": 2, "ref": "K7F"})
    # Two left-to-right values with only ": " between them read as one run.
    assert show(text) == "^- ⟨⟨Gastown⟩: ⟨2⟩⟩\n^⟨K7F⟩\nتشکر"
    # A line that opens with an isolated Latin name: older clients would read it as LTR.
    assert show(mark_lines(f"{FSI}Gastown{PDI} نزدیک")) == "^⟨Gastown⟩ نزدیک"
    # A genuinely left-to-right line (an English fallback) is left alone.
    assert mark_lines("Send it?") == "Send it?"


def test_format_rtl_fails_like_str_format() -> None:
    with pytest.raises(KeyError):
        format_rtl("{missing} دری", {})
    with pytest.raises(ValueError, match="expected '}'"):
        format_rtl("{ دری", {})


def test_marks_are_invisible_to_what_people_send_back() -> None:
    text = finish("برای دیدن /status")
    assert strip_marks(text) == "برای دیدن /status"
    assert has_rtl(text)
    assert clean(text) == "برای دیدن /status"  # input cleaning drops them again
    copied = f"{FSI}/status{PDI}"
    assert parse_command(copied) == ("status", "")


_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters=tuple(MARKS)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(before=_TEXT, after=_TEXT, value=_TEXT)
def test_marks_only_ever_add_invisible_characters(before: str, after: str, value: str) -> None:
    template = f"{before}{{value}}{after}".replace("{", "{{").replace("}", "}}")
    template = template.replace("{{value}}", "{value}")
    shown = format_rtl(template, {"value": value})
    assert strip_marks(shown) == template.format(value=value)
    assert strip_marks(finish(before)) == before
    assert shown.count(FSI) == shown.count(PDI)
