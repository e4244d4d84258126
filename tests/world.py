"""A small world for tests, built through the domain functions: two organisations (tenants), their
people, a programme, and a few groups with members."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import groups, people
from domain.access import Actor
from domain.models import GroupKind, Role, User, utcnow

PASSWORD = "correct horse battery"


@dataclass
class World:
    client: AsyncTestClient[Litestar]
    sessionmaker: async_sessionmaker[AsyncSession]
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, UUID] = field(default_factory=dict)
    members: dict[str, UUID] = field(default_factory=dict)
    programmes: dict[str, UUID] = field(default_factory=dict)
    organisations: dict[str, UUID] = field(default_factory=dict)
    kringen: dict[str, Any] = field(default_factory=dict)  # tests.kring.Kring per group key, when a test builds one

    @classmethod
    async def build(cls, client: AsyncTestClient[Litestar], sessionmaker: async_sessionmaker[AsyncSession]) -> World:
        world = cls(client, sessionmaker)
        async with sessionmaker() as db:
            for org in ("x", "y"):
                organisation = await people.get_or_create_organisation(db, f"Organisatie {org.upper()}")
                world.organisations[org] = organisation.id
            x, y = world.organisations["x"], world.organisations["y"]
            for key, org, role in [("admin", x, Role.ADMIN), ("begeleider_a", x, Role.BEGELEIDER),
                                   ("begeleider_b", x, Role.BEGELEIDER), ("funder", x, Role.FUNDER),
                                   ("funder_2", x, Role.FUNDER), ("admin_y", y, Role.ADMIN),
                                   ("begeleider_y", y, Role.BEGELEIDER)]:
                user, _ = await people.add_user(db, org, people.NewUser(f"{key}@example.org", PASSWORD, role,
                                                                        key.replace("_", " ").title()),
                                                password_profile="test")
                world.users[key] = user
            admin = world.actor("admin")
            programme, _ = await people.create_programme(db, admin, "Noord 2026", [world.users["funder"].id])
            world.programmes["a"] = programme.id
            programme_2, _ = await people.create_programme(db, admin, "Zuid 2026", [world.users["funder_2"].id])
            world.programmes["b"] = programme_2.id
            for key, kind, begeleider, actor in [
                ("a", GroupKind.SPAARKRING, "begeleider_a", admin),
                ("b", GroupKind.LUISTERGROEP, "begeleider_b", admin),
                ("y", GroupKind.SPAARKRING, "begeleider_y", world.actor("admin_y")),
            ]:
                group, _ = await groups.create_group(db, actor, groups.NewGroup(
                    f"Groep {key.upper()}", kind, programme.id if key == "a" else None,
                    frozenset({world.users[begeleider].id})))
                world.groups[key] = group.id
                for name in ("Amina", "Bram", "Chris", "Dewi", "Eva"):
                    member, _ = await groups.add_member(db, actor, group.id,
                                                        groups.NewMember(f"{name} {key.upper()}", "0612345678",
                                                                         date(2026, 1, 5)))
                    world.members[f"{key}.{name.lower()}"] = member.id
            member_user, _ = await people.add_user(
                db, x, people.NewUser("member@example.org", PASSWORD, Role.MEMBER, "Amina",
                                      member_id=world.members["a.amina"]), password_profile="test")
            world.users["member"] = member_user
            await db.commit()
        return world

    def actor(self, key: str) -> Actor:
        user = self.users[key]
        return Actor(user.id, user.organisation_id, Role(user.role), user.member_id)

    def auth(self, key: str, **extra: str) -> dict[str, str]:
        tokens = self.client.app.state.tokens
        token, _ = tokens.issue(self.users[key], utcnow())
        return {"Authorization": f"Bearer {token}", **extra}

    async def login(self, key: str) -> dict[str, Any]:
        response = await self.client.post("/api/v1/auth/login", json={
            "email": self.users[key].email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]
