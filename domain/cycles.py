"""Cycles of a spaarkring, their rules, the rotating roles, and the meetings they plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Actor, get_visible_group, group_is_visible, require_may_manage_group
from domain.client_ids import add_once, earlier
from domain.errors import (
    CycleAlreadyOpen,
    CycleClosed,
    CycleRulesInvalid,
    GroupStopped,
    MeetingNumberOutOfRange,
    MeetingNumberTaken,
    NotACurrentMember,
    NotASpaarkring,
    ResourceNotFound,
    RoleOfHeldMeeting,
    RoleSlateInvalid,
    TwoRolesAtOneMeeting,
)
from domain.models import (
    Cycle,
    CycleRole,
    CycleStatus,
    Group,
    GroupKind,
    GroupStatus,
    InterestDistribution,
    Meeting,
    MeetingStatus,
    Member,
    RoleAssignment,
)

MAX_PLANNED_MEETINGS = 104  # two years of weekly meetings


@dataclass(frozen=True, slots=True)
class CycleRules:
    min_deposit_cents: int
    max_deposit_cents: int
    max_loan_multiple: int
    max_loan_term_meetings: int
    default_interest_rate_bp: int
    interest_distribution: InterestDistribution
    min_witnesses: int = 2
    approval_threshold_bp: int = 5000
    leaver_interest_share: bool = False

    @classmethod
    def of(cls, cycle: Cycle) -> CycleRules:
        return cls(cycle.min_deposit_cents, cycle.max_deposit_cents, cycle.max_loan_multiple,
                   cycle.max_loan_term_meetings, cycle.default_interest_rate_bp, cycle.interest_distribution,
                   cycle.min_witnesses, cycle.approval_threshold_bp, cycle.leaver_interest_share)


@dataclass(frozen=True, slots=True)
class NewCycle:
    starts_on: date
    meeting_interval_days: int
    planned_meetings: int
    rules: CycleRules
    meeting_time: str = "19:00"


def check_cycle(new: NewCycle) -> None:
    """The rules must make sense together; names every problem at once."""
    rules = new.rules
    problems: list[str] = []
    if rules.min_deposit_cents < 0:
        problems.append("rules.min_deposit_cents")
    if rules.max_deposit_cents <= 0 or rules.min_deposit_cents > rules.max_deposit_cents:
        problems.append("rules.max_deposit_cents")
    if rules.max_loan_multiple < 0:
        problems.append("rules.max_loan_multiple")
    if rules.max_loan_term_meetings < 0 or (rules.max_loan_multiple > 0 and rules.max_loan_term_meetings < 1):
        problems.append("rules.max_loan_term_meetings")
    if rules.max_loan_term_meetings >= new.planned_meetings and rules.max_loan_multiple > 0:
        problems.append("rules.max_loan_term_meetings")
    if not 0 <= rules.default_interest_rate_bp <= 10_000:
        problems.append("rules.default_interest_rate_bp")
    if not 1 <= rules.min_witnesses <= 5:
        problems.append("rules.min_witnesses")
    if not 5000 <= rules.approval_threshold_bp < 10_000:
        problems.append("rules.approval_threshold_bp")
    if not 1 <= new.meeting_interval_days <= 92:
        problems.append("meeting_interval_days")
    if not 1 <= new.planned_meetings <= MAX_PLANNED_MEETINGS:
        problems.append("planned_meetings")
    if problems:
        raise CycleRulesInvalid(fields=sorted(set(problems)))


def meeting_start(starts_on: date, interval_days: int, meeting_no: int, at: str, zone: str) -> datetime:
    """The planned start of meeting n, at the cycle's local time in the group's zone, as UTC."""
    hours, minutes = (int(part) for part in at.split(":"))
    day = starts_on + timedelta(days=interval_days * (meeting_no - 1))
    return datetime.combine(day, time(hours, minutes), tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def create_cycle(
    db: AsyncSession, actor: Actor, group_id: UUID, new: NewCycle, *, cycle_id: UUID | None = None
) -> tuple[Cycle, bool]:
    group = await get_visible_group(db, actor, group_id, for_update=True)  # 404 before 403
    require_may_manage_group(actor)

    def same(cycle: Cycle) -> bool:
        return (cycle.group_id, cycle.starts_on, cycle.meeting_interval_days, cycle.planned_meetings,
                CycleRules.of(cycle), cycle.meeting_time) == (
            group.id, new.starts_on, new.meeting_interval_days, new.planned_meetings, new.rules, new.meeting_time)

    if (found := await earlier(db, Cycle, cycle_id, same)) is not None:
        return found, False
    if group.kind != GroupKind.SPAARKRING:
        raise NotASpaarkring()
    if group.status == GroupStatus.GESTOPT:
        raise GroupStopped()
    check_cycle(new)
    unclosed = (await db.execute(select(Cycle.id).where(
        Cycle.group_id == group.id, Cycle.status != CycleStatus.CLOSED))).first()
    if unclosed is not None:
        raise CycleAlreadyOpen(cycle_id=str(unclosed[0]))
    number = (await db.execute(select(func.count()).select_from(Cycle).where(Cycle.group_id == group.id))).scalar_one()
    rules = new.rules
    cycle = Cycle(
        id=cycle_id or uuid4(), group_id=group.id, number=number + 1, starts_on=new.starts_on,
        meeting_interval_days=new.meeting_interval_days, planned_meetings=new.planned_meetings,
        meeting_time=new.meeting_time, min_deposit_cents=rules.min_deposit_cents,
        max_deposit_cents=rules.max_deposit_cents, max_loan_multiple=rules.max_loan_multiple,
        max_loan_term_meetings=rules.max_loan_term_meetings, default_interest_rate_bp=rules.default_interest_rate_bp,
        interest_distribution=rules.interest_distribution, min_witnesses=rules.min_witnesses,
        approval_threshold_bp=rules.approval_threshold_bp, leaver_interest_share=rules.leaver_interest_share,
        status=CycleStatus.OPEN, created_by=actor.user_id,
    )
    return await add_once(db, cycle, same, client_made=cycle_id is not None)


async def get_visible_cycle(db: AsyncSession, actor: Actor, cycle_id: UUID, *, for_update: bool = False) -> Cycle:
    stmt = select(Cycle).join(Group, Group.id == Cycle.group_id).where(Cycle.id == cycle_id, group_is_visible(actor))
    if for_update:
        stmt = stmt.with_for_update(of=Cycle)
    cycle = (await db.execute(stmt)).scalar_one_or_none()
    if cycle is None:
        raise ResourceNotFound()
    return cycle


async def list_cycles(db: AsyncSession, actor: Actor, group_id: UUID) -> list[Cycle]:
    group = await get_visible_group(db, actor, group_id)
    return list((await db.execute(select(Cycle).where(Cycle.group_id == group.id).order_by(Cycle.number))).scalars())


# --- roles -------------------------------------------------------------------------------------
Holders = dict[CycleRole, frozenset[UUID]]


@dataclass(frozen=True, slots=True)
class Assignment:
    member_id: UUID
    role: CycleRole
    from_meeting_no: int


def holders_at(assignments: Iterable[Assignment], meeting_no: int) -> Holders:
    """Who holds each role at a meeting: per role, the slate with the highest from_meeting_no ≤ n."""
    slates: dict[CycleRole, dict[int, set[UUID]]] = defaultdict(lambda: defaultdict(set))
    for a in assignments:
        if a.from_meeting_no <= meeting_no:
            slates[a.role][a.from_meeting_no].add(a.member_id)
    return {role: frozenset(slates[role][max(slates[role])]) if slates[role] else frozenset() for role in CycleRole}


def check_slates(assignments: Sequence[Assignment], planned_meetings: int) -> None:
    """Slates are whole: one voorzitter, one boekhouder, one or two geldtellers; one role per member."""
    by_slate: dict[tuple[CycleRole, int], set[UUID]] = defaultdict(set)
    for a in assignments:
        if not 1 <= a.from_meeting_no <= planned_meetings:
            raise RoleSlateInvalid(from_meeting_no=a.from_meeting_no)
        by_slate[(a.role, a.from_meeting_no)].add(a.member_id)
    for (role, from_no), members in by_slate.items():
        allowed = (1, 2) if role == CycleRole.GELDTELLER else (1,)
        if len(members) not in allowed:
            raise RoleSlateInvalid(role=role.value, from_meeting_no=from_no)
    starts = sorted({a.from_meeting_no for a in assignments})
    for meeting_no in starts:
        holders = holders_at(assignments, meeting_no)
        seen: set[UUID] = set()
        for members in holders.values():
            if doubled := seen & members:
                raise TwoRolesAtOneMeeting(meeting_no=meeting_no, member_ids=sorted(str(m) for m in doubled))
            seen |= members


async def load_assignments(db: AsyncSession, cycle_id: UUID) -> list[Assignment]:
    rows = await db.execute(select(RoleAssignment.member_id, RoleAssignment.role, RoleAssignment.from_meeting_no)
                            .where(RoleAssignment.cycle_id == cycle_id))
    return [Assignment(m, CycleRole(r), n) for m, r, n in rows]


async def assign_roles(db: AsyncSession, actor: Actor, cycle_id: UUID, new: Sequence[Assignment]) -> list[Assignment]:
    """Set role slates. A slate named in `new` replaces the slate of that role from that meeting on;
    slates of meetings already held stay as they were (409)."""
    cycle = await get_visible_cycle(db, actor, cycle_id, for_update=True)  # 404 before 403
    require_may_manage_group(actor)
    if cycle.status == CycleStatus.CLOSED:
        raise CycleClosed()
    held = (await db.execute(select(func.max(Meeting.meeting_no)).where(
        Meeting.cycle_id == cycle.id, Meeting.status == MeetingStatus.CLOSED))).scalar_one() or 0
    if held and any(a.from_meeting_no <= held for a in new):
        raise RoleOfHeldMeeting(last_held_meeting_no=held)
    members = {m.id: m for m in (await db.execute(select(Member).where(
        Member.group_id == cycle.group_id, Member.id.in_({a.member_id for a in new})))).scalars()}
    if missing := sorted(str(a.member_id) for a in new if a.member_id not in members or members[a.member_id].left_on):
        raise NotACurrentMember(member_ids=missing)
    existing = await load_assignments(db, cycle.id)
    replaced = {(a.role, a.from_meeting_no) for a in new}
    combined = [a for a in existing if (a.role, a.from_meeting_no) not in replaced] + list(dict.fromkeys(new))
    check_slates(combined, cycle.planned_meetings)
    if set(combined) == set(existing):
        return combined
    for role, from_no in replaced:
        await db.execute(delete(RoleAssignment).where(RoleAssignment.cycle_id == cycle.id, RoleAssignment.role == role,
                                                      RoleAssignment.from_meeting_no == from_no))
    db.add_all(RoleAssignment(id=uuid4(), cycle_id=cycle.id, member_id=a.member_id, role=a.role,
                              from_meeting_no=a.from_meeting_no, created_by=actor.user_id)
               for a in dict.fromkeys(new))
    await db.flush()
    return combined


async def roles_at(db: AsyncSession, actor: Actor, cycle_id: UUID, meeting_no: int | None) -> tuple[int, Holders]:
    """Who holds what at a meeting; without a number, at the latest meeting opened (or the first)."""
    cycle = await get_visible_cycle(db, actor, cycle_id)
    if meeting_no is None:
        meeting_no = (await db.execute(select(func.max(Meeting.meeting_no)).where(
            Meeting.cycle_id == cycle.id, Meeting.status != MeetingStatus.PLANNED))).scalar_one() or 1
    if not 1 <= meeting_no <= cycle.planned_meetings:
        raise MeetingNumberOutOfRange(planned_meetings=cycle.planned_meetings)
    return meeting_no, holders_at(await load_assignments(db, cycle.id), meeting_no)


# --- meetings ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewMeeting:
    meeting_no: int
    scheduled_for: datetime
    theme: str | None = None


async def create_meeting(
    db: AsyncSession, actor: Actor, cycle_id: UUID, new: NewMeeting, *, meeting_id: UUID | None = None
) -> tuple[Meeting, bool]:
    cycle = await get_visible_cycle(db, actor, cycle_id, for_update=True)  # 404 before 403
    require_may_manage_group(actor)

    def same(meeting: Meeting) -> bool:
        return (meeting.cycle_id, meeting.meeting_no, meeting.scheduled_for, meeting.theme) == (
            cycle.id, new.meeting_no, new.scheduled_for, new.theme)

    if (found := await earlier(db, Meeting, meeting_id, same)) is not None:
        return found, False
    if cycle.status == CycleStatus.CLOSED:
        raise CycleClosed()
    if not 1 <= new.meeting_no <= cycle.planned_meetings:
        raise MeetingNumberOutOfRange(planned_meetings=cycle.planned_meetings)
    taken = (await db.execute(select(Meeting.id).where(
        Meeting.cycle_id == cycle.id, Meeting.meeting_no == new.meeting_no))).first()
    if taken is not None:
        raise MeetingNumberTaken(meeting_id=str(taken[0]))
    meeting = Meeting(id=meeting_id or uuid4(), cycle_id=cycle.id, group_id=cycle.group_id, meeting_no=new.meeting_no,
                      scheduled_for=new.scheduled_for, theme=new.theme, status=MeetingStatus.PLANNED,
                      created_by=actor.user_id)
    return await add_once(db, meeting, same, client_made=meeting_id is not None)


async def plan_meetings(db: AsyncSession, actor: Actor, cycle_id: UUID) -> list[Meeting]:
    """Create every planned meeting not made yet, from the cycle's start and interval, in one call."""
    cycle = await get_visible_cycle(db, actor, cycle_id, for_update=True)  # 404 before 403
    require_may_manage_group(actor)
    if cycle.status == CycleStatus.CLOSED:
        raise CycleClosed()
    group = await db.get(Group, cycle.group_id)
    assert group is not None
    existing = {m.meeting_no: m for m in (await db.execute(select(Meeting).where(Meeting.cycle_id == cycle.id))).scalars()}
    for number in range(1, cycle.planned_meetings + 1):
        if number not in existing:
            meeting = Meeting(id=uuid4(), cycle_id=cycle.id, group_id=cycle.group_id, meeting_no=number,
                              scheduled_for=meeting_start(cycle.starts_on, cycle.meeting_interval_days, number,
                                                          cycle.meeting_time, group.timezone),
                              status=MeetingStatus.PLANNED, created_by=actor.user_id)
            db.add(meeting)
            existing[number] = meeting
    await db.flush()
    return [existing[n] for n in sorted(existing)]


async def list_meetings(db: AsyncSession, actor: Actor, cycle_id: UUID) -> list[Meeting]:
    cycle = await get_visible_cycle(db, actor, cycle_id)
    return list((await db.execute(select(Meeting).where(Meeting.cycle_id == cycle.id)
                                  .order_by(Meeting.meeting_no))).scalars())
