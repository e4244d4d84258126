"""The indicator definitions: one table, complete, documented, and every measure really computed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from domain import exports
from domain.exports import Collected, Period, Value, build_report, check_period, divide_half_up
from domain.indicators import DEFINITIONS_VERSION, INDICATORS, Breakdown, Ratio, Unit, markdown
from domain.errors import ExportPeriodReversed, ExportPeriodTooLong
from tests.world import World

DOCS = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"


def test_docs_indicators_md_is_generated_from_the_current_definitions() -> None:
    assert DOCS.read_text() == markdown(), "regenerate: python -m domain.indicators > docs/indicators.md"
    assert DEFINITIONS_VERSION in DOCS.read_text()


def test_every_indicator_has_a_unique_key_both_names_a_formula_and_a_unit_that_fits_its_key() -> None:
    keys = [i.key for i in INDICATORS]
    assert len(keys) == len(set(keys))
    for i in INDICATORS:
        assert i.name_nl and i.name_en and len(i.formula) > 20, i.key
        if i.unit == Unit.CENTS:
            assert i.key.endswith("_cents"), i.key
        if i.unit == Unit.RATIO_BP:
            assert i.key.endswith("_bp") and isinstance(i.recipe, Ratio), i.key
        if isinstance(i.recipe, Ratio):
            assert i.recipe.undefined.startswith("no_"), i.key  # an undefined ratio always says why


async def test_every_measure_the_table_asks_for_is_computed_by_one_of_the_fixed_statements(world: World) -> None:
    async with world.sessionmaker() as db:
        collected = await exports.collect_measures(db, world.programmes["a"], Period(date(2026, 1, 1), date(2026, 12, 31)))
    assert exports.measure_names() <= collected.available
    report = build_report(world.programmes["a"], "Noord 2026", Period(date(2026, 1, 1), date(2026, 12, 31)), collected)
    assert not [line.indicator.key for line in report.lines if line.total.reason == exports.NOT_AVAILABLE]


def test_stocks_have_no_months_and_each_indicator_is_split_only_by_the_kinds_it_applies_to() -> None:
    period = Period(date(2026, 1, 1), date(2026, 3, 31))
    collected = Collected(available=exports.measure_names())
    report = build_report(uuid4(), "P", period, collected)
    for line in report.lines:
        assert (Breakdown.MONTH in line.cells) == line.indicator.by_month
        assert list(line.cells[Breakdown.KIND]) == [k.value for k in line.indicator.kinds]
        assert list(line.cells[Breakdown.STATUS]) == ["begeleid", "zelfstandig", "gestopt"]
        if line.indicator.by_month:
            assert list(line.cells[Breakdown.MONTH]) == ["2026-01", "2026-02", "2026-03"]


def test_a_ratio_over_nobody_is_undefined_and_a_ratio_is_rounded_half_up_in_basis_points() -> None:
    period = Period(date(2026, 1, 1), date(2026, 1, 31))
    collected = Collected(available=exports.measure_names())
    slot = collected.slot("total", "all")
    slot["attendance_attended"] = Value(2, 7)
    slot["attendance_roll"] = Value(3, 7)
    lines = exports.by_key(build_report(uuid4(), "P", period, collected))
    assert lines["attendance_rate_bp"].total.value == 6667  # 2/3 = 0.66666…
    assert lines["portfolio_at_risk_bp"].total.value is None
    assert lines["portfolio_at_risk_bp"].total.reason == "no_loans_outstanding"
    assert [divide_half_up(1, 2), divide_half_up(-1, 2), divide_half_up(5, 3), divide_half_up(4, 3)] == [1, -1, 2, 1]


def test_months_start_at_local_midnight_in_amsterdam_and_a_period_spans_whole_or_partial_months() -> None:
    assert Period.at(date(2026, 2, 1)) == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)  # CET
    assert Period.at(date(2026, 7, 1)) == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)  # CEST
    months = Period(date(2025, 12, 15), date(2026, 2, 10)).months
    assert [(m.label, m.first_on, m.next_on) for m in months] == [
        ("2025-12", date(2025, 12, 15), date(2026, 1, 1)), ("2026-01", date(2026, 1, 1), date(2026, 2, 1)),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 11))]


def test_a_period_runs_forward_and_covers_at_most_sixty_months() -> None:
    assert check_period(date(2022, 1, 1), date(2026, 12, 31)).months[-1].label == "2026-12"
    with pytest.raises(ExportPeriodReversed):
        check_period(date(2026, 2, 1), date(2026, 1, 31))
    with pytest.raises(ExportPeriodTooLong):
        check_period(date(2021, 12, 31), date(2026, 12, 1))


def test_a_ratio_whose_numerator_is_about_fewer_than_five_people_is_suppressed_with_its_denominator_shown() -> None:
    """PAR × loans outstanding would otherwise give the one late borrower's balance back."""
    collected = Collected(available=exports.measure_names())
    slot = collected.slot("total", "all")
    slot["loans_outstanding_cents"] = Value(7075, 6)
    slot["loans_overdue_cents"] = Value(1000, 1)
    lines = exports.by_key(build_report(uuid4(), "P", Period(date(2026, 1, 1), date(2026, 1, 31)), collected))
    assert lines["loans_outstanding_cents"].total.value == 7075
    assert lines["portfolio_at_risk_bp"].total.suppressed
    slot["loans_overdue_cents"] = Value(0, 0)  # nobody late: 0 % is about nobody, and shown
    lines = exports.by_key(build_report(uuid4(), "P", Period(date(2026, 1, 1), date(2026, 1, 31)), collected))
    assert lines["portfolio_at_risk_bp"].total.value == 0
