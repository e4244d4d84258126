"""Demo books for the spaarkringen: finished and running cycles with meetings, a correction, loans in
every state (one overdue), a discrepancy, and a finished cycle with its share-out.

Everything goes through the domain functions, with `now` set to the meeting's own time, so the demo obeys
every rule a real group does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import cycles, groups, loans, meetings, share_out
from domain.access import Actor
from domain.ledger import cycle_books
from domain.models import (
    AttendanceStatus,
    CycleRole,
    GroupStatus,
    InterestDistribution,
    LedgerEntry,
    Meeting,
    Member,
)


@dataclass
class Kring:
    """A spaarkring being run: its members in joining order, the admin recording, the current cycle."""

    db: AsyncSession
    admin: Actor
    group_id: UUID
    members: list[UUID]
    cycle_id: UUID | None = None
    closing_cents: int = 0
    absent: frozenset[UUID] = frozenset()

    def roles_from(self, meeting_no: int, shift: int) -> list[cycles.Assignment]:
        m = self.members[shift:] + self.members[:shift]
        return [cycles.Assignment(m[0], CycleRole.VOORZITTER, meeting_no),
                cycles.Assignment(m[1], CycleRole.BOEKHOUDER, meeting_no),
                cycles.Assignment(m[2], CycleRole.GELDTELLER, meeting_no),
                cycles.Assignment(m[3], CycleRole.GELDTELLER, meeting_no)]

    async def start_cycle(self, starts_on: date, planned: int, rules: cycles.CycleRules) -> list[Meeting]:
        cycle, _ = await cycles.create_cycle(self.db, self.admin, self.group_id, cycles.NewCycle(
            starts_on, 14, planned, rules))
        self.cycle_id, self.closing_cents = cycle.id, 0
        await cycles.assign_roles(self.db, self.admin, cycle.id, self.roles_from(1, 0) + self.roles_from(4, 4))
        return await cycles.plan_meetings(self.db, self.admin, cycle.id)

    def counter_and_witnesses(self, meeting_no: int, owner: UUID) -> tuple[UUID, tuple[UUID, UUID]]:
        shift = 0 if meeting_no < 4 else 4
        m = self.members[shift:] + self.members[:shift]
        counter = m[2] if owner != m[2] else m[3]
        witnesses = [x for x in m[4:] + m[:2] if x not in (owner, counter) and x not in self.absent]
        return counter, (witnesses[0], witnesses[1])

    async def open(self, meeting: Meeting, absent: tuple[int, ...] = ()) -> datetime:
        at = meeting.scheduled_for
        self.absent = frozenset(self.members[i] for i in absent)
        await meetings.open_meeting(self.db, self.admin, meeting.id, self.closing_cents, at)
        await meetings.put_attendance(self.db, self.admin, meeting.id, [
            (m, AttendanceStatus.EXCUSED if i in absent else AttendanceStatus.PRESENT)
            for i, m in enumerate(self.members)], at + timedelta(minutes=5))
        voorzitter = self.members[0 if meeting.meeting_no < 4 else 4]
        await meetings.sign_presentielijst(self.db, self.admin, meeting.id, voorzitter, at + timedelta(minutes=6))
        return at + timedelta(minutes=10)

    async def deposit_all(self, meeting: Meeting, at: datetime, amounts: list[int], absent: tuple[int, ...] = ()) -> None:
        """Each saver in turn, counted and witnessed. The meeting's rules are read once for the round,
        as a sync does (every deposit is still checked), which keeps loading the demo quick."""
        context = await meetings.load_meeting(self.db, self.admin, meeting.id, for_write=True)
        entries = {x.id: x for x in (await self.db.execute(
            select(LedgerEntry).where(LedgerEntry.meeting_id == meeting.id))).scalars()}
        for i, (member, amount) in enumerate(zip(self.members, amounts, strict=False)):
            if i in absent or not amount:
                continue
            counter, witnesses = self.counter_and_witnesses(meeting.meeting_no, member)
            await meetings.record_deposit(self.db, self.admin, meeting.id,
                                          meetings.Deposit(member, amount, counter, witnesses),
                                          entry_id=None, now=at + timedelta(minutes=i), context=context,
                                          meeting_entries=entries)
        await self.db.flush()

    async def close(self, meeting: Meeting, at: datetime, short_cents: int = 0) -> None:
        _, expected = await cycle_books(self.db, meeting.cycle_id)
        self.closing_cents = expected - short_cents
        await meetings.close_meeting(self.db, self.admin, meeting.id, meetings.ClosingCount(self.closing_cents),
                                     at + timedelta(minutes=60))

    async def lend(self, meeting: Meeting, at: datetime, borrower: int, amount: int, term: int,
                   *, approve: bool = True, disburse: bool = True) -> UUID:
        member = self.members[borrower]
        loan, _ = await loans.request_loan(self.db, self.admin, meeting.cycle_id,
                                           loans.LoanRequest(member, amount, term, "naaimachine" if borrower % 2 else None),
                                           loan_id=None, now=at)
        votes = {m: ("for" if approve else "against") for m in self.members if m != member and m not in self.absent}
        await loans.decide_loan(self.db, self.admin, loan.id, meeting.id, votes, None, at + timedelta(minutes=1))
        if approve and disburse:
            counter, witnesses = self.counter_and_witnesses(meeting.meeting_no, member)
            await loans.disburse(self.db, self.admin, loan.id, meeting.id, loans.CashMove(counter, witnesses),
                                 entry_id=None, now=at + timedelta(minutes=2))
        return loan.id

    async def repay(self, meeting: Meeting, at: datetime, loan_id: UUID, borrower: int, amount: int) -> None:
        counter, witnesses = self.counter_and_witnesses(meeting.meeting_no, self.members[borrower])
        await loans.repay(self.db, self.admin, loan_id, meeting.id, amount, loans.CashMove(counter, witnesses),
                          entry_id=None, now=at + timedelta(minutes=3))


def _rules(max_loan_multiple: int, distribution: InterestDistribution) -> cycles.CycleRules:
    return cycles.CycleRules(min_deposit_cents=500, max_deposit_cents=5000, max_loan_multiple=max_loan_multiple,
                             max_loan_term_meetings=4, default_interest_rate_bp=500,
                             interest_distribution=distribution)


async def _members(db: AsyncSession, group_id: UUID) -> list[UUID]:
    return list((await db.execute(select(Member.id).where(Member.group_id == group_id)
                                  .order_by(Member.joined_on, Member.display_name))).scalars())


async def load_books(db: AsyncSession, admin: Actor, kringen: list[UUID], today: date) -> None:
    vlinder, zonnebloem, samen_sterk = kringen
    await _vlinder(Kring(db, admin, vlinder, await _members(db, vlinder)), today)
    await _zonnebloem(Kring(db, admin, zonnebloem, await _members(db, zonnebloem)), today)
    await _samen_sterk(Kring(db, admin, samen_sterk, await _members(db, samen_sterk)), today)


async def _vlinder(k: Kring, today: date) -> None:
    """A finished first cycle with loans and its share-out; a running second cycle with loans in every state,
    a correction, and today's meeting open."""
    first_start = today - timedelta(days=14 * 5 + 14 * 8 + 7)
    planned = await k.start_cycle(first_start, 8, _rules(3, InterestDistribution.PRO_RATA))
    loan_id = None
    for meeting in planned:
        at = await k.open(meeting, absent=(9,) if meeting.meeting_no % 3 == 0 else ())
        if meeting.meeting_no < 8:
            await k.deposit_all(meeting, at, [1000, 500, 2000, 1500, 500, 1000, 750, 500, 1250, 600],
                                absent=(9,) if meeting.meeting_no % 3 == 0 else ())
        if meeting.meeting_no == 2:
            loan_id = await k.lend(meeting, at, 1, 2000, 3)
        if meeting.meeting_no == 4 and loan_id:
            await k.repay(meeting, at, loan_id, 1, 2100)  # 2000 + 5% interest
        if meeting.meeting_no == 8:
            await share_out.finalise(k.db, k.admin, meeting.cycle_id, meeting.id, at + timedelta(minutes=30))
        await k.close(meeting, at)
    # after its guided first cycle the group carries on by itself
    await groups.change_group(k.db, k.admin, k.group_id, groups.GroupChange(status=GroupStatus.ZELFSTANDIG), (),
                              first_start + timedelta(days=14 * 8))
    planned = await k.start_cycle(today - timedelta(days=14 * 5), 12, _rules(3, InterestDistribution.TIME_WEIGHTED))
    for meeting in planned[:6]:
        at = await k.open(meeting, absent=(8, 9) if meeting.meeting_no > 3 else ())
        await k.deposit_all(meeting, at, [1000, 500, 2000, 1500, 500, 1000, 750, 500, 1250, 600],
                            absent=(8, 9) if meeting.meeting_no > 3 else ())
        if meeting.meeting_no == 1:
            overdue = await k.lend(meeting, at, 3, 1000, 2)     # due at 3, not paid: overdue
        if meeting.meeting_no == 2:
            repaid = await k.lend(meeting, at, 4, 800, 2)
            await k.lend(meeting, at, 5, 600, 2, approve=False)  # rejected
        if meeting.meeting_no == 3:
            await k.repay(meeting, at, repaid, 4, 840)
            running = await k.lend(meeting, at, 2, 1500, 4)     # due at 7: still running
        if meeting.meeting_no == 5:
            await k.repay(meeting, at, running, 2, 500)
        if meeting.meeting_no == 4:
            counter, witnesses = k.counter_and_witnesses(4, k.members[6])
            mistake, _ = await meetings.record_deposit(
                k.db, k.admin, meeting.id, meetings.Deposit(k.members[6], 2500, counter, witnesses), entry_id=None,
                now=at + timedelta(minutes=30))
            await meetings.reverse_entry(k.db, k.admin, mistake.id, meeting.id, "dubbel opgeschreven",
                                         now=at + timedelta(minutes=35))
        if meeting.meeting_no == 5:
            await k.lend(meeting, at, 6, 700, 3, disburse=False)  # approved, still to be paid out
        if meeting.meeting_no == 6:
            await loans.request_loan(k.db, k.admin, meeting.cycle_id, loans.LoanRequest(k.members[0], 1000, 3),
                                     loan_id=None, now=at)  # requested, to be decided
            continue  # today's meeting stays open
        await k.close(meeting, at)
    assert overdue


