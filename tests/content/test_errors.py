from __future__ import annotations

import pickle

import pytest

from bot.content.errors import ContentError, Problem


def test_problem_renders_file_line_field_message() -> None:
    problem = Problem("content/items.yaml", 12, "items[3].pack_size", "too small")
    assert str(problem) == "content/items.yaml:12: items[3].pack_size: too small"


def test_problem_without_line_or_field() -> None:
    assert str(Problem("a.yaml", None, None, "file is empty")) == "a.yaml: file is empty"
    assert str(Problem("a.yaml", 3, None, "bad")) == "a.yaml:3: bad"
    assert str(Problem("a.csv", None, "lat", "bad")) == "a.csv: lat: bad"


def test_content_error_renders_one_line_per_problem() -> None:
    error = ContentError([Problem("a.yaml", 1, "x", "one"), Problem("a.yaml", 2, "y", "two")])
    assert str(error) == "a.yaml:1: x: one\na.yaml:2: y: two"
    assert [p.line for p in error.problems] == [1, 2]


def test_content_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ContentError([])


def test_single() -> None:
    error = ContentError.single("a.csv", "bad", line=3, field="lat")
    assert error.problems == [Problem("a.csv", 3, "lat", "bad")]


def test_content_error_pickles() -> None:
    error = ContentError([Problem("a.yaml", 1, "x", "one")])
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert copy.problems == error.problems
    assert str(copy) == str(error)
