"""The funder's impact export: the indicators of domain/indicators.py for one programme and period, in
total and broken down per kind of group, per group status and per month, after disclosure control.

Cost: a fixed number of SQL statements (seven, plus the programme lookup and, on PostgreSQL, a SET LOCAL
of work_mem), whatever the number of groups, members or entries. Each *family* below is one statement:
its facts (attendance, ledger entries, members, loans, groups, sessions of the programme) are summed per
person and month and then per person in CTEs, so distinct people are counted as rows rather than with
COUNT(DISTINCT) over the raw facts, and each CTE is aggregated once per breakdown in a UNION ALL. Python
only sees a few rows per breakdown label, so memory stays flat as the programme grows (bench/exports.py).

No statement selects a name, a phone, or an id of a member, user or group into the result: ids are only
counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain import errors as e
from domain.access import Actor, get_visible_programme, require_role
from domain.disclosure import MIN_CONTRIBUTORS, Figure, Shown, disclose, primary
from domain.indicators import (
    DEFINITIONS_VERSION,
    INDICATORS,
    TIMEZONE,
    Breakdown,
    Count,
    Indicator,
    Measures,
    Ratio,
    Unit,
    definition_rows,
)
from domain.ledger import CASH_IN
from domain.models import (
    Attendance,
    AttendanceStatus,
    Cycle,
    CycleStatus,
    EntryKind,
    Group,
    GroupKind,
    GroupStatus,
    LedgerEntry,
    Loan,
    LoanStatus,
    Meeting,
    MeetingStatus,
    Member,
    Role,
    RsvpAnswer,
    SessionAttendance,
    SessionOccurrence,
    SessionRsvp,
    SessionSeries,
    SessionStatus,
    ShareOut,
)

MAX_PERIOD_MONTHS = 60
WORK_MEM = "32MB"
TOTAL = "total"
ALL = "all"


# --- the period ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Month:
    label: str  # "2026-01"
    first_on: date
    next_on: date  # the first day of the next month (or the day after the period)


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates in Europe/Amsterdam, both included."""

    from_on: date
    to_on: date

    @property
    def end_on(self) -> date:
        """The day after the period: every bound is half open."""
        return self.to_on + timedelta(days=1)

    @staticmethod
    def at(day: date) -> datetime:
        """Local midnight at the start of `day`, as an aware UTC datetime."""
        return datetime.combine(day, time(0), ZoneInfo(TIMEZONE)).astimezone(UTC)

    @property
    def start_at(self) -> datetime:
        return self.at(self.from_on)

    @property
    def end_at(self) -> datetime:
        return self.at(self.end_on)

    @property
    def months(self) -> list[Month]:
        months, first = [], self.from_on
        while first <= self.to_on:
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            months.append(Month(f"{first.year:04d}-{first.month:02d}", first, min(following, self.end_on)))
            first = following
        return months


def check_period(from_on: date, to_on: date) -> Period:
    if from_on > to_on:
        raise e.ExportPeriodReversed(from_on=from_on.isoformat(), to_on=to_on.isoformat())
    months = (to_on.year - from_on.year) * 12 + to_on.month - from_on.month + 1
    if months > MAX_PERIOD_MONTHS:
        raise e.ExportPeriodTooLong(months=months, max_months=MAX_PERIOD_MONTHS)
    return Period(from_on, to_on)


# --- SQL building blocks -------------------------------------------------------------------------
def month_at(column: Any, period: Period) -> ColumnElement[Any]:
    """The month of an aware datetime column (months in local time) as its number in the period (1, 2, …),
    NULL outside the period. A CASE over the month bounds: the same SQL on every engine, whatever its
    date functions; a number, because grouping by it is cheaper than by text under a collation."""
    return case(*[(and_(column >= period.at(m.first_on), column < period.at(m.next_on)), number)
                  for number, m in enumerate(period.months, start=1)], else_=null())


def month_on(column: Any, period: Period) -> ColumnElement[Any]:
    """The month of a date column as its number in the period, NULL outside the period."""
    return case(*[(and_(column >= m.first_on, column < m.next_on), number)
                  for number, m in enumerate(period.months, start=1)], else_=null())


def as_text(column: Any) -> ColumnElement[str]:
    return type_coerce(column, String())


def when(condition: Any, then: Any, otherwise: Any = 0) -> ColumnElement[Any]:
    return case((condition, then), else_=otherwise)


def count_if(condition: Any) -> ColumnElement[int]:
    return func.sum(when(condition, 1))


def cash_effect_sql(kind: Any, amount: Any) -> ColumnElement[int]:
    """domain.ledger.cash_effect in SQL: money in counts plus, money out counts minus."""
    return case((kind.in_([k.value for k in CASH_IN]), amount), else_=-amount)


@dataclass(frozen=True, slots=True)
class Source:
    """Aggregates over one CTE, once per breakdown it gives: `labels` maps a breakdown to its label
    column (None for the total). Distinct people are counted as rows of a CTE with one row per person
    (per person and month for the month breakdown), so no COUNT(DISTINCT) over the raw facts is needed."""

    labels: Mapping[str, Any]
    scalars: Mapping[str, ColumnElement[Any]]


def dims(c: Any) -> dict[str, Any]:
    """The breakdowns of a CTE with `gkind` and `gstatus` columns: the total, per kind, per status."""
    return {TOTAL: None, Breakdown.KIND.value: c.gkind, Breakdown.STATUS.value: c.gstatus}


def rollup(*sources: Source) -> CompoundSelect:
    """One statement: a UNION ALL of every source aggregated by each of its labels. Each row is
    (breakdown, label, every scalar of every source: NULL where the row's source has no such scalar)."""
    names = list(dict.fromkeys(name for source in sources for name in source.scalars))
    selects = []
    for source in sources:
        for breakdown, label in source.labels.items():
            shown = cast(label, String) if breakdown == Breakdown.MONTH.value else label  # the month's number
            columns: list[Any] = [literal_column(f"'{breakdown}'").label("breakdown"),
                                  (shown if label is not None else literal_column(f"'{ALL}'")).label("label")]
            columns += [(source.scalars[name] if name in source.scalars else cast(null(), BigInteger)).label(name)
                        for name in names]  # a typed NULL: PostgreSQL matches UNION columns pairwise
            stmt = select(*columns)
            if not stmt.get_final_froms():  # a bare count(*) would count one row of nothing
                raise TypeError(f"a source of {names} names no column, so its total would have no FROM")
            selects.append(stmt.group_by(label) if label is not None else stmt)
    return union_all(*selects)


