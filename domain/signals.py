"""Which group needs a visit now: signals for begeleiders, computed from what was already recorded.

The whole list costs a fixed number of SQL statements, whatever the number of groups: each query below
covers all the caller's groups at once, and the rest is plain Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.access import Actor, require_role, visible_group_ids
from domain.cycles import Assignment, holders_at
from domain.ledger import cash_effect
from domain.models import (
    Attendance,
    AttendanceStatus,
    Cycle,
    CycleRole,
    CycleStatus,
    EntryKind,
    Group,
    GroupKind,
    GroupStatus,
    LedgerEntry,
    Loan,
    LoanStatus,
    Meeting,
    MeetingNote,
    MeetingStatus,
    Member,
    Role,
    RoleAssignment,
    SessionAttendance,
    SessionOccurrence,
    SessionSeries,
    SessionStatus,
)
from domain.scheduling import compile_rule, first_on_or_after, zone

# The one table of thresholds. A reason adds its weight to the score; a group needs attention when its
# score reaches NEEDS_ATTENTION_AT. Rates are in basis points (10 000 = 100 %).
THRESHOLDS = {
    "attendance_falling": {"weight": 3, "drop_bp": 1500, "window": 4, "min_meetings": 2},
    "attendance_low": {"weight": 2, "below_bp": 6000},
    "meetings_missed": {"weight": 2, "grace_days": 2},
    "no_next_meeting": {"weight": 2},
    "cash_discrepancy": {"weight": 3},
    "box_touched_between_meetings": {"weight": 2},
    "presentielijst_unsigned": {"weight": 1},
    "loans_overdue": {"weight": 3},
    "roles_not_rotating": {"weight": 1, "meetings": 6},
    "too_few_members": {"weight": 3, "below": 5},
    "members_leaving": {"weight": 2, "at_least": 2, "days": 90},
    "sessions_cancelled": {"weight": 2, "at_least": 2, "days": 56},
}
NEEDS_ATTENTION_AT = 3


@dataclass(slots=True)
class GroupSignals:
    group_id: UUID
    name: str
    kind: str
    status: str
    last_meeting_at: datetime | None = None
    next_meeting_at: datetime | None = None
    attendance_recent_bp: int | None = None
    attendance_earlier_bp: int | None = None
    meetings_missed: int = 0
    discrepancies: int = 0
    discrepancy_total_cents: int = 0
    opening_differences: int = 0
    unsigned_presentielijsten: int = 0
    overdue_loans: int = 0
    overdue_cents: int = 0
    roles_not_rotating: list[str] = field(default_factory=list)
    active_members: int = 0
    members_left_recently: int = 0
    sessions_held: int = 0  # luistergroepen, last 8 weeks
    sessions_cancelled: int = 0
    session_attendance: int = 0  # people counted over those sessions
    attention_reasons: list[str] = field(default_factory=list)
    attention_score: int = 0

    @property
    def attendance_trend_bp(self) -> int | None:
        if self.attendance_recent_bp is None or self.attendance_earlier_bp is None:
            return None
        return self.attendance_recent_bp - self.attendance_earlier_bp

    @property
    def needs_attention(self) -> bool:
        return self.attention_score >= NEEDS_ATTENTION_AT


# --- pure rules --------------------------------------------------------------------------------
def rate_bp(attending: int, on_the_roll: int) -> int | None:
    return None if on_the_roll == 0 else attending * 10_000 // on_the_roll


def trend(rates: Sequence[tuple[int, int]], window: int) -> tuple[int | None, int | None]:
    """Attendance over the last `window` held meetings against the `window` before, as rates in bp.
    `rates` holds (attending, on the roll) per held meeting, oldest first."""
    recent, earlier = rates[-window:], rates[-2 * window:-window]
    pooled = [rate_bp(sum(a for a, _ in part), sum(r for _, r in part)) if part else None for part in (recent, earlier)]
    return pooled[0], pooled[1]


def unrotated_roles(assignments: Iterable[Assignment], held_meeting_nos: Sequence[int], run: int) -> list[str]:
    """Voorzitter or boekhouder held by the same person for the last `run` held meetings."""
    held = sorted(held_meeting_nos)[-run:]
    if len(held) < run:
        return []
    assignments = list(assignments)
    stuck = []
    for role in (CycleRole.VOORZITTER, CycleRole.BOEKHOUDER):
        holders = {holders_at(assignments, n)[role] for n in held}
        if len(holders) == 1 and next(iter(holders)):
            stuck.append(role.value)
    return stuck


def score(signals: GroupSignals) -> None:
    """Fill in the reasons and the score from the table above."""
    reasons: list[str] = []
    t = THRESHOLDS
    trend_bp = signals.attendance_trend_bp
    if trend_bp is not None and trend_bp <= -t["attendance_falling"]["drop_bp"]:
        reasons.append("attendance_falling")
    if signals.attendance_recent_bp is not None and signals.attendance_recent_bp < t["attendance_low"]["below_bp"]:
        reasons.append("attendance_low")
    if signals.meetings_missed:
        reasons.append("meetings_missed")
    if signals.next_meeting_at is None and signals.kind == GroupKind.SPAARKRING:
        reasons.append("no_next_meeting")
    if signals.discrepancies:
        reasons.append("cash_discrepancy")
    if signals.opening_differences:
        reasons.append("box_touched_between_meetings")
    if signals.unsigned_presentielijsten:
        reasons.append("presentielijst_unsigned")
    if signals.overdue_loans:
        reasons.append("loans_overdue")
    if signals.roles_not_rotating:
        reasons.append("roles_not_rotating")
    if signals.active_members < t["too_few_members"]["below"]:
        reasons.append("too_few_members")
    if signals.members_left_recently >= t["members_leaving"]["at_least"]:
        reasons.append("members_leaving")
    if signals.sessions_cancelled >= t["sessions_cancelled"]["at_least"]:
        reasons.append("sessions_cancelled")
    if signals.kind == GroupKind.LUISTERGROEP and signals.next_meeting_at is None:
        reasons.append("no_next_meeting")
    signals.attention_reasons = reasons
    signals.attention_score = sum(int(t[r]["weight"]) for r in reasons)


# --- the queries -------------------------------------------------------------------------------
async def coach_groups(db: AsyncSession, actor: Actor, now: datetime) -> list[GroupSignals]:
    """The caller's groups (a begeleider: theirs; an admin: all of the organisation), most urgent first."""
    require_role(actor, Role.ADMIN, Role.BEGELEIDER)
    groups = list((await db.execute(select(Group).where(
        Group.id.in_(visible_group_ids(actor)), Group.status != GroupStatus.GESTOPT))).scalars())
    result = {g.id: GroupSignals(g.id, g.name, g.kind.value, g.status.value) for g in groups}
    ids = list(result)
    if not ids:
        return []
    await _meetings(db, ids, result, now)
    await _attendance(db, ids, result)
    await _discrepancies(db, ids, result)
    await _overdue(db, ids, result)
    await _roles(db, ids, result)
    await _members(db, ids, result, now.date())
    await _sessions(db, ids, result, now)
    for signals in result.values():
        score(signals)
    return sorted(result.values(), key=lambda s: (-s.attention_score, s.name, str(s.group_id)))


