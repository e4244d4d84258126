"""Who may see and do what. Every query of every endpoint is scoped through this module.

- admin: everything in their own organisation
- begeleider: the groups assigned to them (in full)
- member: their own group; of money only their own records
- funder: no group or member data at all; aggregates of their own programmes only

Outside what a caller may see, the answer is NotFound, the same as for what does not exist. The order
is always: find the resource among what the caller may see (NotFound), then check the role (Forbidden).
Organisations are tenants: nothing crosses from one to another.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from uuid import UUID

from sqlalchemy import ColumnElement, Select, Uuid, and_, bindparam, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import AccountClosed, ResourceNotFound, RoleNotAllowed, TokenInvalid
from domain.models import Group, GroupBegeleider, Member, Programme, ProgrammeFunder, RefreshToken, Role, User


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller, as the rules need to know them."""

    user_id: UUID
    organisation_id: UUID
    role: Role
    member_id: UUID | None = None

    @property
    def scope_key(self) -> str:
        return f"user:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Caller:
    """Whom a verified access token names, before the database has confirmed them: the user, and the
    refresh-token family the token was handed out with (None for a token outside any family)."""

    user_id: UUID
    family_id: UUID | None = None


def caller_params(caller: Caller) -> dict[str, UUID | None]:
    """The caller as the bound parameters of `caller_is_current` and `load_caller`."""
    return {"caller_user_id": caller.user_id, "caller_family_id": caller.family_id}


def _family_revoked() -> ColumnElement[bool]:
    return exists().where(RefreshToken.family_id == bindparam("caller_family_id", type_=Uuid),
                          RefreshToken.revoked_at.is_not(None))


def caller_is_current() -> ColumnElement[bool]:
    """The users row of a caller who may act now: theirs, active, their token's family not revoked."""
    return and_(User.id == bindparam("caller_user_id", type_=Uuid), User.is_active, ~_family_revoked())


_CALLER = select(User.id, User.organisation_id, User.role, User.member_id, User.is_active,
                 _family_revoked()).where(User.id == bindparam("caller_user_id", type_=Uuid))  # built once


async def load_caller(db: AsyncSession, caller: Caller) -> Actor:
    """The caller as the rules need them, in one statement: unknown or revoked answers 401, a closed
    account 401 `auth.account_closed`. Every request with a token runs this (or a statement that reads the
    same row itself, `caller_is_current`), so a logout or a closed account counts at once."""
    row = (await (await db.connection()).execute(_CALLER, caller_params(caller))).first()
    if row is None or row[5]:
        raise TokenInvalid()
    user_id, organisation_id, role, member_id, is_active, _ = row
    if not is_active:
        raise AccountClosed()
    return Actor(user_id=user_id, organisation_id=organisation_id, role=Role(role), member_id=member_id)


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise RoleNotAllowed(role=actor.role.value)


def actor_params(actor: Actor) -> dict[str, UUID | None]:
    """The caller as the bound parameters of `visible_group_ids_of`."""
    return {"actor_organisation_id": actor.organisation_id, "actor_user_id": actor.user_id,
            "actor_member_id": actor.member_id}


def _groups_seen_by(role: Role, has_member: bool, organisation_id: ColumnElement[UUID],
                    user_id: ColumnElement[UUID], member_id: ColumnElement[UUID]) -> Select[tuple[UUID]]:
    """The one definition of which groups a caller of a role sees, the caller given as SQL expressions
    (bound parameters, or the columns of a users row read by the enclosing statement: hence `correlate`,
    which keeps `users` out of these subqueries' FROM)."""
    stmt = select(Group.id).where(Group.organisation_id == organisation_id).correlate(User)
    match role:
        case Role.ADMIN:
            return stmt
        case Role.BEGELEIDER:
            return stmt.where(Group.id.in_(select(GroupBegeleider.group_id).where(
                GroupBegeleider.user_id == user_id).correlate(User)))
        case Role.MEMBER if has_member:
            return stmt.where(Group.id.in_(select(Member.group_id).where(Member.id == member_id).correlate(User)))
        case _:
            return stmt.where(false())