@dataclass(frozen=True, slots=True)
class Value:
    value: int | None
    people: int


@dataclass(slots=True)
class Collected:
    """What the families found: (breakdown, label) -> measure -> value, and which measures they compute
    (a computed measure absent for a label is 0 about nobody)."""

    values: dict[tuple[str, str], dict[str, Value]] = field(default_factory=dict)
    available: set[str] = field(default_factory=set)

    def slot(self, breakdown: str, label: str) -> dict[str, Value]:
        return self.values.setdefault((breakdown, label), {})


Scalars = dict[tuple[str, str], dict[str, int]]


async def run(db: AsyncSession, period: Period, into: Collected, measures: Mapping[str, tuple[str, str]],
              *sources: Source) -> Scalars:
    """Run one family's statement; each measure is (its value's scalar, its people's scalar). Returns the
    scalars per (breakdown, label) for measures a family derives itself."""
    scalars: Scalars = {}
    labels = {str(number): m.label for number, m in enumerate(period.months, start=1)}
    for row in (await db.execute(rollup(*sources))).all():
        mapping = row._mapping
        if mapping["label"] is None:
            continue  # facts outside the period, kept only for a stock
        breakdown, label = mapping["breakdown"], mapping["label"]
        if breakdown == Breakdown.MONTH.value:
            label = labels[label]
        slot = scalars.setdefault((breakdown, label), {})
        for name, value in mapping.items():
            if name not in ("breakdown", "label") and value is not None:
                slot[name] = slot.get(name, 0) + int(value)
    into.available.update(measures)
    for key, slot in scalars.items():
        target = into.slot(*key)
        for name, (value, people) in measures.items():
            if value in slot:
                target[name] = Value(slot[value], slot.get(people, 0))
    return scalars


def median_sources(per_person: Any, amount: Any, breakdowns: Mapping[str, Any]) -> list[Source]:
    """The median of `amount` over the rows of `per_person` where it is above zero, per label: the one or
    two middle values by window functions (summed, with their number; the caller divides)."""
    partitions = {name: ([label] if label is not None else []) for name, label in breakdowns.items()}
    windows = []
    for name, partition in partitions.items():
        windows += [func.row_number().over(partition_by=partition or None, order_by=amount).label(f"rn_{name}"),
                    func.count().over(partition_by=partition or None).label(f"n_{name}")]
    ranked = (select(*[label.label(f"l_{name}") for name, label in breakdowns.items() if label is not None],
                     amount.label("amount"), *windows).where(amount > 0)
              .cte(f"{per_person.name}_ranked"))  # one CTE, ranked once for every breakdown
    sources = []
    for name, label in breakdowns.items():
        rn, n = ranked.c[f"rn_{name}"], ranked.c[f"n_{name}"]
        middle = and_(2 * rn >= n, 2 * rn <= n + 2)  # the middle one, or the middle two
        sources.append(Source({name: ranked.c[f"l_{name}"] if label is not None else None},
                              {"middle_sum": func.sum(when(middle, ranked.c.amount)), "middle_n": count_if(middle)}))
    return sources


# --- the families --------------------------------------------------------------------------------
HELD = MeetingStatus.CLOSED


def in_programme(programme_id: UUID) -> ColumnElement[bool]:
    return Group.programme_id == programme_id


def programme_groups(programme_id: UUID) -> Select[Any]:
    return select(Group.id).where(in_programme(programme_id))


def with_group(per_member: Any, *columns: Any) -> Select[Any]:
    """A per-member CTE's rows with the member's group's kind and status, summed per member."""
    return (select(per_member.c.member_id, as_text(Group.kind).label("gkind"), as_text(Group.status).label("gstatus"),
                   *columns)
            .join(Member, Member.id == per_member.c.member_id).join(Group, Group.id == Member.group_id)
            .group_by(per_member.c.member_id, Group.kind, Group.status))


def held_meetings(programme_id: UUID, period: Period, name: str, *, loan_funds: bool = False) -> Any:
    """The programme's held meetings in the period, each with its month, kind and status worked out once
    (MATERIALIZED: not once per attendance or entry joined to it). With `loan_funds`, also the meetings
    before the period of cycles whose loan fund is still open at its end."""
    in_period = Meeting.scheduled_for >= period.start_at
    loan_fund = and_(Cycle.max_loan_multiple > 0, or_(Cycle.closed_at.is_(None), Cycle.closed_at >= period.end_at))
    stmt = (select(Meeting.id, Meeting.group_id, as_text(Group.kind).label("gkind"),
                   as_text(Group.status).label("gstatus"), month_at(Meeting.scheduled_for, period).label("month"),
                   when(in_period, 1).label("in_period"), when(loan_fund, 1).label("loan_fund"))
            .join(Group, Group.id == Meeting.group_id).join(Cycle, Cycle.id == Meeting.cycle_id)
            .where(in_programme(programme_id), Meeting.status == HELD, Meeting.scheduled_for < period.end_at,
                   or_(in_period, loan_fund) if loan_funds else in_period))
    return stmt.cte(name).prefix_with("MATERIALIZED")