async def _meetings(db: AsyncSession, ids: list[UUID], result: dict[UUID, GroupSignals], now: datetime) -> None:
    grace = timedelta(days=THRESHOLDS["meetings_missed"]["grace_days"])
    rows = await db.execute(
        select(Meeting.group_id, Meeting.status, Meeting.scheduled_for, Meeting.signed_at,
               Meeting.opening_difference_cents)
        .join(Cycle, Cycle.id == Meeting.cycle_id)
        .where(Meeting.group_id.in_(ids), Cycle.status != CycleStatus.CLOSED))
    for group_id, status, scheduled_for, signed_at, opening_difference in rows:
        signals = result[group_id]
        if status == MeetingStatus.CLOSED:
            signals.last_meeting_at = max(filter(None, [signals.last_meeting_at, scheduled_for]))
            signals.unsigned_presentielijsten += signed_at is None
            signals.opening_differences += bool(opening_difference)
        elif status == MeetingStatus.PLANNED and scheduled_for < now - grace:
            signals.meetings_missed += 1
        elif status == MeetingStatus.PLANNED and scheduled_for >= now:
            if signals.next_meeting_at is None or scheduled_for < signals.next_meeting_at:
                signals.next_meeting_at = scheduled_for
        elif status == MeetingStatus.OPEN:
            signals.next_meeting_at = signals.next_meeting_at or scheduled_for


