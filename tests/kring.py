"""A spaarkring in a known state, set up through the domain functions (no rows behind the rules' back)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import cycles, meetings
from domain.access import Actor
from domain.models import AttendanceStatus, CycleRole, InterestDistribution, Meeting, utcnow
from tests.world import World

CYCLE_STARTS_ON = date(2026, 1, 5)
RULES = cycles.CycleRules(min_deposit_cents=500, max_deposit_cents=5000, max_loan_multiple=3,
                          max_loan_term_meetings=4, default_interest_rate_bp=500,
                          interest_distribution=InterestDistribution.PRO_RATA)


@dataclass
class Kring:
    """Group A of the world: Amina (boekhouder, has an account), Bram (voorzitter), Chris and Dewi
    (geldtellers), Eva."""

    world: World
    sessionmaker: async_sessionmaker[AsyncSession]
    cycle_id: UUID
    meeting_ids: dict[int, UUID]

    amina: UUID
    bram: UUID
    chris: UUID
    dewi: UUID
    eva: UUID

    group: str = "a"

    @classmethod
    async def build(cls, world: World, *, rules: cycles.CycleRules = RULES, planned_meetings: int = 6,
                    group: str = "a", cycle_id: UUID | None = None) -> Kring:
        admin = world.actor("admin" if group != "y" else "admin_y")
        m = {name: world.members[f"{group}.{name}"] for name in ("amina", "bram", "chris", "dewi", "eva")}
        async with world.sessionmaker() as db:
            cycle, _ = await cycles.create_cycle(db, admin, world.groups[group], cycles.NewCycle(
                CYCLE_STARTS_ON, 14, planned_meetings, rules), cycle_id=cycle_id)
            await cycles.assign_roles(db, admin, cycle.id, [
                cycles.Assignment(m["bram"], CycleRole.VOORZITTER, 1),
                cycles.Assignment(m["amina"], CycleRole.BOEKHOUDER, 1),
                cycles.Assignment(m["chris"], CycleRole.GELDTELLER, 1),
                cycles.Assignment(m["dewi"], CycleRole.GELDTELLER, 1),
            ])
            planned = await cycles.plan_meetings(db, admin, cycle.id)
            await db.commit()
        return cls(world, world.sessionmaker, cycle.id, {x.meeting_no: x.id for x in planned}, **m, group=group)

    @property
    def admin(self) -> Actor:
        return self.world.actor("admin" if self.group != "y" else "admin_y")

    @property
    def everyone(self) -> list[UUID]:
        return [self.amina, self.bram, self.chris, self.dewi, self.eva]

    async def open_meeting(self, meeting_no: int = 1, *, opening_cash_cents: int = 0, sign: bool = True,
                           actor: Actor | None = None) -> UUID:
        """Open a meeting with everyone present and, by default, the presentielijst signed."""
        actor = actor or self.admin
        meeting_id = self.meeting_ids[meeting_no]
        async with self.sessionmaker() as db:
            now = utcnow()
            await meetings.open_meeting(db, actor, meeting_id, opening_cash_cents, now)
            await meetings.put_attendance(db, actor, meeting_id,
                                          [(x, AttendanceStatus.PRESENT) for x in self.everyone], now)
            if sign:
                await meetings.sign_presentielijst(db, actor, meeting_id, self.bram, now)
            await db.commit()
        return meeting_id

    def counter_for(self, member: UUID) -> UUID:
        return self.chris if member != self.chris else self.dewi

    def witnesses_for(self, member: UUID) -> tuple[UUID, UUID]:
        counter = self.counter_for(member)
        first, second = [x for x in (self.eva, self.bram, self.amina, self.dewi) if x not in (member, counter)][:2]
        return first, second

    async def deposit(self, meeting_id: UUID, member: UUID, amount_cents: int) -> UUID:
        async with self.sessionmaker() as db:
            entry, _ = await meetings.record_deposit(
                db, self.admin, meeting_id,
                meetings.Deposit(member, amount_cents, self.counter_for(member), self.witnesses_for(member)),
                entry_id=None, now=utcnow())
            await db.commit()
        return entry.id

    async def close(self, meeting_id: UUID, closing_cash_cents: int) -> Meeting:
        async with self.sessionmaker() as db:
            meeting = await meetings.close_meeting(db, self.admin, meeting_id,
                                                   meetings.ClosingCount(closing_cash_cents), utcnow())
            await db.commit()
        return meeting

    def deposit_body(self, member: UUID, amount_cents: int, **overrides: object) -> dict[str, object]:
        body: dict[str, object] = {"member_id": str(member), "amount_cents": amount_cents,
                                   "counted_by_member_id": str(self.counter_for(member)),
                                   "witness_member_ids": [str(x) for x in self.witnesses_for(member)]}
        body.update(overrides)
        return body