async def _activity(db: AsyncSession, programme_id: UUID, period: Period, into: Collected) -> None:
    """Spaarkring meetings held in the period and their presentielijsten."""
    meetings = held_meetings(programme_id, period, "activity_meetings")
    attended = Attendance.status.in_([AttendanceStatus.PRESENT, AttendanceStatus.LATE])
    raw = (select(Attendance.member_id, meetings.c.month, when(attended, 1).label("came"))
           .join(meetings, meetings.c.id == Attendance.meeting_id)).subquery()
    per_month = (select(raw.c.member_id, raw.c.month, func.count().label("roll"), func.sum(raw.c.came).label("came"))
                 .group_by(raw.c.member_id, raw.c.month)).cte("activity_per_month")
    per_member = with_group(per_month, func.sum(per_month.c.roll).label("roll"),
                            func.sum(per_month.c.came).label("came")).cte("activity_per_member")

    def attendance(c: Any) -> dict[str, ColumnElement[Any]]:
        return {"roll": func.sum(c.roll), "came": func.sum(c.came), "on_roll": func.count(),
                "attending": count_if(c.came > 0)}

    await run(db, period, into,
              {"meetings_held": ("meetings", "on_roll"), "groups_active": ("groups", "on_roll"),
               "attendance_roll": ("roll", "on_roll"), "attendance_attended": ("came", "attending"),
               "members_active": ("attending", "attending")},
              Source(dims(per_member.c), attendance(per_member.c)),
              Source({Breakdown.MONTH.value: per_month.c.month}, attendance(per_month.c)),
              Source({**dims(meetings.c), Breakdown.MONTH.value: meetings.c.month},
                     {"meetings": func.count(), "groups": func.count(func.distinct(meetings.c.group_id))}))


async def _members(db: AsyncSession, programme_id: UUID, period: Period, into: Collected) -> None:
    at_end = and_(Member.joined_on <= period.to_on, or_(Member.left_on.is_(None), Member.left_on > period.to_on),
                  or_(Group.stopped_on.is_(None), Group.stopped_on > period.to_on))
    facts = (select(as_text(Group.kind).label("gkind"), as_text(Group.status).label("gstatus"),
                    month_on(Member.joined_on, period).label("joined"), month_on(Member.left_on, period).label("left"),
                    when(at_end, 1).label("at_end"))
             .join(Group, Group.id == Member.group_id)
             .where(in_programme(programme_id), Member.joined_on <= period.to_on)).cte("member_facts")
    c = facts.c
    await run(db, period, into,
              {"members_joined": ("joined", "joined"), "members_left": ("left", "left"),
               "members_at_end": ("at_end", "at_end")},
              Source(dims(c), {"joined": func.count(c.joined), "left": func.count(c.left), "at_end": func.sum(c.at_end)}),
              Source({Breakdown.MONTH.value: c.joined}, {"joined": func.count()}),
              Source({Breakdown.MONTH.value: c.left}, {"left": func.count()}))


CYCLES_FOLLOWED = (1, 2, 3)


async def _groups(db: AsyncSession, programme_id: UUID, period: Period, into: Collected) -> None:
    """Groups started and stopped, and how far they got through their cycles by the end of the period.
    A group's contributors are its members (joined by the end of the period)."""
    members = (select(Member.group_id, func.count().label("people")).where(Member.joined_on <= period.to_on)
               .group_by(Member.group_id).subquery())
    done = {n: func.max(when(and_(Cycle.number == n, Cycle.status == CycleStatus.CLOSED,
                                  Cycle.closed_at < period.end_at), 1)) for n in CYCLES_FOLLOWED}
    started = {n: func.max(when(and_(Cycle.number == n + 1, Cycle.starts_on <= period.to_on), 1))
               for n in CYCLES_FOLLOWED}
    cycles = (select(Cycle.group_id, *[d.label(f"done_{n}") for n, d in done.items()],
                     *[s.label(f"next_{n}") for n, s in started.items()]).group_by(Cycle.group_id).subquery())
    facts = (select(as_text(Group.kind).label("gkind"), as_text(Group.status).label("gstatus"),
                    func.coalesce(members.c.people, 0).label("people"),
                    month_at(Group.created_at, period).label("created"), month_on(Group.stopped_on, period).label("stopped"),
                    when(Group.status == GroupStatus.ZELFSTANDIG, 1).label("zelfstandig"),
                    *[func.coalesce(cycles.c[f"done_{n}"], 0).label(f"done_{n}") for n in CYCLES_FOLLOWED],
                    *[func.coalesce(cycles.c[f"next_{n}"], 0).label(f"next_{n}") for n in CYCLES_FOLLOWED])
             .outerjoin(members, members.c.group_id == Group.id).outerjoin(cycles, cycles.c.group_id == Group.id)
             .where(in_programme(programme_id))).cte("group_facts")
    c = facts.c
    stocks: dict[str, ColumnElement[Any]] = {
        "started": func.count(c.created), "started_people": func.sum(when(c.created.is_not(None), c.people)),
        "stopped": func.count(c.stopped), "stopped_people": func.sum(when(c.stopped.is_not(None), c.people)),
        "zelfstandig": func.sum(c.done_1 * c.zelfstandig), "zelfstandig_people": func.sum(c.done_1 * c.zelfstandig * c.people)}
    measures = {"groups_started": ("started", "started_people"), "groups_stopped": ("stopped", "stopped_people"),
                "groups_zelfstandig_after_first_cycle": ("zelfstandig", "zelfstandig_people")}
    for n in CYCLES_FOLLOWED:
        done_n, next_n = c[f"done_{n}"], c[f"next_{n}"]
        stocks |= {f"done_{n}": func.sum(done_n), f"done_{n}_people": func.sum(done_n * c.people),
                   f"next_{n}": func.sum(done_n * next_n), f"next_{n}_people": func.sum(done_n * next_n * c.people)}
        measures |= {f"groups_completed_cycle_{n}": (f"done_{n}", f"done_{n}_people"),
                     f"groups_continued_after_{n}": (f"next_{n}", f"next_{n}_people")}
    await run(db, period, into, measures, Source(dims(c), stocks),
              Source({Breakdown.MONTH.value: c.created}, {"started": func.count(), "started_people": func.sum(c.people)}),
              Source({Breakdown.MONTH.value: c.stopped}, {"stopped": func.count(), "stopped_people": func.sum(c.people)}))


SHARE_OUT_KINDS = [EntryKind.SHARE_OUT_SAVINGS.value, EntryKind.SHARE_OUT_INTEREST.value]


