"""Content problems: where (file, line, field) and what went wrong."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a content file."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class ContentError(Exception):
    """Raised when a content file cannot be used; carries every problem found in it."""

    problems: list[Problem]

    def __init__(self, problems: Iterable[Problem]) -> None:
        found = list(problems)
        if not found:
            raise ValueError("ContentError needs at least one problem")
        self.problems = found
        # The list is the only argument so the exception pickles and copies cleanly.
        super().__init__(found)

    @classmethod
    def single(
        cls, file: str, message: str, *, line: int | None = None, field: str | None = None
    ) -> ContentError:
        """An error with one problem."""
        return cls([Problem(file=file, line=line, field=field, message=message)])

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)
