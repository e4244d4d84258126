from __future__ import annotations

from datetime import date
from uuid import UUID

from litestar import Controller, Response, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from api.controllers.common import Cursor, IfMatch, Limit, created, expected_versions, versioned
from api.schemas.common import Page
from api.schemas.people import GroupIn, GroupOut, GroupPatch, LeaveIn, MemberIn, MemberOut, MemberPatch
from domain import groups
from domain.access import Actor, own_money_only
from domain.models import Group, GroupKind, GroupStatus, Member


def group_out(group: Group, begeleider_ids: list[UUID]) -> GroupOut:
    return GroupOut(id=group.id, name=group.name, kind=group.kind.value, status=group.status.value,
                    programme_id=group.programme_id, begeleider_ids=begeleider_ids, timezone=group.timezone,
                    created_at=group.created_at, stopped_on=group.stopped_on, version=group.version)


def member_out(member: Member, actor: Actor) -> MemberOut:
    out = MemberOut.model_validate(member)
    if own_money_only(actor) and member.id != actor.member_id:
        out.phone = None  # a member sees who is in the group, not the others' phone numbers
        out.leave_reason = None
    return out


class GroupController(Controller):
    path = "/api/v1/groups"
    tags = ["groups"]

    @post(summary="Create a group (admin or begeleider)")
    async def create(self, data: GroupIn, db: AsyncSession, actor: Actor) -> Response[GroupOut]:
        new = groups.NewGroup(name=data.name, kind=GroupKind(data.kind), programme_id=data.programme_id,
                              begeleider_ids=frozenset(data.begeleider_ids), timezone=data.timezone)
        group, is_new = await groups.create_group(db, actor, new, group_id=data.id)
        begeleiders = await groups.begeleider_ids_of(db, group.id)
        await db.commit()
        return created(group_out(group, begeleiders), is_new, f"/api/v1/groups/{group.id}", group.version)

    @get(summary="The groups the caller may see")
    async def list_groups(self, db: AsyncSession, actor: Actor, limit: Limit = 50, cursor: Cursor = None) -> Page[GroupOut]:
        page = await groups.list_groups(db, actor, cursor, limit)
        begeleiders = await groups.begeleiders_by_group(db, [g.id for g in page.items])
        return Page(items=[group_out(g, begeleiders[g.id]) for g in page.items], next_cursor=page.next_cursor)

    @get("/{group_id:uuid}", summary="One group")
    async def get_group(self, group_id: UUID, db: AsyncSession, actor: Actor) -> Response[GroupOut]:
        group = await groups.get_group(db, actor, group_id)
        return versioned(group_out(group, await groups.begeleider_ids_of(db, group.id)), group.version)

    @patch("/{group_id:uuid}", summary="Rename, change status or begeleiders (If-Match: version)")
    async def change(
        self, group_id: UUID, data: GroupPatch, db: AsyncSession, actor: Actor, if_match: IfMatch = None
    ) -> Response[GroupOut]:
        change = groups.GroupChange(
            name=data.name, status=GroupStatus(data.status) if data.status else None, programme_id=data.programme_id,
            begeleider_ids=frozenset(data.begeleider_ids) if data.begeleider_ids is not None else None,
        )
        group = await groups.change_group(db, actor, group_id, change, expected_versions(if_match, data.version),
                                          date.today())
        begeleiders = await groups.begeleider_ids_of(db, group.id)
        await db.commit()
        return versioned(group_out(group, begeleiders), group.version)


class MemberController(Controller):
    path = "/api/v1/groups/{group_id:uuid}/members"
    tags = ["groups"]

    @post(summary="Add a member (a person need not have an account)")
    async def create(self, group_id: UUID, data: MemberIn, db: AsyncSession, actor: Actor) -> Response[MemberOut]:
        new = groups.NewMember(display_name=data.display_name, phone=data.phone, joined_on=data.joined_on)
        member, is_new = await groups.add_member(db, actor, group_id, new, member_id=data.id, today=date.today())
        await db.commit()
        return created(member_out(member, actor), is_new, f"/api/v1/groups/{group_id}/members/{member.id}",
                       member.version)

    @get(summary="Members, with left_on for those who left")
    async def list_members(
        self, group_id: UUID, db: AsyncSession, actor: Actor, limit: Limit = 50, cursor: Cursor = None
    ) -> Page[MemberOut]:
        page = await groups.list_members(db, actor, group_id, cursor, limit)
        return Page(items=[member_out(m, actor) for m in page.items], next_cursor=page.next_cursor)

    @get("/{member_id:uuid}", summary="One member")
    async def get_member(self, group_id: UUID, member_id: UUID, db: AsyncSession, actor: Actor) -> Response[MemberOut]:
        member = await groups.get_member(db, actor, group_id, member_id)
        return versioned(member_out(member, actor), member.version)

    @patch("/{member_id:uuid}", summary="Correct a member's name or phone (If-Match: version)")
    async def change(
        self, group_id: UUID, member_id: UUID, data: MemberPatch, db: AsyncSession, actor: Actor,
        if_match: IfMatch = None,
    ) -> Response[MemberOut]:
        change = groups.MemberChange(display_name=data.display_name, phone=data.phone,
                                     clear_phone="phone" in data.model_fields_set and data.phone is None)
        member = await groups.change_member(db, actor, group_id, member_id, change,
                                            expected_versions(if_match, data.version))
        await db.commit()
        return versioned(member_out(member, actor), member.version)

    @post("/{member_id:uuid}/leave", summary="A member leaves; they are never deleted", status_code=200)
    async def leave(self, group_id: UUID, member_id: UUID, data: LeaveIn, db: AsyncSession, actor: Actor) -> MemberOut:
        member = await groups.leave(db, actor, group_id, member_id, data.left_on, data.reason)
        await db.commit()
        return member_out(member, actor)