async def _ledger(db: AsyncSession, programme_id: UUID, period: Period, into: Collected) -> None:
    """Money: deposits (and who saved how much) and share-outs in the period, and the cash in the loan
    funds at its end. Summed per member and month first, then per member."""
    meetings = held_meetings(programme_id, period, "ledger_meetings", loan_funds=True)
    # one entry's amount fits an INTEGER, and summing INTEGERs is much cheaper than BIGINTs (no NUMERIC)
    raw = (select(LedgerEntry.member_id, as_text(LedgerEntry.kind).label("kind"),
                  cast(LedgerEntry.amount_cents, Integer).label("amount"),
                  meetings.c.month, meetings.c.in_period, meetings.c.loan_fund)
           .join(meetings, meetings.c.id == LedgerEntry.meeting_id)).subquery()
    r = raw.c
    deposit = and_(r.in_period == 1, r.kind == EntryKind.DEPOSIT.value)
    share_out = and_(r.in_period == 1, r.kind.in_(SHARE_OUT_KINDS))
    per_month = (select(r.member_id, r.month,
                        func.sum(when(deposit, r.amount)).label("saved"), func.max(when(deposit, 1)).label("deposited"),
                        func.sum(when(share_out, r.amount)).label("paid"),
                        func.sum(when(and_(share_out, r.kind == EntryKind.SHARE_OUT_SAVINGS.value), r.amount))
                        .label("paid_savings"),
                        func.sum(when(and_(share_out, r.kind == EntryKind.SHARE_OUT_INTEREST.value), r.amount))
                        .label("paid_interest"),
                        func.max(when(share_out, 1)).label("was_paid"),
                        func.sum(when(r.loan_fund == 1, cash_effect_sql(r.kind, r.amount))).label("cash"),
                        func.max(r.loan_fund).label("in_fund"))
                 .group_by(r.member_id, r.month)).cte("ledger_per_month")
    m = per_month.c
    per_member = with_group(per_month, *[func.sum(m[name]).label(name) for name in
                                         ("saved", "paid", "paid_savings", "paid_interest", "cash")],
                            *[func.max(m[name]).label(name) for name in ("deposited", "was_paid", "in_fund")]
                            ).cte("ledger_per_member")
    shared_out = (select(as_text(Group.kind).label("gkind"), as_text(Group.status).label("gstatus"),
                         month_at(Meeting.scheduled_for, period).label("month"))
                  .select_from(ShareOut).join(Meeting, Meeting.id == ShareOut.meeting_id)
                  .join(Group, Group.id == Meeting.group_id)
                  .where(in_programme(programme_id), Meeting.status == HELD, Meeting.scheduled_for >= period.start_at,
                         Meeting.scheduled_for < period.end_at)).cte("ledger_share_outs")

    def money(c: Any) -> dict[str, ColumnElement[Any]]:
        return {"savings": func.sum(c.saved), "depositors": func.sum(c.deposited), "savers": count_if(c.saved > 0),
                "paid": func.sum(c.paid), "paid_savings": func.sum(c.paid_savings),
                "paid_interest": func.sum(c.paid_interest), "paid_people": func.sum(c.was_paid)}

    p = per_member.c
    scalars = await run(
        db, period, into,
        {"savings_cents": ("savings", "depositors"), "savers": ("savers", "savers"),
         "share_outs_completed": ("share_outs", "paid_people"), "share_out_paid_cents": ("paid", "paid_people"),
         "share_out_savings_cents": ("paid_savings", "paid_people"),
         "share_out_interest_cents": ("paid_interest", "paid_people"),
         "loan_fund_cash_cents": ("cash", "fund_people")},
        Source(dims(p), money(p) | {"cash": func.sum(p.cash), "fund_people": func.sum(p.in_fund)}),
        Source({Breakdown.MONTH.value: m.month}, money(m)),
        Source({**dims(shared_out.c), Breakdown.MONTH.value: shared_out.c.month}, {"share_outs": func.count(shared_out.c.gkind)}),
        *median_sources(per_member, p.saved, dims(p)),
        *median_sources(per_month, m.saved, {Breakdown.MONTH.value: m.month}))
    into.available.add("savings_median_cents")
    for key, slot in scalars.items():
        if slot.get("middle_n"):
            into.slot(*key)["savings_median_cents"] = Value(divide_half_up(slot["middle_sum"], slot["middle_n"]),
                                                            slot.get("savers", 0))


REPAYMENT_KINDS = [EntryKind.REPAYMENT_PRINCIPAL, EntryKind.REPAYMENT_INTEREST]
PAID_OUT = [LoanStatus.DISBURSED, LoanStatus.REPAID, LoanStatus.OVERDUE]


