"""The indicators a funder's export gives, defined once: this table is what the export computes, what
every export carries as its definitions, and what docs/indicators.md is generated from.

Each indicator is computed from *measures*: aggregates that domain/exports.py gets from the database
in a fixed number of statements, each a value with the number of distinct people behind it (its
contributors, which decide suppression, see domain/disclosure.py). A recipe says how the indicator
follows from its measures.

Change a definition → raise DEFINITIONS_VERSION, and regenerate docs/indicators.md
(`python -m domain.indicators > docs/indicators.md`); a test checks the file is current.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from domain.models import GroupKind

DEFINITIONS_VERSION = "indicators-2026.1"
TIMEZONE = "Europe/Amsterdam"


class Unit(enum.StrEnum):
    COUNT = "count"
    RATIO_BP = "ratio_bp"  # basis points: 10 000 = 100 %
    CENTS = "cents"  # euro cents


class Breakdown(enum.StrEnum):
    KIND = "kind"
    STATUS = "status"
    MONTH = "month"


Measures = str | tuple[str, ...]  # one measure, or several added up


@dataclass(frozen=True, slots=True)
class Count:
    """The measure itself (a count or an amount); undefined with `undefined` when it has no value."""

    measure: Measures
    undefined: str | None = None


@dataclass(frozen=True, slots=True)
class Ratio:
    """numerator × scale / denominator, rounded half up; undefined (null with `undefined` as the reason)
    when the denominator is 0. Its contributors are those of `people`, or of the numerator when fewer."""

    numerator: Measures
    denominator: Measures
    people: Measures
    undefined: str
    scale: int = 10_000


Recipe = Count | Ratio

SPAARKRING = (GroupKind.SPAARKRING,)
LUISTERGROEP = (GroupKind.LUISTERGROEP,)
BOTH = (GroupKind.SPAARKRING, GroupKind.LUISTERGROEP)


@dataclass(frozen=True, slots=True)
class Indicator:
    key: str
    topic: str
    name_nl: str
    name_en: str
    unit: Unit
    recipe: Recipe
    formula: str
    seep: str | None = None  # the SEEP/SAVIX name where one applies
    kinds: tuple[GroupKind, ...] = BOTH
    by_month: bool = True  # False for a stock taken at the end of the period

    @property
    def breakdowns(self) -> tuple[Breakdown, ...]:
        return (Breakdown.KIND, Breakdown.STATUS) + ((Breakdown.MONTH,) if self.by_month else ())

    def name(self, lang: str) -> str:
        return self.name_nl if lang == "nl" else self.name_en


I = Indicator  # the table below reads better with a short name
INDICATORS: tuple[Indicator, ...] = (
    # --- groups: reach and continuity ---------------------------------------------------------------
    I("groups_started", "groups", "Groepen gestart", "Groups started", Unit.COUNT, Count("groups_started"),
      "Groups of the programme registered in Kringkas in the period (created_at). Month: the month registered."),
    I("groups_active", "groups", "Actieve groepen", "Active groups", Unit.COUNT,
      Count(("groups_active", "luistergroepen_active")),
      "Groups with at least one held meeting (spaarkring: a closed meeting) or held session (luistergroep: a "
      "session with attendance recorded) in the period. Month: groups active in that month."),
    I("groups_stopped", "groups", "Groepen gestopt", "Groups stopped", Unit.COUNT, Count("groups_stopped"),
      "Groups whose status became gestopt in the period (stopped_on)."),
    I("groups_completed_first_cycle", "groups", "Groepen met eerste cyclus afgerond",
      "Groups that completed their first cycle", Unit.COUNT, Count("groups_completed_cycle_1"),
      "Spaarkringen whose cycle 1 was shared out and closed before the end of the period.",
      kinds=SPAARKRING, by_month=False),
    I("groups_zelfstandig_after_first_cycle", "groups", "Zelfstandig na de begeleide cyclus",
      "Zelfstandig after the guided cycle", Unit.COUNT, Count("groups_zelfstandig_after_first_cycle"),
      "Of the groups that completed their first cycle, those whose status is zelfstandig (the status as it is "
      "now: Kringkas keeps no history of a group's status).", kinds=SPAARKRING, by_month=False),
    I("continuity_after_1_cycle_bp", "groups", "Doorgegaan na 1 cyclus", "Continued after 1 cycle", Unit.RATIO_BP,
      Ratio("groups_continued_after_1", "groups_completed_cycle_1", "groups_completed_cycle_1",
            "no_group_completed_1_cycle"),
      "Groups that started cycle 2 (starts_on on or before the end of the period) / groups that completed "
      "cycle 1 before the end of the period.", 
      kinds=SPAARKRING, by_month=False),
    I("continuity_after_2_cycles_bp", "groups", "Doorgegaan na 2 cycli", "Continued after 2 cycles", Unit.RATIO_BP,
      Ratio("groups_continued_after_2", "groups_completed_cycle_2", "groups_completed_cycle_2",
            "no_group_completed_2_cycles"),
      "Groups that started cycle 3 / groups that completed cycle 2, both by the end of the period.",
      kinds=SPAARKRING, by_month=False),
    I("continuity_after_3_cycles_bp", "groups", "Doorgegaan na 3 cycli", "Continued after 3 cycles", Unit.RATIO_BP,
      Ratio("groups_continued_after_3", "groups_completed_cycle_3", "groups_completed_cycle_3",
            "no_group_completed_3_cycles"),
      "Groups that started cycle 4 / groups that completed cycle 3, both by the end of the period.",
      kinds=SPAARKRING, by_month=False),
    # --- members: participation ---------------------------------------------------------------------
    I("members_joined", "members", "Nieuwe leden", "Members joined", Unit.COUNT, Count("members_joined"),
      "Members whose joined_on falls in the period."),
    I("members_left", "members", "Vertrokken leden", "Members left", Unit.COUNT, Count("members_left"),
      "Members whose left_on falls in the period."),
    I("members_at_end", "members", "Leden aan het eind", "Members at the end", Unit.COUNT, Count("members_at_end"),
      "Members who joined on or before the last day of the period and had not left by then, in groups not "
      "stopped by then.", "Number of members", by_month=False),
    I("members_active", "members", "Actieve deelnemers", "Active participants", Unit.COUNT,
      Count(("members_active", "luistergroep_participants")),
      "Distinct members present or late at a held spaarkring meeting, or present at a held luistergroep "
      "session, in the period."),
    I("retention_bp", "members", "Behoud van leden", "Member retention", Unit.RATIO_BP,
      Ratio("retention_retained", "retention_registered", "retention_registered", "no_share_out"),
      "Over the cycles shared out in the period: (members on the presentielijst of the cycle's first meeting "
      "− those of them who left on or before the day of the share-out) / members on that presentielijst. "
      "Month: the month of the share-out.", "Member retention rate: (registered − dropouts) / registered",
      kinds=SPAARKRING),
    I("attendance_rate_bp", "members", "Opkomst", "Attendance rate", Unit.RATIO_BP,
      Ratio("attendance_attended", "attendance_roll", "attendance_roll", "no_meetings_held"),
      "(present + late) / members on the presentielijst, summed over the spaarkring meetings held in the "
      "period.", "Attendance rate: attending / registered", kinds=SPAARKRING),
    # --- savings ------------------------------------------------------------------------------------
    I("meetings_held", "savings", "Bijeenkomsten gehouden", "Meetings held", Unit.COUNT, Count("meetings_held"),
      "Spaarkring meetings held (closed) in the period. Contributors: the members on their presentielijsten.",
      kinds=SPAARKRING),
    I("savings_cents", "savings", "Totaal gespaard", "Total saved", Unit.CENTS, Count("savings_cents"),
      "Deposits at meetings held in the period, net of their reversals (a reversal counts in the month of "
      "the meeting where it was recorded).", "Value of savings", kinds=SPAARKRING),
    I("savers", "savings", "Spaarders", "Savers", Unit.COUNT, Count("savers"),
      "Members whose net deposits in the period are above zero.", kinds=SPAARKRING),
    I("savings_per_saver_mean_cents", "savings", "Gemiddeld gespaard per spaarder", "Mean saved per saver",
      Unit.CENTS, Ratio("savings_cents", "savers", "savers", "no_savers", scale=1),
      "Total saved / savers, rounded half up to a cent.", "Average savings per member", kinds=SPAARKRING),
    I("savings_per_saver_median_cents", "savings", "Mediaan gespaard per spaarder", "Median saved per saver",
      Unit.CENTS, Count("savings_median_cents", undefined="no_savers"),
      "The median of the savers' net deposits in the period (of two middle values, their mean rounded half "
      "up to a cent).", kinds=SPAARKRING),
    I("savings_per_meeting_cents", "savings", "Gespaard per bijeenkomst", "Saved per meeting", Unit.CENTS,
      Ratio("savings_cents", "meetings_held", "savers", "no_meetings_held", scale=1),
      "Total saved / meetings held, rounded half up to a cent.", kinds=SPAARKRING),
    # --- loans --------------------------------------------------------------------------------------
    I("loans_issued", "loans", "Leningen verstrekt", "Loans issued", Unit.COUNT, Count("loans_issued"),
      "Loans paid out at a meeting held in the period (and not reversed). Contributors: the borrowers.",
      kinds=SPAARKRING),
    I("loans_issued_cents", "loans", "Bedrag verstrekt", "Volume issued", Unit.CENTS, Count("loans_issued_cents"),
      "Principal of the loans issued in the period.", kinds=SPAARKRING),
    I("loans_due", "loans", "Leningen vervallen", "Loans due", Unit.COUNT, Count("loans_due"),
      "Loans whose due meeting (disbursement meeting + term) was held in the period. Month: the due "
      "meeting's month.", kinds=SPAARKRING),
    I("loans_repaid_on_time_bp", "loans", "Op tijd terugbetaald", "Repaid on time", Unit.RATIO_BP,
      Ratio("loans_repaid_on_time", "loans_due", "loans_due", "no_loans_due"),
      "Of the loans due in the period: those whose repayments up to and including the due meeting cover "
      "principal and interest / loans due.", kinds=SPAARKRING),
    I("loans_overdue_at_end", "loans", "Leningen te laat (eind)", "Loans overdue at the end", Unit.COUNT,
      Count("loans_overdue_at_end"),
      "Loans with money outstanding at the end of the period whose due meeting was held by then.",
      kinds=SPAARKRING, by_month=False),
    I("loans_outstanding_cents", "loans", "Uitstaand (eind)", "Outstanding at the end", Unit.CENTS,
      Count("loans_outstanding_cents"),
      "Principal not yet repaid at the end of the period (repayments pay interest first), over loans paid "
      "out by then.", "Value of loans outstanding", kinds=SPAARKRING, by_month=False),
    I("portfolio_at_risk_bp", "loans", "Portefeuille in gevaar", "Portfolio at risk", Unit.RATIO_BP,
      Ratio("loans_overdue_cents", "loans_outstanding_cents", "loans_outstanding_cents", "no_loans_outstanding"),
      "Principal outstanding of the loans overdue at the end / principal outstanding of all loans at the end.",
      "Portfolio at risk: unpaid balance of late loans / loans outstanding", kinds=SPAARKRING, by_month=False),
    I("loan_fund_utilisation_bp", "loans", "Benutting leenpot", "Loan fund utilisation", Unit.RATIO_BP,
      Ratio("loans_outstanding_cents", ("loans_outstanding_cents", "loan_fund_cash_cents"),
            "loan_fund_cash_cents", "no_loan_fund"),
      "Loans outstanding / (loans outstanding + cash in the box), at the end of the period, over the "
      "cycles that allow loans (max_loan_multiple > 0) and were not closed by then. Cash: every entry of "
      "those cycles at meetings held by then, money in plus, money out minus.",
      "Loan fund utilisation rate: loans outstanding / (loans outstanding + loan fund cash)",
      kinds=SPAARKRING, by_month=False),
    # --- share-outs ---------------------------------------------------------------------------------
    I("share_outs_completed", "share_outs", "Uitkeringen afgerond", "Share-outs completed", Unit.COUNT,
      Count("share_outs_completed"),
      "Cycles shared out at a meeting held in the period. Contributors: the members paid.",
      kinds=SPAARKRING),
    I("share_out_paid_cents", "share_outs", "Uitgekeerd", "Paid out at share-outs", Unit.CENTS,
      Count("share_out_paid_cents"), "Savings plus interest paid out at those share-outs.",
      kinds=SPAARKRING),
    I("share_out_interest_cents", "share_outs", "Waarvan rente", "Of which interest", Unit.CENTS,
      Count("share_out_interest_cents"), "The interest shared out at those share-outs.", kinds=SPAARKRING),
    I("return_on_savings_bp", "share_outs", "Rendement op spaargeld", "Return on savings", Unit.RATIO_BP,
      Ratio("share_out_interest_cents", "share_out_savings_cents", "share_out_savings_cents", "no_share_out"),
      "Interest shared out / savings returned, at the share-outs of the period.",
      "Return on savings: net profit / savings", kinds=SPAARKRING),
    # --- luistergroepen -----------------------------------------------------------------------------
    I("luistergroep_sessions_held", "luistergroepen", "Sessies gehouden", "Sessions held", Unit.COUNT,
      Count("luistergroep_sessions_held"),
      "Luistergroep sessions in the period, not cancelled, with attendance recorded. Contributors: those "
      "present.", kinds=LUISTERGROEP),
    I("luistergroep_sessions_cancelled", "luistergroepen", "Sessies afgelast", "Sessions cancelled", Unit.COUNT,
      Count("luistergroep_sessions_cancelled"),
      "Luistergroep sessions in the period that were cancelled. Contributors: the members of those groups.",
      kinds=LUISTERGROEP),
    I("luistergroep_participants", "luistergroepen", "Deelnemers", "Participants", Unit.COUNT,
      Count("luistergroep_participants"), "Distinct members present at a luistergroep session in the period.",
      kinds=LUISTERGROEP),
    I("luistergroep_attendance_per_session_bp", "luistergroepen", "Aanwezigen per sessie (× 10 000)",
      "Present per session (× 10 000)", Unit.RATIO_BP,
      Ratio("luistergroep_attendances", "luistergroep_sessions_held", "luistergroep_participants",
            "no_sessions_held"),
      "Attendances / sessions held, in basis points of one person (25 000 = 2.5 people per session).",
      kinds=LUISTERGROEP),
    I("luistergroep_rsvp_yes_attended_bp", "luistergroepen", "Ja-RSVP's die kwamen", "Yes RSVPs who came",
      Unit.RATIO_BP,
      Ratio("luistergroep_rsvp_yes_came", "luistergroep_rsvp_yes", "luistergroep_rsvp_yes", "no_rsvp_yes"),
      "Of the 'yes' answers to sessions held in the period, those whose member was present / all 'yes' "
      "answers to those sessions.", kinds=LUISTERGROEP),
)
del I

BY_KEY = {indicator.key: indicator for indicator in INDICATORS}
TOPICS = {"groups": ("Groepen", "Groups"), "members": ("Leden", "Members"), "savings": ("Sparen", "Savings"),
          "loans": ("Leningen", "Loans"), "share_outs": ("Uitkeringen", "Share-outs"),
          "luistergroepen": ("Luistergroepen", "Luistergroepen")}
UNDEFINED_REASONS = sorted({i.recipe.undefined for i in INDICATORS if i.recipe.undefined})

CONVENTIONS = f"""\
- **Period.** `from` and `to` are local dates in {TIMEZONE}, both included; at most 60 calendar months.
- **Held.** A spaarkring meeting is held once it is closed; figures about money count the entries of held
  meetings, dated by the meeting (`scheduled_for`), not by when a phone sent them. A luistergroep session
  is held when it was not cancelled and its attendance was recorded.