@cache
def visible_group_ids_of(role: Role, has_member: bool) -> Select[tuple[UUID]]:
    """A subquery of the ids of every group a caller of this role may see, the caller left as bound
    parameters (`actor_params`), so a statement built on it can be built once and reused."""
    return _groups_seen_by(role, has_member, bindparam("actor_organisation_id", type_=Uuid),
                           bindparam("actor_user_id", type_=Uuid), bindparam("actor_member_id", type_=Uuid))


def group_visible_to_caller_row(group_id: ColumnElement[UUID]) -> ColumnElement[bool]:
    """`visible_group_ids_of` for a statement that reads the caller's users row itself (`caller_is_current`)
    instead of being told the caller: the same rule per role, the branch picked by the row's role. A
    member's branch with no member linked matches nothing, as `has_member=False` does."""
    return or_(*(and_(User.role == role, group_id.in_(
        _groups_seen_by(role, True, User.organisation_id, User.id, User.member_id)))
        for role in (Role.ADMIN, Role.BEGELEIDER, Role.MEMBER)))


def visible_group_ids(actor: Actor) -> Select[tuple[UUID]]:
    """A subquery of the ids of every group the actor may see."""
    return visible_group_ids_of(actor.role, actor.member_id is not None).params(actor_params(actor))


def group_is_visible(actor: Actor) -> ColumnElement[bool]:
    return Group.id.in_(visible_group_ids(actor))


async def get_visible_group(db: AsyncSession, actor: Actor, group_id: UUID, *, for_update: bool = False) -> Group:
    stmt = select(Group).where(Group.id == group_id, group_is_visible(actor))
    if for_update:
        stmt = stmt.with_for_update()
    group = (await db.execute(stmt)).scalar_one_or_none()
    if group is None:
        raise ResourceNotFound()
    return group


def require_may_see_groups(actor: Actor) -> None:
    """Funders see no group at all: a list of groups is refused to them (403), one group is not found (404)."""
    require_role(actor, Role.ADMIN, Role.BEGELEIDER, Role.MEMBER)


def may_manage_group(actor: Actor) -> bool:
    """Admins and begeleiders manage the groups they can see; members and funders do not."""
    return actor.role in (Role.ADMIN, Role.BEGELEIDER)


def require_may_manage_group(actor: Actor) -> None:
    require_role(actor, Role.ADMIN, Role.BEGELEIDER)


async def get_visible_member(
    db: AsyncSession, actor: Actor, group_id: UUID, member_id: UUID, *, for_update: bool = False
) -> Member:
    group = await get_visible_group(db, actor, group_id)
    member = await db.get(Member, member_id, with_for_update=for_update or None)
    if member is None or member.group_id != group.id:
        raise ResourceNotFound()
    return member


def visible_programme_ids(actor: Actor) -> Select[tuple[UUID]]:
    stmt = select(Programme.id).where(Programme.organisation_id == actor.organisation_id)
    match actor.role:
        case Role.ADMIN:
            return stmt
        case Role.FUNDER:
            return stmt.where(
                Programme.id.in_(select(ProgrammeFunder.programme_id).where(ProgrammeFunder.user_id == actor.user_id))
            )
        case _:
            return stmt.where(false())


async def get_visible_programme(db: AsyncSession, actor: Actor, programme_id: UUID) -> Programme:
    programme = (
        await db.execute(select(Programme).where(Programme.id == programme_id, Programme.id.in_(visible_programme_ids(actor))))
    ).scalar_one_or_none()
    if programme is None:
        raise ResourceNotFound()
    return programme


def own_money_only(actor: Actor) -> bool:
    """A member sees only their own amounts (and their group's totals); others who see a group see all."""
    return actor.role == Role.MEMBER