async def _loans(db: AsyncSession, programme_id: UUID, period: Period, into: Collected) -> None:
    """Loans paid out: issued and due in the period, outstanding and overdue at its end. Summed per
    borrower (and month) first, so borrowers are counted as rows."""
    paid_at, disbursed_at, due_at = aliased(Meeting), aliased(Meeting), aliased(Meeting)
    repaid_loan = aliased(Loan)
    by_end = paid_at.scheduled_for < period.end_at
    repayments = (select(LedgerEntry.loan_id.label("loan_id"),
                         func.sum(when(paid_at.meeting_no <= repaid_loan.due_meeting_no, LedgerEntry.amount_cents))
                         .label("by_due"),
                         func.sum(when(and_(by_end, LedgerEntry.kind == EntryKind.REPAYMENT_PRINCIPAL),
                                       LedgerEntry.amount_cents)).label("principal_by_end"),
                         func.sum(when(by_end, LedgerEntry.amount_cents)).label("paid_by_end"))
                  .select_from(repaid_loan)
                  .join(LedgerEntry, LedgerEntry.loan_id == repaid_loan.id)
                  .join(paid_at, paid_at.id == LedgerEntry.meeting_id)
                  .where(repaid_loan.group_id.in_(programme_groups(programme_id)),
                         LedgerEntry.kind.in_(REPAYMENT_KINDS), paid_at.status == HELD)
                  .group_by(LedgerEntry.loan_id).subquery())
    owed = Loan.principal_cents + func.coalesce(Loan.interest_cents, 0)
    issued = and_(disbursed_at.status == HELD, disbursed_at.scheduled_for >= period.start_at,
                  disbursed_at.scheduled_for < period.end_at)
    out_by_end = and_(disbursed_at.status == HELD, disbursed_at.scheduled_for < period.end_at)
    due_held = due_at.status == HELD
    due = and_(due_held, due_at.scheduled_for >= period.start_at, due_at.scheduled_for < period.end_at)
    outstanding = owed - func.coalesce(repayments.c.paid_by_end, 0)
    principal_outstanding = Loan.principal_cents - func.coalesce(repayments.c.principal_by_end, 0)
    overdue = and_(out_by_end, due_held, due_at.scheduled_for < period.end_at, outstanding > 0)
    facts = (select(Loan.member_id.label("member_id"), as_text(Group.kind).label("gkind"),
                    as_text(Group.status).label("gstatus"),
                    when(issued, 1).label("issued"), when(issued, Loan.principal_cents).label("issued_cents"),
                    month_at(disbursed_at.scheduled_for, period).label("issued_month"),
                    when(due, 1).label("due"), month_at(due_at.scheduled_for, period).label("due_month"),
                    when(and_(due, func.coalesce(repayments.c.by_due, 0) >= owed), 1).label("on_time"),
                    when(and_(out_by_end, outstanding > 0), principal_outstanding).label("outstanding"),
                    when(and_(out_by_end, outstanding > 0), 1).label("holds"),
                    when(overdue, 1).label("overdue"), when(overdue, principal_outstanding).label("overdue_cents"))
             .join(Group, Group.id == Loan.group_id)
             .join(disbursed_at, disbursed_at.id == Loan.disbursement_meeting_id)
             .outerjoin(due_at, and_(due_at.cycle_id == Loan.cycle_id, due_at.meeting_no == Loan.due_meeting_no))
             .outerjoin(repayments, repayments.c.loan_id == Loan.id)
             .where(in_programme(programme_id), Loan.status.in_(PAID_OUT))).cte("loan_facts")
    c = facts.c
    totals = ("issued", "issued_cents", "due", "on_time", "outstanding", "holds", "overdue", "overdue_cents")
    per_borrower = (select(c.member_id, c.gkind, c.gstatus, *[func.sum(c[name]).label(name) for name in totals])
                    .group_by(c.member_id, c.gkind, c.gstatus)).cte("loans_per_borrower")
    issued_per_month = (select(c.issued_month.label("month"), func.sum(c.issued).label("issued"),
                               func.sum(c.issued_cents).label("issued_cents"))
                        .where(c.issued == 1).group_by(c.member_id, c.issued_month)).cte("loans_issued_per_month")
    due_per_month = (select(c.due_month.label("month"), func.sum(c.due).label("due"), func.sum(c.on_time).label("on_time"))
                     .where(c.due == 1).group_by(c.member_id, c.due_month)).cte("loans_due_per_month")
    b = per_borrower.c
    await run(db, period, into,
              {"loans_issued": ("issued", "borrowers"), "loans_issued_cents": ("issued_cents", "borrowers"),
               "loans_due": ("due", "due_borrowers"), "loans_repaid_on_time": ("on_time", "due_borrowers"),
               "loans_outstanding_cents": ("outstanding", "holders"),
               "loans_overdue_at_end": ("overdue", "late_borrowers"), "loans_overdue_cents": ("overdue_cents", "late_borrowers")},
              Source(dims(b), {**{name: func.sum(b[name]) for name in totals if name != "holds"},
                               "borrowers": count_if(b.issued > 0), "due_borrowers": count_if(b.due > 0),
                               "holders": count_if(b.holds > 0), "late_borrowers": count_if(b.overdue > 0)}),
              Source({Breakdown.MONTH.value: issued_per_month.c.month},
                     {"issued": func.sum(issued_per_month.c.issued), "borrowers": func.count(),
                      "issued_cents": func.sum(issued_per_month.c.issued_cents)}),
              Source({Breakdown.MONTH.value: due_per_month.c.month},
                     {"due": func.sum(due_per_month.c.due), "on_time": func.sum(due_per_month.c.on_time),
                      "due_borrowers": func.count()}))


async def _retention(db: AsyncSession, programme_id: UUID, period: Period, into: Collected) -> None:
    """The presentielijst of the first meeting of each cycle shared out in the period, and who of them left."""
    first, share_out_meeting = aliased(Meeting), aliased(Meeting)
    left = and_(Member.left_on.is_not(None), Member.left_on <= func.date(share_out_meeting.scheduled_for))
    facts = (select(Attendance.member_id.label("member_id"), when(left, 0, 1).label("retained"),
                    as_text(Group.kind).label("gkind"), as_text(Group.status).label("gstatus"),
                    month_at(share_out_meeting.scheduled_for, period).label("month"))
             .select_from(ShareOut)
             .join(share_out_meeting, share_out_meeting.id == ShareOut.meeting_id)
             .join(Group, Group.id == share_out_meeting.group_id)
             .join(first, and_(first.cycle_id == ShareOut.cycle_id, first.meeting_no == 1))
             .join(Attendance, Attendance.meeting_id == first.id)
             .join(Member, Member.id == Attendance.member_id)
             .where(in_programme(programme_id), share_out_meeting.status == HELD,
                    share_out_meeting.scheduled_for >= period.start_at,
                    share_out_meeting.scheduled_for < period.end_at)).cte("retention_facts")
    c = facts.c
    scalars = {"registered": func.count(), "retained": func.sum(c.retained),
               "people": func.count(func.distinct(c.member_id))}  # a member may be on two cycles' lists
    await run(db, period, into, {"retention_registered": ("registered", "people"), "retention_retained": ("retained", "people")},
              Source({**dims(c), Breakdown.MONTH.value: c.month}, scalars))


