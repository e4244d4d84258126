"""Organisations, user accounts and funded programmes."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Actor, require_role, visible_group_ids, visible_programme_ids
from domain.client_ids import add_once, earlier
from domain.errors import (
    EmailTaken,
    IdReused,
    MemberAlreadyLinked,
    MemberLinkNotAllowed,
    MemberLinkRequired,
    NotAFunder,
    PasswordTooShort,
    ResourceNotFound,
)
from domain.models import Group, Member, Organisation, Programme, ProgrammeFunder, Role, User
from domain.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password


@dataclass(frozen=True, slots=True)
class NewUser:
    email: str
    password: str
    role: Role
    display_name: str
    member_id: UUID | None = None


async def get_or_create_organisation(db: AsyncSession, name: str) -> Organisation:
    organisation = (await db.execute(select(Organisation).where(Organisation.name == name))).scalar_one_or_none()
    if organisation is None:
        organisation = Organisation(id=uuid4(), name=name)
        db.add(organisation)
        await db.flush()
    return organisation


async def add_user(
    db: AsyncSession, organisation_id: UUID, new: NewUser, *, password_profile: str, user_id: UUID | None = None
) -> tuple[User, bool]:
    """Create an account in an organisation (no caller: used by the CLI and by `create_user`)."""
    email = new.email.strip().lower()

    def same(user: User) -> bool:
        return (user.organisation_id, user.email, user.role, user.display_name, user.member_id) == (
            organisation_id, email, new.role, new.display_name, new.member_id
        ) and verify_password(user.password_hash, new.password, password_profile)

    if (found := await earlier(db, User, user_id, same)) is not None:
        return found, False
    if len(new.password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(min_length=MIN_PASSWORD_LENGTH)
    if new.role == Role.MEMBER and new.member_id is None:
        raise MemberLinkRequired()
    if new.role != Role.MEMBER and new.member_id is not None:
        raise MemberLinkNotAllowed()
    if new.member_id is not None:
        member_org = (
            await db.execute(select(Group.organisation_id).join(Member).where(Member.id == new.member_id))
        ).scalar_one_or_none()
        if member_org != organisation_id:
            raise ResourceNotFound(field="member_id")
        if (await db.execute(select(User.id).where(User.member_id == new.member_id))).first() is not None:
            raise MemberAlreadyLinked()
    if (await db.execute(select(User.id).where(User.email == email))).first() is not None:
        raise EmailTaken()
    user = User(id=user_id or uuid4(), organisation_id=organisation_id, email=email,
                password_hash=hash_password(new.password, password_profile), role=new.role,
                display_name=new.display_name, member_id=new.member_id, is_active=True)
    return await add_once(db, user, same, client_made=user_id is not None)


async def create_user(
    db: AsyncSession, actor: Actor, new: NewUser, *, password_profile: str, user_id: UUID | None = None
) -> tuple[User, bool]:
    require_role(actor, Role.ADMIN)
    return await add_user(db, actor.organisation_id, new, password_profile=password_profile, user_id=user_id)


async def create_programme(
    db: AsyncSession, actor: Actor, name: str, funder_user_ids: list[UUID], *, programme_id: UUID | None = None
) -> tuple[Programme, bool]:
    require_role(actor, Role.ADMIN)
    funders = sorted(set(funder_user_ids))

    if programme_id is not None and (found := await db.get(Programme, programme_id)) is not None:
        same = (found.organisation_id, found.name) == (actor.organisation_id, name)
        if same and await programme_funder_ids(db, found.id) == funders:
            return found, False
        raise IdReused(id=str(programme_id))
    if funders:
        found_funders = set(
            (await db.execute(
                select(User.id).where(User.id.in_(funders), User.organisation_id == actor.organisation_id,
                                      User.role == Role.FUNDER)
            )).scalars()
        )
        if missing := [str(u) for u in funders if u not in found_funders]:
            raise NotAFunder(user_ids=missing)
    programme = Programme(id=programme_id or uuid4(), organisation_id=actor.organisation_id, name=name,
                          created_by=actor.user_id)
    db.add(programme)
    db.add_all(ProgrammeFunder(programme_id=programme.id, user_id=u) for u in funders)
    await db.flush()
    return programme, True


async def programme_funder_ids(db: AsyncSession, programme_id: UUID) -> list[UUID]:
    return sorted(
        (await db.execute(select(ProgrammeFunder.user_id).where(ProgrammeFunder.programme_id == programme_id))).scalars()
    )


async def list_programmes(db: AsyncSession, actor: Actor) -> list[Programme]:
    require_role(actor, Role.ADMIN, Role.FUNDER)
    stmt = select(Programme).where(Programme.id.in_(visible_programme_ids(actor))).order_by(Programme.name, Programme.id)
    return list((await db.execute(stmt)).scalars())


@dataclass(frozen=True, slots=True)
class Membership:
    group_id: UUID
    group_name: str
    kind: str
    acting_as: str  # "admin", "begeleider" or "member"
    member_id: UUID | None


async def memberships(db: AsyncSession, actor: Actor) -> list[Membership]:
    """The groups the caller can act in, and as what."""
    stmt = select(Group).where(Group.id.in_(visible_group_ids(actor))).order_by(Group.name, Group.id)
    groups = list((await db.execute(stmt)).scalars())
    return [Membership(g.id, g.name, g.kind.value, actor.role.value,
                       actor.member_id if actor.role == Role.MEMBER else None) for g in groups]
