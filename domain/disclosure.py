"""Disclosure control for exports: no figure about fewer than 5 people, and nothing that can be worked
out by subtraction. Pure functions; the export decides what a figure's contributors are.

The rule (DOMAIN.md §7), applied to one breakdown at a time (a total and the cells that split it):

1. **Primary.** A figure whose contributors (the distinct people it describes) number 1 to 4 is
   suppressed: shown as suppressed, never as 0. A figure about nobody (0 contributors) is shown: "0
   members joined" says nothing about a person, and a ratio over nobody is undefined anyway.
2. **Secondary.** If the total is shown and some cells are suppressed, the subtraction
   total − (visible cells) must not give any of them back. So more cells are suppressed, the ones with
   the fewest contributors first, until at least two are suppressed and no suppressed cell equals the
   sum of the suppressed ones (which is what the subtraction yields), and the suppressed ones together
   describe at least 5 people (two cells about 1 and 2 people hide nothing behind each other). When no
   cell is left to add, only the total is given.

The total of a breakdown is the headline figure itself, so it is suppressed (or not) the same way in
every breakdown and on the indicators sheet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MIN_CONTRIBUTORS = 5
FEWER_THAN_5 = "fewer_than_5"
PROTECTS_A_SUPPRESSED_CELL = "protects_a_suppressed_cell"


@dataclass(frozen=True, slots=True)
class Figure:
    """A computed figure before disclosure control: its value (None when undefined, with the reason) and
    how many distinct people it describes."""

    value: int | None
    contributors: int
    undefined_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Shown:
    """A figure as exported: a value, or suppressed with a reason, or undefined (value None, a reason)."""

    value: int | None
    suppressed: bool = False
    reason: str | None = None


def primary(figure: Figure, min_contributors: int = MIN_CONTRIBUTORS) -> Shown:
    if 0 < figure.contributors < min_contributors:
        return Shown(None, True, FEWER_THAN_5)
    if figure.value is None:
        return Shown(None, False, figure.undefined_reason or "undefined")
    return Shown(figure.value, False, None)


def _subtraction_is_safe(cells: Mapping[str, Figure], suppressed: set[str], min_contributors: int) -> bool:
    """total − visible = the sum of the suppressed cells: it must be about enough people, and equal none of
    them on its own."""
    if len(suppressed) < 2 or sum(cells[label].contributors for label in suppressed) < min_contributors:
        return False
    values = [cells[label].value or 0 for label in suppressed]
    together = sum(values)
    return all(together != value for value in values)


def disclose(
    total: Figure, cells: Mapping[str, Figure], min_contributors: int = MIN_CONTRIBUTORS
) -> tuple[Shown, dict[str, Shown]]:
    """The total and the cells of one breakdown, after primary and secondary suppression."""
    shown_total = primary(total, min_contributors)
    shown = {label: primary(cell, min_contributors) for label, cell in cells.items()}
    suppressed = {label for label, cell in shown.items() if cell.suppressed}
    if not suppressed or shown_total.suppressed:
        return shown_total, shown
    candidates = sorted((label for label, cell in cells.items() if label not in suppressed and cell.contributors > 0),
                        key=lambda label: (cells[label].contributors, abs(cells[label].value or 0), label))
    while not _subtraction_is_safe(cells, suppressed, min_contributors):
        if not candidates:
            suppressed = set(cells)  # only the total is given
            break
        suppressed.add(candidates.pop(0))
    for label in suppressed:
        if not shown[label].suppressed:
            shown[label] = Shown(None, True, PROTECTS_A_SUPPRESSED_CELL)
    return shown_total, shown