async def _zonnebloem(k: Kring, today: date) -> None:
    """Saving only (no loans), three meetings held, one with 5 euro missing from the box."""
    planned = await k.start_cycle(today - timedelta(days=14 * 3 + 3), 10, _rules(0, InterestDistribution.PRO_RATA))
    for meeting in planned[:3]:
        at = await k.open(meeting)
        await k.deposit_all(meeting, at, [500, 1000, 500, 1500, 700, 500, 2000, 800])
        await k.close(meeting, at, short_cents=500 if meeting.meeting_no == 2 else 0)


async def _samen_sterk(k: Kring, today: date) -> None:
    """Four meetings held, attendance falling, one meeting skipped; loans to eight members, one repaid late
    (so the funder's export has loan figures about enough people to show, and some too few to show)."""
    planned = await k.start_cycle(today - timedelta(days=14 * 5 + 2), 12, _rules(2, InterestDistribution.EQUAL))
    loans_of: dict[int, UUID] = {}
    for meeting in planned[:5]:
        if meeting.meeting_no == 4:
            continue  # never held
        absent = tuple(range(13 - meeting.meeting_no, 12))
        at = await k.open(meeting, absent=absent)
        await k.deposit_all(meeting, at, [500] * 12, absent=absent)
        if meeting.meeting_no == 1:
            for borrower in (0, 1, 2):
                loans_of[borrower] = await k.lend(meeting, at, borrower, 500, 2)  # due at meeting 3
        if meeting.meeting_no == 2:
            for borrower in (3, 4, 5, 6, 7):
                await k.lend(meeting, at, borrower, 1000, 4)  # due at meeting 6: still running
        if meeting.meeting_no == 3:
            for borrower in (0, 1):
                await k.repay(meeting, at, loans_of[borrower], borrower, 525)  # on time
        if meeting.meeting_no == 5:
            await k.repay(meeting, at, loans_of[2], 2, 525)  # late: overdue since meeting 3
        await k.close(meeting, at)