async def _attendance(db: AsyncSession, ids: list[UUID], result: dict[UUID, GroupSignals]) -> None:
    attending = func.sum(case((Attendance.status.in_([AttendanceStatus.PRESENT, AttendanceStatus.LATE]), 1), else_=0))
    rows = await db.execute(
        select(Meeting.group_id, Meeting.scheduled_for, attending, func.count())
        .join(Attendance, Attendance.meeting_id == Meeting.id)
        .where(Meeting.group_id.in_(ids), Meeting.status == MeetingStatus.CLOSED)
        .group_by(Meeting.group_id, Meeting.id, Meeting.scheduled_for))
    per_group: dict[UUID, list[tuple[datetime, int, int]]] = defaultdict(list)
    for group_id, scheduled_for, present, roll in rows:
        per_group[group_id].append((scheduled_for, int(present or 0), int(roll)))
    window = int(THRESHOLDS["attendance_falling"]["window"])
    for group_id, held in per_group.items():
        rates = [(present, roll) for _, present, roll in sorted(held)]
        recent, earlier = trend(rates, window)
        result[group_id].attendance_recent_bp = recent
        enough = len(rates) - window >= THRESHOLDS["attendance_falling"]["min_meetings"]
        result[group_id].attendance_earlier_bp = earlier if enough else None


async def _discrepancies(db: AsyncSession, ids: list[UUID], result: dict[UUID, GroupSignals]) -> None:
    """Closed meetings whose count differed from the books, unless explained or corrected since."""
    meetings = (await db.execute(
        select(Meeting.id, Meeting.group_id, Meeting.cycle_id, Meeting.meeting_no, Meeting.discrepancy_cents)
        .where(Meeting.group_id.in_(ids), Meeting.status == MeetingStatus.CLOSED, Meeting.discrepancy_cents != 0,
               Meeting.id.not_in(select(MeetingNote.meeting_id))))).all()
    if not meetings:
        return
    original, original_meeting, at = aliased(LedgerEntry), aliased(Meeting), aliased(Meeting)
    fixes = (await db.execute(
        select(LedgerEntry.cycle_id, original_meeting.meeting_no, at.meeting_no, LedgerEntry.kind,
               LedgerEntry.amount_cents)
        .join(original, original.id == LedgerEntry.reverses_id)
        .join(original_meeting, original_meeting.id == original.meeting_id)
        .join(at, at.id == LedgerEntry.meeting_id)
        .where(at.group_id.in_(ids), original_meeting.group_id.in_(ids), LedgerEntry.reverses_id.is_not(None),
               at.meeting_no > original_meeting.meeting_no))).all()
    for _, group_id, cycle_id, meeting_no, discrepancy in meetings:
        fix = sum(cash_effect(EntryKind(kind), amount) for c, from_no, at_no, kind, amount in fixes
                  if c == cycle_id and from_no <= meeting_no < at_no)
        if outstanding := discrepancy - fix:
            result[group_id].discrepancies += 1
            result[group_id].discrepancy_total_cents += outstanding


async def _overdue(db: AsyncSession, ids: list[UUID], result: dict[UUID, GroupSignals]) -> None:
    repaid = (select(LedgerEntry.loan_id, func.sum(LedgerEntry.amount_cents).label("paid"))
              .where(LedgerEntry.kind.in_([EntryKind.REPAYMENT_PRINCIPAL, EntryKind.REPAYMENT_INTEREST]))
              .group_by(LedgerEntry.loan_id).subquery())
    rows = await db.execute(
        select(Loan.group_id, func.count(), func.sum(Loan.principal_cents + func.coalesce(Loan.interest_cents, 0)
                                                    - func.coalesce(repaid.c.paid, 0)))
        .outerjoin(repaid, repaid.c.loan_id == Loan.id)
        .where(Loan.group_id.in_(ids), Loan.status == LoanStatus.OVERDUE).group_by(Loan.group_id))
    for group_id, count, outstanding in rows:
        result[group_id].overdue_loans, result[group_id].overdue_cents = int(count), int(outstanding or 0)


