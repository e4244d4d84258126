"""The access rules, checked against each other on a real database."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.access import (
    Actor,
    Caller,
    caller_is_current,
    caller_params,
    group_visible_to_caller_row,
    visible_group_ids,
)
from domain.models import Group, Role, User
from tests.world import World


async def test_the_rule_read_from_the_callers_row_sees_exactly_the_groups_the_actors_rule_sees_for_every_role(
    world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A deposit reads the caller's users row in its locked read and applies `group_visible_to_caller_row`;
    every other statement applies `visible_group_ids` to the Actor. Both must see the same groups."""
    seen: dict[str, tuple[set[UUID], set[UUID]]] = {}
    async with sessionmaker() as db:
        for key, user in world.users.items():
            actor = Actor(user.id, user.organisation_id, Role(user.role), user.member_id)
            actor_rule = set((await db.execute(visible_group_ids(actor))).scalars())
            row_rule = set((await db.execute(
                select(Group.id).join(User, caller_is_current()).where(group_visible_to_caller_row(Group.id)),
                caller_params(Caller(user.id)))).scalars())
            seen[key] = (actor_rule, row_rule)
    assert {key: a for key, (a, _) in seen.items()} == {key: r for key, (_, r) in seen.items()}
    groups = world.groups
    assert seen["admin"][1] == {groups["a"], groups["b"]} and seen["admin_y"][1] == {groups["y"]}
    assert seen["begeleider_a"][1] == {groups["a"]} and seen["member"][1] == {groups["a"]}
    assert seen["funder"][1] == seen["funder_2"][1] == set()