- **Flows and stocks.** Most indicators count what happened in the period and are also given per month.
  Those marked *end* are a stock taken at the end of the period and have no months.
- **Breakdowns.** Every indicator is given in total, per kind of group (`spaarkring`, `luistergroep`, only
  the kinds it applies to), per group status (`begeleid`, `zelfstandig`, `gestopt`: the status as it is
  now) and, for flows, per month.
- **Units.** `count`; `cents` (euro cents; the XLSX shows euros); `ratio_bp` (basis points: 10 000 = 100 %;
  the XLSX shows a percentage). Divisions are in whole numbers, rounded half up.
- **Undefined.** A ratio whose denominator is 0 (no loans in a saving-only kring, no share-out yet) is
  `null` with the reason, never 0: {", ".join(f"`{r}`" for r in UNDEFINED_REASONS)}.
- **Privacy.** No names, phone numbers, ids of members, users or groups, and no group names: aggregates
  only. A figure about 1 to 4 people is suppressed (`fewer_than_5`); a figure about nobody is shown (0). In
  each breakdown, if a cell is suppressed and the total is shown, more cells are suppressed
  (`protects_a_suppressed_cell`), fewest people first, until the total minus the visible cells gives none
  of the suppressed cells back and is itself about at least 5 people; if that can't be done, only the
  total is given. Contributors are the distinct members a figure describes: for group counts the members
  of those groups, for loans the borrowers, for share-outs the members paid; a ratio counts those of its
  denominator, or of its numerator when fewer (otherwise portfolio at risk × loans outstanding would give
  one late borrower's balance).
- **Not prevented.** Two exports of overlapping periods can be subtracted from each other (January–March
  against January–April gives April). Suppression protects the figures of one export; use fixed reporting
  periods (months, quarters, years) when that matters.
- **Formats.** JSON carries `definitions_version` and a `definitions` list; XLSX a sheet of definitions;
  CSV a `definitions_version` column and the formula of each indicator in a `definition` column on every
  row. Suppressed figures are `{{"value": null, "suppressed": true, "reason": ...}}` in JSON and the word
  *onderdrukt* / *suppressed* in CSV and XLSX, never 0.
"""


def markdown() -> str:
    """docs/indicators.md, generated from the table above."""
    lines = [
        "# Kringkas impact export: the indicators",
        "",
        "<!-- generated by `python -m domain.indicators` from domain/indicators.py; do not edit by hand -->",
        "",
        f"Definitions version: **{DEFINITIONS_VERSION}**. Served by "
        "`GET /api/v1/exports/impact?programme_id=&from=&to=&format=csv|xlsx|json` (funders of the programme, "
        "admins of its organisation). The export shows reach, participation, continuity and financial "
        "activity; it does not measure impact.",
        "",
        "## Conventions",
        "",
        CONVENTIONS,
    ]
    for topic, (nl, en) in TOPICS.items():
        lines += [f"## {en} ({nl})", "", "| key | name (nl / en) | unit | formula | SEEP/SAVIX | breakdowns |",
                  "|---|---|---|---|---|---|"]
        for i in (x for x in INDICATORS if x.topic == topic):
            kinds = "" if i.kinds == BOTH else f" ({', '.join(k.value for k in i.kinds)} only)"
            when = "" if i.by_month else " *end*"
            lines.append(f"| `{i.key}` | {i.name_nl} / {i.name_en} | {i.unit.value}{when} | {_formula(i)} | "
                         f"{i.seep or ''} | {', '.join(b.value for b in i.breakdowns)}{kinds} |")
        lines.append("")
    return "\n".join(lines)


def _formula(indicator: Indicator) -> str:
    return indicator.formula.replace("|", "\\|")


def definition_rows() -> Iterator[dict[str, object]]:
    """The definitions as every export carries them."""
    for i in INDICATORS:
        yield {"key": i.key, "topic": i.topic, "name_nl": i.name_nl, "name_en": i.name_en, "unit": i.unit.value,
               "formula": i.formula, "seep_name": i.seep, "group_kinds": [k.value for k in i.kinds],
               "breakdowns": [b.value for b in i.breakdowns], "stock_at_end": not i.by_month}


if __name__ == "__main__":
    print(markdown(), end="")
