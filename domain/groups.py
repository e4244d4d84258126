"""Groups (spaarkringen and luistergroepen) and their members."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import (
    Actor,
    get_visible_group,
    get_visible_member,
    group_is_visible,
    require_may_manage_group,
    require_may_see_groups,
)
from domain.client_ids import add_once, earlier
from domain.errors import (
    GroupStopped,
    IdReused,
    LeavingWithLoan,
    LeftBeforeJoined,
    MemberAlreadyLeft,
    NotABegeleider,
    ResourceNotFound,
    StaleVersion,
    StatusChangeNotAllowed,
    UnknownTimezone,
)
from domain.loan_status import OUTSTANDING_STATUSES
from domain.models import Group, GroupBegeleider, GroupKind, GroupStatus, Loan, Member, Programme, Role, User
from domain.paging import Page, paginate

ALLOWED_STATUS_CHANGES = {
    GroupStatus.BEGELEID: {GroupStatus.ZELFSTANDIG, GroupStatus.GESTOPT},
    GroupStatus.ZELFSTANDIG: {GroupStatus.BEGELEID, GroupStatus.GESTOPT},
    GroupStatus.GESTOPT: set(),
}


@dataclass(frozen=True, slots=True)
class NewGroup:
    name: str
    kind: GroupKind
    programme_id: UUID | None
    begeleider_ids: frozenset[UUID]
    timezone: str = "Europe/Amsterdam"


@dataclass(frozen=True, slots=True)
class GroupChange:
    name: str | None = None
    status: GroupStatus | None = None
    programme_id: UUID | None = None
    begeleider_ids: frozenset[UUID] | None = None


def check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezone(timezone=name[:64]) from None
    if name not in available_timezones():
        raise UnknownTimezone(timezone=name[:64])


def check_versions(current: int, expected: Iterable[int]) -> None:
    """Every version the caller says they edited (If-Match, or `version` in the body) must be current."""
    if any(version != current for version in expected):
        raise StaleVersion(current_version=current)


async def begeleider_ids_of(db: AsyncSession, group_id: UUID) -> list[UUID]:
    return sorted((await db.execute(select(GroupBegeleider.user_id).where(GroupBegeleider.group_id == group_id))).scalars())


async def begeleiders_by_group(db: AsyncSession, group_ids: list[UUID]) -> dict[UUID, list[UUID]]:
    result: dict[UUID, list[UUID]] = {g: [] for g in group_ids}
    rows = await db.execute(select(GroupBegeleider.group_id, GroupBegeleider.user_id).where(
        GroupBegeleider.group_id.in_(group_ids)))
    for group_id, user_id in rows:
        result[group_id].append(user_id)
    return {g: sorted(users) for g, users in result.items()}


async def _check_begeleiders(db: AsyncSession, actor: Actor, user_ids: frozenset[UUID]) -> None:
    if not user_ids:
        return
    found = set((await db.execute(select(User.id).where(
        User.id.in_(user_ids), User.organisation_id == actor.organisation_id, User.role == Role.BEGELEIDER,
        User.is_active.is_(True),
    ))).scalars())
    if missing := sorted(str(u) for u in user_ids - found):
        raise NotABegeleider(user_ids=missing)


async def _check_programme(db: AsyncSession, actor: Actor, programme_id: UUID | None) -> None:
    if programme_id is None:
        return
    programme = await db.get(Programme, programme_id)
    if programme is None or programme.organisation_id != actor.organisation_id:
        raise ResourceNotFound(field="programme_id")


async def create_group(
    db: AsyncSession, actor: Actor, new: NewGroup, *, group_id: UUID | None = None
) -> tuple[Group, bool]:
    """A new group. A begeleider who creates a group is always one of its begeleiders."""
    require_may_manage_group(actor)
    begeleiders = new.begeleider_ids | ({actor.user_id} if actor.role == Role.BEGELEIDER else set())

    async def same(group: Group) -> bool:
        return (group.organisation_id, group.name, group.kind, group.programme_id, group.timezone) == (
            actor.organisation_id, new.name, new.kind, new.programme_id, new.timezone
        ) and set(await begeleider_ids_of(db, group.id)) == begeleiders

    if group_id is not None and (found := await db.get(Group, group_id)) is not None:
        if await same(found):
            return found, False
        raise IdReused(id=str(group_id))
    check_timezone(new.timezone)
    await _check_programme(db, actor, new.programme_id)
    await _check_begeleiders(db, actor, frozenset(begeleiders))
    group = Group(id=group_id or uuid4(), organisation_id=actor.organisation_id, programme_id=new.programme_id,
                  name=new.name, kind=new.kind, status=GroupStatus.BEGELEID, timezone=new.timezone,
                  created_by=actor.user_id)
    try:
        async with db.begin_nested():  # losing a race for the same client id must not spoil the request
            db.add(group)
            await db.flush()
            db.add_all(GroupBegeleider(group_id=group.id, user_id=u) for u in sorted(begeleiders))
            await db.flush()
    except IntegrityError:
        found = await db.get(Group, group_id, populate_existing=True) if group_id is not None else None
        if found is None:
            raise
        if await same(found):
            return found, False
        raise IdReused(id=str(group_id)) from None
    return group, True


async def list_groups(db: AsyncSession, actor: Actor, cursor: str | None, limit: int) -> Page[Group]:
    require_may_see_groups(actor)
    stmt = select(Group).where(group_is_visible(actor))
    return await paginate(db, stmt, [Group.name, Group.id], cursor, limit)


async def change_group(
    db: AsyncSession, actor: Actor, group_id: UUID, change: GroupChange, versions: Iterable[int], today: date
) -> Group:
    """Edit a group the caller manages. `versions`: what the caller edited; a stale one is refused."""
    group = await get_visible_group(db, actor, group_id, for_update=True)  # NotFound outside the actor's groups
    require_may_manage_group(actor)  # Forbidden for who sees the group but may not change it
    check_versions(group.version, versions)
    if group.status == GroupStatus.GESTOPT:
        raise GroupStopped()
    if change.status is not None and change.status != group.status:
        if change.status not in ALLOWED_STATUS_CHANGES[group.status]:
            raise StatusChangeNotAllowed(current=group.status.value, requested=change.status.value)
        group.status = change.status
        group.stopped_on = today if change.status == GroupStatus.GESTOPT else None
    if change.name is not None:
        group.name = change.name
    if change.programme_id is not None:
        await _check_programme(db, actor, change.programme_id)
        group.programme_id = change.programme_id
    if change.begeleider_ids is not None:
        await _check_begeleiders(db, actor, change.begeleider_ids)
        await db.execute(delete(GroupBegeleider).where(GroupBegeleider.group_id == group.id))
        db.add_all(GroupBegeleider(group_id=group.id, user_id=u) for u in sorted(change.begeleider_ids))
    group.version += 1
    await db.flush()
    return group


# --- members -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewMember:
    display_name: str
    phone: str | None
    joined_on: date | None  # None: the day it is recorded (`today`)


async def add_member(
    db: AsyncSession, actor: Actor, group_id: UUID, new: NewMember, *, member_id: UUID | None = None,
    today: date | None = None,
) -> tuple[Member, bool]:
    """A new member. A retry with the same client id and body answers the member made first, also when
    it arrives on a later day and leaves joined_on out (the first attempt's day stands)."""
    group = await get_visible_group(db, actor, group_id)
    require_may_manage_group(actor)
    joined_on = new.joined_on or today
    if joined_on is None:
        raise ValueError("joined_on or today is needed")

    def same(member: Member) -> bool:
        return (member.group_id, member.display_name, member.phone) == (group.id, new.display_name, new.phone) and (
            new.joined_on is None or member.joined_on == new.joined_on)

    if (found := await earlier(db, Member, member_id, same)) is not None:
        return found, False
    if group.status == GroupStatus.GESTOPT:
        raise GroupStopped()
    member = Member(id=member_id or uuid4(), group_id=group.id, display_name=new.display_name, phone=new.phone,
                    joined_on=joined_on, created_by=actor.user_id)
    return await add_once(db, member, same, client_made=member_id is not None)


async def list_members(db: AsyncSession, actor: Actor, group_id: UUID, cursor: str | None, limit: int) -> Page[Member]:
    group = await get_visible_group(db, actor, group_id)
    stmt = select(Member).where(Member.group_id == group.id)
    return await paginate(db, stmt, [Member.joined_on, Member.id], cursor, limit)


async def get_member(db: AsyncSession, actor: Actor, group_id: UUID, member_id: UUID) -> Member:
    return await get_visible_member(db, actor, group_id, member_id)


@dataclass(frozen=True, slots=True)
class MemberChange:
    display_name: str | None = None
    phone: str | None = None
    clear_phone: bool = False


async def change_member(
    db: AsyncSession, actor: Actor, group_id: UUID, member_id: UUID, change: MemberChange, versions: Iterable[int]
) -> Member:
    member = await get_visible_member(db, actor, group_id, member_id, for_update=True)
    require_may_manage_group(actor)
    check_versions(member.version, versions)
    if change.display_name is not None:
        member.display_name = change.display_name
    if change.phone is not None or change.clear_phone:
        member.phone = change.phone
    member.version += 1
    await db.flush()
    return member


async def leave(
    db: AsyncSession, actor: Actor, group_id: UUID, member_id: UUID, left_on: date, reason: str | None
) -> Member:
    """Mark a member as left. Never deleted: their history stays and still adds up."""
    member = await get_visible_member(db, actor, group_id, member_id, for_update=True)
    require_may_manage_group(actor)
    if member.left_on is not None:
        if (member.left_on, member.leave_reason) == (left_on, reason):
            return member  # a retry of the same leave
        raise MemberAlreadyLeft(left_on=member.left_on.isoformat())
    if left_on < member.joined_on:
        raise LeftBeforeJoined(joined_on=member.joined_on.isoformat())
    owing = (await db.execute(select(Loan.id).where(
        Loan.member_id == member.id, Loan.status.in_(OUTSTANDING_STATUSES)))).first()
    if owing is not None:
        raise LeavingWithLoan(loan_id=str(owing[0]))  # settle the loan first, from savings if they agree
    member.left_on, member.leave_reason = left_on, reason
    await db.flush()
    return member


async def get_group(db: AsyncSession, actor: Actor, group_id: UUID) -> Group:
    return await get_visible_group(db, actor, group_id)