async def _sessions(db: AsyncSession, programme_id: UUID, period: Period, into: Collected) -> None:
    """Luistergroep sessions in the period: who came, who said yes, what was cancelled. A session is only
    stored once something happened to it (a move, a cancellation, RSVPs, attendance), and every one of
    those is what counts here, so the stored occurrences are enough. The members on the roll of a
    cancelled session (its group's members that day) are its contributors."""
    starts = func.coalesce(SessionOccurrence.starts_at, SessionOccurrence.original_start)
    scheduled = SessionOccurrence.status == SessionStatus.SCHEDULED
    common = [as_text(Group.kind).label("gkind"), as_text(Group.status).label("gstatus"),
              month_at(starts, period).label("month"), SessionOccurrence.id.label("session_id"),
              Group.id.label("group_id")]
    where = [in_programme(programme_id), Group.kind == GroupKind.LUISTERGROEP, starts >= period.start_at,
             starts < period.end_at]

    def occurrences(*columns: Any) -> Select[Any]:
        return (select(*columns, *common).select_from(SessionOccurrence)
                .join(SessionSeries, SessionSeries.id == SessionOccurrence.series_id)
                .join(Group, Group.id == SessionSeries.group_id))

    came = (select(SessionAttendance.member_id).where(SessionAttendance.session_id == SessionRsvp.session_id,
                                                      SessionAttendance.member_id == SessionRsvp.member_id).exists())
    on_roll = and_(Member.joined_on <= func.date(starts),
                   or_(Member.left_on.is_(None), Member.left_on > func.date(starts)))
    facts = union_all(
        occurrences(literal_column("'present'").label("fact"), SessionAttendance.member_id.label("member_id"),
                    literal_column("0").label("came"))
        .join(SessionAttendance, SessionAttendance.session_id == SessionOccurrence.id).where(scheduled, *where),
        occurrences(literal_column("'yes'"), SessionRsvp.member_id, when(came, 1))
        .join(SessionRsvp, SessionRsvp.session_id == SessionOccurrence.id)
        .where(scheduled, SessionRsvp.answer == RsvpAnswer.YES, *where),
        occurrences(literal_column("'cancelled'"), Member.id, literal_column("0"))
        .join(Member, and_(Member.group_id == Group.id, on_roll))
        .where(SessionOccurrence.status == SessionStatus.CANCELLED, *where),
    ).cte("session_facts")
    c = facts.c
    present, yes, cancelled = c.fact == "present", c.fact == "yes", c.fact == "cancelled"

    def distinct_when(condition: Any, column: Any) -> ColumnElement[int]:
        return func.count(func.distinct(case((condition, column), else_=null())))

    held_with_yes = and_(yes, c.session_id.in_(select(facts.c.session_id).where(facts.c.fact == "present")))
    scalars = {
        "held": distinct_when(present, c.session_id), "attendances": count_if(present),
        "participants": distinct_when(present, c.member_id), "groups": distinct_when(present, c.group_id),
        "cancelled": distinct_when(cancelled, c.session_id), "on_cancelled_rolls": distinct_when(cancelled, c.member_id),
        "yes": count_if(held_with_yes), "yes_came": count_if(and_(held_with_yes, c.came == 1)),
        "said_yes": distinct_when(yes, c.member_id),
    }
    await run(db, period, into,
              {"luistergroep_sessions_held": ("held", "participants"),
               "luistergroep_attendances": ("attendances", "participants"),
               "luistergroep_participants": ("participants", "participants"),
               "luistergroepen_active": ("groups", "participants"),
               "luistergroep_sessions_cancelled": ("cancelled", "on_cancelled_rolls"),
               "luistergroep_rsvp_yes": ("yes", "said_yes"), "luistergroep_rsvp_yes_came": ("yes_came", "said_yes")},
              Source({**dims(c), Breakdown.MONTH.value: c.month}, scalars))


FAMILIES = (_activity, _members, _groups, _ledger, _loans, _retention, _sessions)


async def collect_measures(db: AsyncSession, programme_id: UUID, period: Period) -> Collected:
    """Every measure of the programme and period: one statement per family."""
    collected = Collected()
    for family in FAMILIES:
        await family(db, programme_id, period, collected)
    return collected