async def _roles(db: AsyncSession, ids: list[UUID], result: dict[UUID, GroupSignals]) -> None:
    assignments = await db.execute(
        select(Cycle.group_id, RoleAssignment.member_id, RoleAssignment.role, RoleAssignment.from_meeting_no)
        .join(Cycle, Cycle.id == RoleAssignment.cycle_id)
        .where(Cycle.group_id.in_(ids), Cycle.status != CycleStatus.CLOSED))
    held = await db.execute(
        select(Meeting.group_id, Meeting.meeting_no).join(Cycle, Cycle.id == Meeting.cycle_id)
        .where(Meeting.group_id.in_(ids), Cycle.status != CycleStatus.CLOSED, Meeting.status == MeetingStatus.CLOSED))
    by_group: dict[UUID, list[Assignment]] = defaultdict(list)
    for group_id, member_id, role, from_no in assignments:
        by_group[group_id].append(Assignment(member_id, CycleRole(role), from_no))
    held_by_group: dict[UUID, list[int]] = defaultdict(list)
    for group_id, meeting_no in held:
        held_by_group[group_id].append(meeting_no)
    run = int(THRESHOLDS["roles_not_rotating"]["meetings"])
    for group_id, assigned in by_group.items():
        result[group_id].roles_not_rotating = unrotated_roles(assigned, held_by_group[group_id], run)


async def _members(db: AsyncSession, ids: list[UUID], result: dict[UUID, GroupSignals], today: date) -> None:
    since = today - timedelta(days=int(THRESHOLDS["members_leaving"]["days"]))
    rows = await db.execute(
        select(Member.group_id,
               func.sum(case((Member.left_on.is_(None), 1), else_=0)),
               func.sum(case((and_(Member.left_on.is_not(None), Member.left_on >= since), 1), else_=0)))
        .where(Member.group_id.in_(ids)).group_by(Member.group_id))
    for group_id, active, left in rows:
        result[group_id].active_members, result[group_id].members_left_recently = int(active or 0), int(left or 0)


async def _sessions(db: AsyncSession, ids: list[UUID], result: dict[UUID, GroupSignals], now: datetime) -> None:
    """Luistergroepen: sessions held (attendance recorded) and cancelled in the last weeks, the next one
    from the series (expanded in Python, no statement per group), and the last one held."""
    since = now - timedelta(days=int(THRESHOLDS["sessions_cancelled"]["days"]))
    start = func.coalesce(SessionOccurrence.starts_at, SessionOccurrence.original_start)
    held = await db.execute(
        select(SessionSeries.group_id, SessionOccurrence.id, start, SessionOccurrence.status,
               func.count(SessionAttendance.member_id))
        .join(SessionSeries, SessionSeries.id == SessionOccurrence.series_id)
        .outerjoin(SessionAttendance, SessionAttendance.session_id == SessionOccurrence.id)
        .where(SessionSeries.group_id.in_(ids), start >= since, start <= now)
        .group_by(SessionSeries.group_id, SessionOccurrence.id, start, SessionOccurrence.status))
    for group_id, _, at, status, present in held:
        signals = result[group_id]
        if status == SessionStatus.CANCELLED:
            signals.sessions_cancelled += 1
        elif present:
            signals.sessions_held += 1
            signals.session_attendance += int(present)
            signals.last_meeting_at = max(filter(None, [signals.last_meeting_at, at]))
    series = await db.execute(select(SessionSeries).where(SessionSeries.group_id.in_(ids)))
    for one in series.scalars():
        rule = compile_rule(one.rrule, one.starts_at, one.timezone)
        upcoming = first_on_or_after(rule, one.timezone, now)
        if upcoming is None or (one.ended_from_on and upcoming.astimezone(zone(one.timezone)).date() >= one.ended_from_on):
            continue
        signals = result[one.group_id]
        if signals.next_meeting_at is None or upcoming < signals.next_meeting_at:
            signals.next_meeting_at = upcoming
