"""Demo data: an organisation with people, a programme, five spaarkringen and a luistergroep.

Three spaarkringen began about a year ago (domain/demo_books.py); De Eendracht has two years of history
behind it and De Brug stopped after its first cycle (domain/demo_history.py); the luistergroep meets
weekly (domain/demo_luistergroep.py). Together they give the demo funder's export a value for every
indicator, with the figures about fewer than 5 people suppressed.

Idempotent: run it twice and nothing is added the second time. Goes through the domain functions,
the way a user would, so demo data obeys every rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import groups, people
from domain.access import Actor
from domain.demo_books import load_books
from domain.demo_history import DE_BRUG, EENDRACHT, de_brug_joined_on, eendracht_joined_on, load_history
from domain.demo_luistergroep import load_luistergroep
from domain.models import GroupKind, Organisation, Role

ORGANISATION = "Stichting Samen Sparen (demo)"
PASSWORD = "kringkas-demo"
NAMESPACE = UUID("5b0c3a5e-6a71-4a2e-9d55-1f0f3a1c9e01")


@dataclass
class DemoLogins:
    created: bool
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (role, email, password)


def _id(name: str) -> UUID:
    return uuid5(NAMESPACE, name)


PEOPLE = [
    ("admin", "admin@demo.kringkas.nl", "Fatima Admin"),
    ("begeleider", "ingrid@demo.kringkas.nl", "Ingrid de Boer"),
    ("begeleider", "youssef@demo.kringkas.nl", "Youssef El Amrani"),
    ("funder", "fonds@demo.kringkas.nl", "Gemeente Amsterdam Noord"),
]

KRINGEN = {
    "Spaarkring De Vlinder": (["Amina", "Sevda", "Ingrid", "Joyce", "Malika", "Priya", "Henk", "Ayse", "Naima",
                               "Gerda"], "ingrid@demo.kringkas.nl"),
    "Spaarkring Zonnebloem": (["Fatma", "Esther", "Soraya", "Winston", "Latifa", "Mirjam", "Dewi", "Zeynep"],
                              "youssef@demo.kringkas.nl"),
    "Spaarkring Samen Sterk": (["Rachida", "Bep", "Kwame", "Hatice", "Marleen", "Nadia", "Ilse", "Olga", "Sanne",
                                "Touria", "Yvonne", "Chantal"], "ingrid@demo.kringkas.nl"),
}
LUISTERGROEP = ("Luistergroep De Kapel", ["Anneke", "Mohamed", "Riet", "Saskia", "Tamara", "Wim"],
                "youssef@demo.kringkas.nl")


async def load_demo(db: AsyncSession, *, password_profile: str, today: date, only_if_empty: bool = False) -> DemoLogins:
    existing = (await db.execute(select(Organisation).where(Organisation.name == ORGANISATION))).scalar_one_or_none()
    if only_if_empty and existing is None and (await db.execute(select(Organisation.id).limit(1))).first():
        return DemoLogins(created=False)
    logins = [(role, email, PASSWORD) for role, email, _ in PEOPLE] + [("member", "amina@demo.kringkas.nl", PASSWORD)]
    if existing is not None:
        return DemoLogins(created=False, logins=logins)
    organisation = await people.get_or_create_organisation(db, ORGANISATION)
    users = {}
    for role, email, name in PEOPLE:
        user, _ = await people.add_user(db, organisation.id, people.NewUser(email, PASSWORD, Role(role), name),
                                        password_profile=password_profile, user_id=_id(email))
        users[email] = user
    admin_user = users["admin@demo.kringkas.nl"]
    admin = Actor(admin_user.id, organisation.id, Role.ADMIN)
    programme, _ = await people.create_programme(db, admin, "Amsterdam Noord 2026", [users["fonds@demo.kringkas.nl"].id],
                                                 programme_id=_id("programme"))
    started = today - timedelta(days=400)
    for name, (members, begeleider) in KRINGEN.items():
        await _group(db, admin, name, GroupKind.SPAARKRING, programme.id, users[begeleider].id, members, started)
    name, members, begeleider = LUISTERGROEP
    await _group(db, admin, name, GroupKind.LUISTERGROEP, programme.id, users[begeleider].id, members, started)
    history = []
    for (name, members, begeleider), joined_on in ((EENDRACHT, eendracht_joined_on(today)),
                                                   (DE_BRUG, de_brug_joined_on(today))):
        await _group(db, admin, name, GroupKind.SPAARKRING, programme.id, users[begeleider].id, members, joined_on)
        history.append((_id(name), [_id(f"{name}/{m}") for m in members]))
    amina = _id("Spaarkring De Vlinder/Amina")
    await people.add_user(db, organisation.id, people.NewUser("amina@demo.kringkas.nl", PASSWORD, Role.MEMBER,
                                                              "Amina", member_id=amina),
                          password_profile=password_profile, user_id=_id("amina@demo.kringkas.nl"))
    await db.flush()
    await load_books(db, admin, [_id(name) for name in KRINGEN], today)
    name, members, begeleider = LUISTERGROEP
    await load_luistergroep(db, admin, _id(name), users[begeleider].id, [_id(f"{name}/{m}") for m in members], today)
    await load_history(db, admin, history[0], history[1], today)
    return DemoLogins(created=True, logins=logins)


async def _group(
    db: AsyncSession, admin: Actor, name: str, kind: GroupKind, programme_id: UUID, begeleider_id: UUID,
    members: list[str], started: date,
) -> None:
    group, created = await groups.create_group(
        db, admin, groups.NewGroup(name, kind, programme_id, frozenset({begeleider_id})), group_id=_id(name)
    )
    if created:
        # registered the day its members joined, not the day the demo was loaded: create_group stamps the
        # clock, and "groups started" in the funder's export counts registrations in the period
        group.created_at = datetime.combine(started, time(10), ZoneInfo(group.timezone)).astimezone(UTC)
    for position, member in enumerate(members):
        phone = f"06 {12345600 + position:08d}" if position % 3 == 0 else None
        await groups.add_member(db, admin, group.id, groups.NewMember(member, phone, started),
                                member_id=_id(f"{name}/{member}"))