# --- the report ----------------------------------------------------------------------------------
def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator in whole numbers, halves rounded away from zero."""
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    n, d = abs(numerator), abs(denominator)
    return sign * ((2 * n + d) // (2 * d))


NOT_AVAILABLE = "not_available_yet"


def _total(measures: Mapping[str, Value], names: Measures) -> Value | None:
    names = (names,) if isinstance(names, str) else names
    found = [measures[name] for name in names if name in measures]
    if not found:
        return None
    return Value(sum(v.value or 0 for v in found), sum(v.people for v in found))


def figure(indicator: Indicator, measures: Mapping[str, Value], available: frozenset[str]) -> Figure:
    """One indicator from the measures of one label. An indicator none of whose measures any family
    computes is undefined (`not_available_yet`: a safety net for an indicator defined before its query);
    a measure that is merely absent for this label is 0 about nobody."""
    recipe = indicator.recipe
    names = [recipe.measure] if isinstance(recipe, Count) else [recipe.numerator, recipe.denominator, recipe.people]
    flat = {n for group in names for n in ((group,) if isinstance(group, str) else group)}
    if not flat & available:
        return Figure(None, 0, NOT_AVAILABLE)
    zero = Value(0, 0)
    if isinstance(recipe, Count):
        found = _total(measures, recipe.measure) or zero
        if recipe.undefined and (found.value is None or found.people == 0):
            return Figure(None, found.people, recipe.undefined)
        return Figure(found.value, found.people)
    assert isinstance(recipe, Ratio)
    numerator = _total(measures, recipe.numerator) or zero
    denominator = _total(measures, recipe.denominator) or zero
    people = (_total(measures, recipe.people) or zero).people
    if numerator.people:
        # a ratio times a figure that is shown (PAR × loans outstanding) gives its numerator back: a
        # numerator about 1 to 4 people (one late borrower's balance) makes the ratio about them too
        people = min(people, numerator.people)
    if not denominator.value:
        return Figure(None, people, recipe.undefined)
    return Figure(divide_half_up((numerator.value or 0) * recipe.scale, denominator.value), people)


@dataclass(frozen=True, slots=True)
class Line:
    """An indicator as exported: the headline, and per breakdown the disclosed cells (label -> shown)."""

    indicator: Indicator
    total: Shown
    cells: dict[Breakdown, dict[str, Shown]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImpactReport:
    programme_id: UUID
    programme_name: str
    period: Period
    lines: list[Line]
    labels: dict[Breakdown, list[str]]
    definitions_version: str = DEFINITIONS_VERSION
    min_contributors: int = MIN_CONTRIBUTORS


def breakdown_labels(period: Period) -> dict[Breakdown, list[str]]:
    return {Breakdown.KIND: [k.value for k in GroupKind], Breakdown.STATUS: [s.value for s in GroupStatus],
            Breakdown.MONTH: [m.label for m in period.months]}


def build_report(programme_id: UUID, programme_name: str, period: Period, collected: Collected) -> ImpactReport:
    """Pure: from the collected measures to disclosed lines."""
    available = frozenset(collected.available)
    labels = breakdown_labels(period)
    lines = []
    for indicator in INDICATORS:
        total = figure(indicator, collected.values.get((TOTAL, ALL), {}), available)
        cells: dict[Breakdown, dict[str, Shown]] = {}
        shown_total = primary(total)
        for breakdown in indicator.breakdowns:
            wanted = labels[breakdown]
            if breakdown == Breakdown.KIND:
                wanted = [k.value for k in indicator.kinds]
            figures = {label: figure(indicator, collected.values.get((breakdown.value, label), {}), available)
                       for label in wanted}
            shown_total, cells[breakdown] = disclose(total, figures)
        lines.append(Line(indicator, shown_total, cells))
    return ImpactReport(programme_id, programme_name, period, lines, labels)


async def impact_report(db: AsyncSession, actor: Actor, programme_id: UUID, from_on: date, to_on: date) -> ImpactReport:
    """Funders of the programme and admins of its organisation; other roles are refused (403), another
    programme is not found (404)."""
    require_role(actor, Role.ADMIN, Role.FUNDER)
    period = check_period(from_on, to_on)
    programme = await get_visible_programme(db, actor, programme_id)
    if db.bind.dialect.name == "postgresql":
        # the per-member sums are hashed in memory rather than sorted on disk; for this transaction only
        await db.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    collected = await collect_measures(db, programme.id, period)
    return build_report(programme.id, programme.name, period, collected)


# --- formats -------------------------------------------------------------------------------------
WORDS = {
    "nl": {"suppressed": "onderdrukt", "undefined": "n.v.t.", "total": "totaal", "indicator": "indicator",
           "name": "naam", "unit": "eenheid", "value": "waarde", "reason": "toelichting", "programme": "programma",
           "period": "periode", "version": "versie definities", "formula": "formule", "seep": "SEEP/SAVIX",
           "breakdowns": "uitsplitsingen", "kinds": "soorten groep", "name_nl": "naam (nl)", "name_en": "naam (en)",
           "sheet_indicators": "Indicatoren", "sheet_kind": "Per soort groep", "sheet_status": "Per status",
           "sheet_month": "Per maand", "sheet_definitions": "Definities",
           "note": "Onderdrukt: een cijfer over minder dan 5 mensen, of waaruit zo'n cijfer af te leiden is. "
                   "n.v.t.: niet te berekenen (zie de toelichting). Bedragen in euro's."},
    "en": {"suppressed": "suppressed", "undefined": "n/a", "total": "total", "indicator": "indicator",
           "name": "name", "unit": "unit", "value": "value", "reason": "reason", "programme": "programme",
           "period": "period", "version": "definitions version", "formula": "formula", "seep": "SEEP/SAVIX",
           "breakdowns": "breakdowns", "kinds": "kinds of group", "name_nl": "name (nl)", "name_en": "name (en)",
           "sheet_indicators": "Indicators", "sheet_kind": "By kind of group", "sheet_status": "By status",
           "sheet_month": "By month", "sheet_definitions": "Definitions",
           "note": "Suppressed: a figure about fewer than 5 people, or one from which such a figure could be "
                   "worked out. n/a: can't be computed (see the reason). Amounts in euros."},
}


def status_of(shown: Shown) -> str:
    return "suppressed" if shown.suppressed else "undefined" if shown.value is None else "ok"


CSV_HEADER = ["definitions_version", "breakdown", "label", "indicator", "name", "unit", "value", "status", "reason",
              "definition"]


def csv_rows(report: ImpactReport, lang: str) -> Iterator[list[str]]:
    """Every figure as a row: the headline (breakdown `total`, label `all`), then each breakdown's cells."""
    words = WORDS[lang]
    yield CSV_HEADER

    def row(line: Line, breakdown: str, label: str, shown: Shown) -> list[str]:
        value = words["suppressed"] if shown.suppressed else "" if shown.value is None else str(shown.value)
        i = line.indicator
        return [report.definitions_version, breakdown, label, i.key, i.name(lang), i.unit.value, value,
                status_of(shown), shown.reason or "", i.formula]

    for line in report.lines:
        yield row(line, TOTAL, ALL, line.total)
    for breakdown in Breakdown:
        for line in report.lines:
            for label, shown in line.cells.get(breakdown, {}).items():
                yield row(line, breakdown.value, label, shown)


