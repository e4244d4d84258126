"""Disclosure control: no figure about fewer than 5 people, and none that subtraction gives back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.disclosure import FEWER_THAN_5, PROTECTS_A_SUPPRESSED_CELL, Figure, Shown, disclose, primary


def breakdown(cells: list[tuple[int, int]]) -> tuple[Figure, dict[str, Figure]]:
    """Cells as (contributors, value); the total adds them up, as a breakdown by kind or status does."""
    figures = {f"cell{i}": Figure(value, people) for i, (people, value) in enumerate(cells)}
    return Figure(sum(v for _, v in cells), sum(p for p, _ in cells)), figures


# a figure about nobody is 0; a figure about someone is a positive count or amount
cell = st.integers(min_value=0, max_value=30).flatmap(
    lambda people: st.tuples(st.just(people), st.just(0) if people == 0 else st.integers(1, 1_000_000)))


@given(st.lists(cell, min_size=1, max_size=14))
def test_no_suppressed_cell_can_be_recovered_as_the_total_minus_the_visible_cells(cells: list[tuple[int, int]]) -> None:
    total, figures = breakdown(cells)
    shown_total, shown = disclose(total, figures)
    hidden = [label for label, s in shown.items() if s.suppressed]
    if shown_total.suppressed or not hidden:
        return
    worked_out = shown_total.value - sum(s.value or 0 for s in shown.values() if not s.suppressed)  # type: ignore[operator]
    assert len(hidden) >= 2
    assert all(worked_out != figures[label].value for label in hidden)
    assert sum(figures[label].contributors for label in hidden) >= 5  # what subtraction gives is about 5 or more


@given(st.lists(cell, min_size=1, max_size=14))
def test_every_figure_about_one_to_four_people_is_suppressed_and_never_shown_as_zero(cells: list[tuple[int, int]]) -> None:
    total, figures = breakdown(cells)
    shown_total, shown = disclose(total, figures)
    for label, figure in [("total", total), *figures.items()]:
        s = shown_total if label == "total" else shown[label]
        if 0 < figure.contributors < 5:
            assert s == Shown(None, True, FEWER_THAN_5)
        if s.suppressed:
            assert s.value is None
        else:
            assert s.value == figure.value  # a visible figure is the true figure


def test_one_small_cell_beside_a_shown_total_takes_the_next_smallest_cell_with_it() -> None:
    total, figures = breakdown([(4, 4), (9, 9), (30, 30)])
    shown_total, shown = disclose(total, figures)
    assert shown_total == Shown(43)
    assert shown == {"cell0": Shown(None, True, FEWER_THAN_5), "cell1": Shown(None, True, PROTECTS_A_SUPPRESSED_CELL),
                     "cell2": Shown(30)}


def test_a_small_cell_with_nothing_to_hide_it_behind_leaves_only_the_total() -> None:
    total, figures = breakdown([(4, 4), (6, 6), (0, 0)])
    shown_total, shown = disclose(total, figures)
    assert shown_total == Shown(10)
    assert shown["cell0"].suppressed and shown["cell1"].suppressed
    total, figures = breakdown([(4, 400), (6, 0)])  # the other cell adds nothing: subtraction would give 400
    shown_total, shown = disclose(total, figures)
    assert all(s.suppressed for s in shown.values())
    assert shown_total == Shown(400)


def test_a_figure_about_nobody_is_shown_and_an_undefined_ratio_is_null_with_its_reason() -> None:
    assert primary(Figure(0, 0)) == Shown(0)
    assert primary(Figure(None, 0, "no_loans_outstanding")) == Shown(None, False, "no_loans_outstanding")
    assert primary(Figure(None, 3, "no_loans_outstanding")) == Shown(None, True, FEWER_THAN_5)


def test_a_suppressed_total_stays_suppressed_and_its_cells_keep_their_own_primary_rule() -> None:
    total, figures = breakdown([(2, 2), (2, 2)])
    shown_total, shown = disclose(total, figures)
    assert shown_total == Shown(None, True, FEWER_THAN_5)
    assert all(s == Shown(None, True, FEWER_THAN_5) for s in shown.values())
