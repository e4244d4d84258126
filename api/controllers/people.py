from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from api.controllers.common import created
from api.schemas.people import MembershipOut, MeOut, ProgrammeIn, ProgrammeOut, UserIn, UserOut
from domain import people
from domain.access import Actor
from domain.models import Programme, Role, User


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["people"]

    @get(summary="The caller, and the groups they can act in")
    async def me(self, db: AsyncSession, actor: Actor) -> MeOut:
        user = await db.get(User, actor.user_id)
        assert user is not None
        memberships = await people.memberships(db, actor)
        return MeOut(id=user.id, email=user.email, role=user.role.value, organisation_id=user.organisation_id,
                     display_name=user.display_name, member_id=user.member_id,
                     memberships=[MembershipOut.model_validate(m) for m in memberships])


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["people"]

    @post(summary="Create an account (admin only)")
    async def create(self, data: UserIn, db: AsyncSession, actor: Actor, state: State) -> Response[UserOut]:
        new = people.NewUser(email=data.email, password=data.password, role=Role(data.role),
                             display_name=data.display_name, member_id=data.member_id)
        user, is_new = await people.create_user(db, actor, new, password_profile=state.settings.password_profile,
                                                user_id=data.id)
        await db.commit()
        return created(UserOut.model_validate(user), is_new)


def _programme_out(programme: Programme, funders: list) -> ProgrammeOut:  # type: ignore[type-arg]
    return ProgrammeOut(id=programme.id, name=programme.name, funder_user_ids=funders, created_at=programme.created_at)


class ProgrammeController(Controller):
    path = "/api/v1/programmes"
    tags = ["people"]

    @post(summary="Create a funded programme (admin only)")
    async def create(self, data: ProgrammeIn, db: AsyncSession, actor: Actor) -> Response[ProgrammeOut]:
        programme, is_new = await people.create_programme(db, actor, data.name, data.funder_user_ids,
                                                          programme_id=data.id)
        funders = await people.programme_funder_ids(db, programme.id)
        await db.commit()
        return created(_programme_out(programme, funders), is_new)

    @get(summary="Programmes the caller may see (admin: all; funder: their own)")
    async def list_programmes(self, db: AsyncSession, actor: Actor) -> list[ProgrammeOut]:
        programmes = await people.list_programmes(db, actor)
        return [_programme_out(p, await people.programme_funder_ids(db, p.id)) for p in programmes]