def csv_chunks(report: ImpactReport, lang: str, rows_per_chunk: int = 200) -> Iterator[bytes]:
    """UTF-8 CSV, a header row first, in chunks for a streamed response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for count, row in enumerate(csv_rows(report, lang), start=1):
        writer.writerow(row)
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def json_figure(shown: Shown) -> dict[str, Any]:
    return {"value": shown.value, "suppressed": shown.suppressed, "reason": shown.reason}


def json_document(report: ImpactReport, lang: str) -> dict[str, Any]:
    return {
        "definitions_version": report.definitions_version,
        "programme": {"id": str(report.programme_id), "name": report.programme_name},
        "period": {"from_on": report.period.from_on.isoformat(), "to_on": report.period.to_on.isoformat(),
                   "timezone": TIMEZONE},
        "min_contributors": report.min_contributors,
        "indicators": [{"key": line.indicator.key, "name": line.indicator.name(lang),
                        "unit": line.indicator.unit.value, **json_figure(line.total)} for line in report.lines],
        "breakdowns": [
            {"breakdown": breakdown.value, "labels": report.labels[breakdown],
             "indicators": [{"key": line.indicator.key,
                             "cells": [{"label": label, **json_figure(shown)}
                                       for label, shown in line.cells[breakdown].items()]}
                            for line in report.lines if breakdown in line.cells]}
            for breakdown in Breakdown],
        "definitions": list(definition_rows()),
    }


# XLSX: money in euros and ratios as percentages are for display only, so they are the one place where
# an integer is divided into a fraction; the export's own numbers stay integers (cents, basis points).
def euros_for_display(cents: int) -> float:
    return cents / 100  # ok: display only


def fraction_for_display(basis_points: int) -> float:
    return basis_points / 10_000  # ok: display only


def write_xlsx(report: ImpactReport, lang: str, path: str) -> None:
    """A real workbook, written row by row in constant memory: indicators, one sheet per breakdown, and
    the definitions. Numbers are numbers: euros with a € format, ratios as percentages."""
    import xlsxwriter  # imported here: only this format needs it

    words = WORDS[lang]
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "in_memory": False})
    try:
        bold = workbook.add_format({"bold": True})
        formats = {Unit.CENTS: workbook.add_format({"num_format": "€ #,##0.00"}),
                   Unit.RATIO_BP: workbook.add_format({"num_format": "0.0%"}),
                   Unit.COUNT: workbook.add_format({"num_format": "0"})}
        muted = workbook.add_format({"italic": True, "font_color": "#666666"})

        def put(sheet: Any, row: int, col: int, unit: Unit, shown: Shown) -> None:
            if shown.suppressed:
                sheet.write_string(row, col, words["suppressed"], muted)
            elif shown.value is None:
                sheet.write_string(row, col, words["undefined"], muted)
            elif unit == Unit.CENTS:
                sheet.write_number(row, col, euros_for_display(shown.value), formats[unit])
            elif unit == Unit.RATIO_BP:
                sheet.write_number(row, col, fraction_for_display(shown.value), formats[unit])
            else:
                sheet.write_number(row, col, shown.value, formats[unit])

        sheet = workbook.add_worksheet(words["sheet_indicators"])
        sheet.set_column(0, 0, 38)
        sheet.set_column(1, 1, 40)
        sheet.set_column(3, 4, 18)
        head = [(words["programme"], report.programme_name),
                (words["period"], f"{report.period.from_on.isoformat()} – {report.period.to_on.isoformat()}"),
                (words["version"], report.definitions_version), ("", words["note"])]
        for row, (key, value) in enumerate(head):
            sheet.write_string(row, 0, key, bold)
            sheet.write_string(row, 1, value)
        first = len(head) + 1
        for col, title in enumerate([words["indicator"], words["name"], words["unit"], words["value"], words["reason"]]):
            sheet.write_string(first, col, title, bold)
        for row, line in enumerate(report.lines, start=first + 1):
            sheet.write_string(row, 0, line.indicator.key)
            sheet.write_string(row, 1, line.indicator.name(lang))
            sheet.write_string(row, 2, line.indicator.unit.value)
            put(sheet, row, 3, line.indicator.unit, line.total)
            if line.total.reason:
                sheet.write_string(row, 4, line.total.reason)

        for breakdown in Breakdown:
            sheet = workbook.add_worksheet(words[f"sheet_{breakdown.value}"])
            sheet.set_column(0, 0, 38)
            sheet.set_column(1, 1, 40)
            labels = report.labels[breakdown]
            for col, title in enumerate([words["indicator"], words["name"], words["total"], *labels]):
                sheet.write_string(0, col, title, bold)
            row = 1
            for line in report.lines:
                if breakdown not in line.cells:
                    continue
                sheet.write_string(row, 0, line.indicator.key)
                sheet.write_string(row, 1, line.indicator.name(lang))
                put(sheet, row, 2, line.indicator.unit, line.total)
                for col, label in enumerate(labels, start=3):
                    if label in line.cells[breakdown]:
                        put(sheet, row, col, line.indicator.unit, line.cells[breakdown][label])
                row += 1

        sheet = workbook.add_worksheet(words["sheet_definitions"])
        sheet.set_column(0, 0, 38)
        sheet.set_column(1, 2, 36)
        sheet.set_column(4, 4, 90)
        sheet.write_string(0, 0, words["version"], bold)
        sheet.write_string(0, 1, report.definitions_version)
        titles = [words["indicator"], words["name_nl"], words["name_en"], words["unit"], words["formula"],
                  words["seep"], words["breakdowns"], words["kinds"]]
        for col, title in enumerate(titles):
            sheet.write_string(2, col, title, bold)
        for row, d in enumerate(definition_rows(), start=3):
            values = [d["key"], d["name_nl"], d["name_en"], d["unit"], d["formula"], d["seep_name"] or "",
                      ", ".join(d["breakdowns"]), ", ".join(d["group_kinds"])]  # type: ignore[arg-type]
            for col, value in enumerate(values):
                sheet.write_string(row, col, str(value))
    finally:
        workbook.close()


def by_key(report: ImpactReport) -> dict[str, Line]:
    return {line.indicator.key: line for line in report.lines}


def measure_names() -> set[str]:
    """Every measure the indicators ask for (for tests: each must be computed by some family)."""
    names: set[str] = set()
    for indicator in INDICATORS:
        recipe = indicator.recipe
        groups = [recipe.measure] if isinstance(recipe, Count) else [recipe.numerator, recipe.denominator, recipe.people]
        for group in groups:
            names.update((group,) if isinstance(group, str) else group)
    return names


__all__ = ["ImpactReport", "Line", "Period", "build_report", "check_period", "collect_measures", "csv_chunks",
           "csv_rows", "impact_report", "json_document", "write_xlsx"]
