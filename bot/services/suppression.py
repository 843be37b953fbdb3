"""Counts fit to publish: small ones hidden, the rest rounded so that none can be worked out.

The console's Numbers page, its CSV and the coverage view show aggregates to coordinators and,
through them, to funders. A count of 1 to 4 in a week, area or outlet can describe one or two
requests, so it is shown as ``"<5"`` and never exactly (:data:`SMALL_COUNT`).

Hiding the cell alone is not enough: with exact totals beside exact cells, total − the others
gives the hidden one back. We round instead of suppressing complementary cells: *every*
published count of :data:`SMALL_COUNT` or more (cells, row and column totals, period totals) is
rounded to the nearest multiple of :data:`ROUND_TO`, each from its own true value (the practice
of the UK's ONS and NHS Digital). A hidden cell is then only known to within the sum of several
±2 rounding errors: beside one shown cell and their total it is never pinned down; beside two
shown cells, only when every rounding error lies at the same extreme (about 2% of such rows,
0.1% with three shown cells; the tests check these figures). That residue is accepted, not
solved: it reveals a count of 1 to 4 that was already known to be one of four values.
Complementary suppression was the other choice, but the page shows the same numbers by week, by
kind, by area and by outlet, and keeping all those tables consistent under it would hide most
of a small service's figures; removing the last corner cases takes controlled rounding or a
cell-key perturbation, which is left for later. Zero is shown as 0: nothing happened, which
describes no one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ROUND_TO", "SMALL_COUNT", "Shown", "publish"]

SMALL_COUNT = 5
ROUND_TO = 5


@dataclass(frozen=True, slots=True, order=True)
class Shown:
    """A published count: ``value`` is rounded, or None when it was hidden (1 to 4)."""

    value: int | None

    @property
    def hidden(self) -> bool:
        """True when the true count was too small to show."""
        return self.value is None

    def __str__(self) -> str:
        return f"<{SMALL_COUNT}" if self.value is None else str(self.value)


def publish(n: int) -> Shown:
    """The count ``n`` as it may be shown: 0, ``<5`` or rounded to the nearest 5 (halves up)."""
    if n <= 0:
        return Shown(0)
    if n < SMALL_COUNT:
        return Shown(None)
    return Shown(max(SMALL_COUNT, (n + ROUND_TO // 2) // ROUND_TO * ROUND_TO))
