"""The funder's impact export as JSON: aggregates only, with the definitions they were computed by."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from api.schemas.common import Out


class FigureOut(Out):
    value: int | None = Field(description="null when suppressed or undefined; never 0 in their place.")
    suppressed: bool = Field(description="true for a figure about fewer than 5 people, or one from which such a "
                                         "figure could be worked out.")
    reason: str | None = Field(description="fewer_than_5, protects_a_suppressed_cell, or why a ratio is undefined "
                                           "(e.g. no_loans_outstanding).")


class IndicatorOut(FigureOut):
    key: str
    name: str = Field(description="In the language of Accept-Language.")
    unit: Literal["count", "ratio_bp", "cents"]


class CellOut(FigureOut):
    label: str = Field(description="A kind of group, a group status, or a month (YYYY-MM).")


class BreakdownIndicatorOut(Out):
    key: str
    cells: list[CellOut]


class BreakdownOut(Out):
    breakdown: Literal["kind", "status", "month"]
    labels: list[str]
    indicators: list[BreakdownIndicatorOut]


class DefinitionOut(Out):
    key: str
    topic: str
    name_nl: str
    name_en: str
    unit: Literal["count", "ratio_bp", "cents"]
    formula: str
    seep_name: str | None = Field(description="The SEEP/SAVIX ratio this follows, where one applies.")
    group_kinds: list[str]
    breakdowns: list[str]
    stock_at_end: bool = Field(description="true for a stock taken at the end of the period (no months).")


class ProgrammeRefOut(Out):
    id: UUID
    name: str


class PeriodOut(Out):
    from_on: str
    to_on: str
    timezone: str


class ImpactExportOut(Out):
    """Per programme and period: reach, participation, continuity and financial activity."""

    definitions_version: str = Field(description="The version of the indicator definitions, e.g. indicators-2026.1.")
    programme: ProgrammeRefOut
    period: PeriodOut
    min_contributors: int
    indicators: list[IndicatorOut]
    breakdowns: list[BreakdownOut]
    definitions: list[DefinitionOut]

    @classmethod
    def of(cls, document: dict[str, Any]) -> ImpactExportOut:
        return cls.model_validate(document)
