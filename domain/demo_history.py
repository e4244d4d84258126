"""Demo history: spaarkringen with a past, so the funder's export has continuity to show.

- Spaarkring De Eendracht has met every two weeks for about two years: three cycles shared out (with
  loans repaid, one of them late, and interest shared out), a member who moved away during the third
  cycle and was paid out her savings, and a fourth cycle under way.
- Spaarkring De Brug saved together for one guided cycle, shared out, and then stopped.

The boekhouders of these groups record offline and send each meeting as one sync (domain/sync.py), the
way a phone in a hall without reception does; the share-outs, the leaving and the exit payout go
through their own domain functions. Every rule a real group meets is checked: the signed presentielijst,
a geldteller and two witnesses for every cash movement, votes of the members present, flat interest,
no loan outstanding at a share-out. Ids the demo chooses are uuid5, so a second load finds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from uuid import UUID, uuid5

from sqlalchemy.ext.asyncio import AsyncSession

from domain import cycles, groups, loans, meetings, share_out
from domain.access import Actor
from domain.ledger import Witnessed
from domain.models import AttendanceStatus, CycleRole, GroupStatus, InterestDistribution, Meeting
from domain.sync import LoanDecision, LoanPayment, SyncBatch, apply_sync

NAMESPACE = UUID("9d3b6f1e-2c4a-4f7e-8b1d-6a5c4e3f2a10")
INTERVAL_DAYS = 14
PLANNED = 13  # about six months of meetings every two weeks
BETWEEN_CYCLES_DAYS = 28  # a month off between a share-out and the next cycle
ROTATE_EVERY = 4  # the roles pass on every four meetings, so everyone gets a task
SYNCED_AFTER = timedelta(hours=2)  # the phone finds reception on the way home

EENDRACHT = ("Spaarkring De Eendracht", ["Fadoua", "Gloria", "Hamid", "Nurten", "Petra", "Shirin", "Marianne"],
             "youssef@demo.kringkas.nl")
DE_BRUG = ("Spaarkring De Brug", ["Aisha", "Corrie", "Emine", "Jolanda", "Lamia", "Roosje"], "ingrid@demo.kringkas.nl")


def eendracht_joined_on(today: date) -> date:
    return _cycle_start(today, 1) - timedelta(days=14)


def de_brug_joined_on(today: date) -> date:
    return today - timedelta(days=390)


def _cycle_start(today: date, number: int) -> date:
    """De Eendracht's cycles, counted back from the fourth, which began 61 days ago."""
    fourth = today - timedelta(days=61)
    return fourth - timedelta(days=(4 - number) * ((PLANNED - 1) * INTERVAL_DAYS + BETWEEN_CYCLES_DAYS))


@dataclass(frozen=True, slots=True)
class Loan:
    """A loan asked for, decided and paid out at meeting `at`, repaid in `repayments` (meeting_no, cents)."""

    borrower: UUID
    amount_cents: int
    term: int
    at: int
    repayments: tuple[tuple[int, int], ...] = ()


@dataclass
class SyncedKring:
    """A spaarkring whose meetings arrive as syncs from the boekhouder's phone."""

    db: AsyncSession
    admin: Actor
    group_id: UUID
    members: list[UUID]  # the current members, in joining order
    cycle_id: UUID | None = None
    planned: list[Meeting] = field(default_factory=list)
    cash_cents: int = 0  # what the box holds, counted at the last closing
    slates: dict[int, tuple[UUID, UUID, UUID, UUID]] = field(default_factory=dict)

    def id(self, *parts: object) -> UUID:
        return uuid5(NAMESPACE, "/".join([str(self.group_id), *map(str, parts)]))

    # --- cycles and roles --------------------------------------------------------------------------
    async def start_cycle(self, number: int, starts_on: date, planned: int, rules: cycles.CycleRules) -> None:
        cycle, _ = await cycles.create_cycle(self.db, self.admin, self.group_id, cycles.NewCycle(
            starts_on, INTERVAL_DAYS, planned, rules), cycle_id=self.id("cycle", number))
        self.cycle_id, self.cash_cents, self.slates = cycle.id, 0, {}
        await self.assign_roles(1, planned, shift=number)
        self.planned = await cycles.plan_meetings(self.db, self.admin, cycle.id)

    async def assign_roles(self, from_no: int, planned: int, shift: int) -> None:
        """Slates from meeting `from_no` on, passing on every ROTATE_EVERY meetings among the current
        members: voorzitter, boekhouder and two geldtellers, never two roles for one person."""
        assert self.cycle_id is not None
        assignments = []
        for start in range(from_no, planned + 1):
            if start != from_no and (start - 1) % ROTATE_EVERY:
                continue
            offset = (shift + 2 * ((start - 1) // ROTATE_EVERY)) % len(self.members)
            m = self.members[offset:] + self.members[:offset]
            self.slates[start] = (m[0], m[1], m[2], m[3])
            assignments += [cycles.Assignment(m[0], CycleRole.VOORZITTER, start),
                            cycles.Assignment(m[1], CycleRole.BOEKHOUDER, start),
                            cycles.Assignment(m[2], CycleRole.GELDTELLER, start),
                            cycles.Assignment(m[3], CycleRole.GELDTELLER, start)]
        await cycles.assign_roles(self.db, self.admin, self.cycle_id, assignments)

    def holders(self, meeting_no: int) -> tuple[UUID, UUID, UUID, UUID]:
        return self.slates[max(s for s in self.slates if s <= meeting_no)]

    def move(self, meeting_no: int, owner: UUID, absent: frozenset[UUID]) -> loans.CashMove:
        """Counted by a geldteller who is not the owner, seen by two members who are neither."""
        voorzitter, boekhouder, first, second = self.holders(meeting_no)
        counter = first if owner != first else second
        others = [m for m in self.members if m not in (voorzitter, boekhouder, first, second)] + [voorzitter, boekhouder]
        witnesses = [m for m in others if m not in (owner, counter) and m not in absent]
        return loans.CashMove(counter, (witnesses[0], witnesses[1]))

    # --- a meeting --------------------------------------------------------------------------------
    async def hold(self, meeting: Meeting, *, deposits: dict[UUID, int], absent: frozenset[UUID] = frozenset(),
                   late: frozenset[UUID] = frozenset(), lend: tuple[Loan, ...] = (),
                   repay: tuple[tuple[Loan, int], ...] = (), close: bool = True) -> datetime:
        """The meeting as one sync: opening count, presentielijst signed by the voorzitter, deposits, loans
        requested, decided and paid out, repayments, and (with `close`) the closing count."""
        no = meeting.meeting_no
        voorzitter = self.holders(no)[0]
        attendance = [(m, AttendanceStatus.EXCUSED if m in absent else
                       AttendanceStatus.LATE if m in late else AttendanceStatus.PRESENT) for m in self.members]
        batch = SyncBatch(opening_cash_cents=self.cash_cents, attendance=attendance,
                          attendance_signed_by_member_id=voorzitter)
        cash = self.cash_cents
        for member, amount in deposits.items():
            move = self.move(no, member, absent)
            batch.deposits.append((self.id(self.cycle_id, no, "deposit", member),
                                   meetings.Deposit(member, amount, move.counted_by, move.witnesses)))
            cash += amount
        present = [m for m in self.members if m not in absent]
        for loan in lend:
            loan_id = self.loan_id(loan)
            batch.loan_requests.append((loan_id, loans.LoanRequest(loan.borrower, loan.amount_cents, loan.term)))
            batch.loan_decisions.append(LoanDecision(loan_id, {m: "for" for m in present if m != loan.borrower}))
            batch.disbursements.append(LoanPayment(self.id(loan_id, "out"), loan_id,
                                                   self.move(no, loan.borrower, absent)))
            cash -= loan.amount_cents
        for loan, amount in repay:
            loan_id = self.loan_id(loan)
            batch.repayments.append(LoanPayment(self.id(loan_id, "in", no), loan_id,
                                                self.move(no, loan.borrower, absent), amount))
            cash += amount
        if close:
            batch = replace(batch, closing=meetings.ClosingCount(cash))
        now = meeting.scheduled_for + SYNCED_AFTER
        await apply_sync(self.db, self.admin, meeting.id, batch, now)
        self.cash_cents = cash
        if close:
            assert meeting.discrepancy_cents == 0, (meeting.meeting_no, meeting.discrepancy_cents)
        return now

    async def close(self, meeting: Meeting, now: datetime) -> None:
        await meetings.close_meeting(self.db, self.admin, meeting.id, meetings.ClosingCount(self.cash_cents), now)
        assert meeting.discrepancy_cents == 0, (meeting.meeting_no, meeting.discrepancy_cents)

    def loan_id(self, loan: Loan) -> UUID:
        return self.id(self.cycle_id, "loan", loan.at, loan.borrower)

    async def share_out(self, meeting: Meeting) -> None:
        """The last meeting: everyone present, the pot paid out, and the empty box counted."""
        now = await self.hold(meeting, deposits={}, close=False)
        assert self.cycle_id is not None
        await share_out.finalise(self.db, self.admin, self.cycle_id, meeting.id, now)
        self.cash_cents = 0
        await self.close(meeting, now)

    async def leave_and_pay_out(self, meeting: Meeting, leaver: UUID, reason: str, *, deposits: dict[UUID, int],
                                repay: tuple[tuple[Loan, int], ...]) -> None:
        """A member leaves on the day of a meeting: her roles pass to others from that meeting on, and
        at the meeting her savings are counted out to her in front of the group."""
        day = meeting.scheduled_for.date()
        await groups.leave(self.db, self.admin, self.group_id, leaver, day, reason)
        self.members = [m for m in self.members if m != leaver]
        await self.assign_roles(meeting.meeting_no, len(self.planned), shift=1)
        now = await self.hold(meeting, deposits={m: c for m, c in deposits.items() if m != leaver}, repay=repay,
                              close=False)
        move = self.move(meeting.meeting_no, leaver, frozenset())
        entry, _ = await meetings.record_exit_payout(
            self.db, self.admin, meeting.id, leaver, Witnessed(leaver, move.counted_by, move.witnesses),
            entry_id=self.id(self.cycle_id, "exit", leaver), now=now + timedelta(minutes=1))
        self.cash_cents -= entry.amount_cents
        await self.close(meeting, now + timedelta(minutes=2))


def _rules(max_loan_multiple: int, distribution: InterestDistribution) -> cycles.CycleRules:
    return cycles.CycleRules(min_deposit_cents=500, max_deposit_cents=5000, max_loan_multiple=max_loan_multiple,
                             max_loan_term_meetings=4, default_interest_rate_bp=500,
                             interest_distribution=distribution)


def _owed(amount_cents: int) -> int:
    return amount_cents + loans.flat_interest_cents(amount_cents, 500)


async def load_history(db: AsyncSession, admin: Actor, eendracht: tuple[UUID, list[UUID]],
                       de_brug: tuple[UUID, list[UUID]], today: date) -> None:
    await _eendracht(SyncedKring(db, admin, *eendracht), today)
    await _de_brug(SyncedKring(db, admin, *de_brug), today)


DISTRIBUTIONS = {1: InterestDistribution.PRO_RATA, 2: InterestDistribution.EQUAL,
                 3: InterestDistribution.TIME_WEIGHTED, 4: InterestDistribution.PRO_RATA}


async def _eendracht(k: SyncedKring, today: date) -> None:
    """Three cycles shared out and a fourth under way; zelfstandig after the first. Four loans a cycle,
    each to someone else; in the third cycle one is repaid a meeting late and a member moves away."""
    m = list(k.members)
    base = [1000, 1500, 500, 2000, 750, 1000, 1250]
    leaver = m[5]
    for number in (1, 2, 3, 4):
        await k.start_cycle(number, _cycle_start(today, number), PLANNED, _rules(3, DISTRIBUTIONS[number]))
        raised = 250 * (number - 1)  # the group saves a little more each cycle
        amounts = {member: min(5000, cents + raised) for member, cents in zip(m, base, strict=True)}
        lent = (Loan(m[number % 7], 3000, 4, 2, ((6, _owed(3000)),)),
                Loan(m[(number + 2) % 7], 2000, 3, 3, ((6, _owed(2000)),)),
                Loan(m[(number + 4) % 7], 4000, 4, 5, ((7, 2000), (9, _owed(4000) - 2000))),
                Loan(m[(number + 5) % 7], 2500, 3, 8,
                     ((11, 1500), (12, _owed(2500) - 1500)) if number == 3 else ((11, _owed(2500)),)))
        for meeting in k.planned:
            no = meeting.meeting_no
            if meeting.scheduled_for.date() >= today:
                break  # the fourth cycle has only just begun
            if no == PLANNED:
                await k.share_out(meeting)
                continue
            here = k.members
            absent = frozenset({here[(no + number) % len(here)]} - set(k.holders(no))) if no % 5 == 0 else frozenset()
            late = frozenset({here[(no * 3) % len(here)]}) - absent if no % 4 == 2 else frozenset()
            deposits = {x: amounts[x] for x in here if x not in absent}
            repay = tuple((loan, cents) for loan in lent for at, cents in loan.repayments if at == no)
            if number == 3 and no == 9:
                await k.leave_and_pay_out(meeting, leaver, "verhuisd", deposits=deposits, repay=repay)
                continue
            await k.hold(meeting, deposits=deposits, absent=absent, late=late,
                         lend=tuple(loan for loan in lent if loan.at == no), repay=repay)
        if number == 1:
            # after its guided first cycle the group carries on by itself
            await groups.change_group(k.db, k.admin, k.group_id, groups.GroupChange(status=GroupStatus.ZELFSTANDIG),
                                      (), k.planned[-1].scheduled_for.date())


async def _de_brug(k: SyncedKring, today: date) -> None:
    """One guided cycle of saving only, shared out; two weeks later the group stopped."""
    await k.start_cycle(1, de_brug_joined_on(today) + timedelta(days=10), 8, _rules(0, InterestDistribution.PRO_RATA))
    amounts = dict(zip(k.members, [500, 1000, 750, 500, 1500, 1000], strict=True))
    for meeting in k.planned[:-1]:
        await k.hold(meeting, deposits=amounts)
    await k.share_out(k.planned[-1])
    await groups.change_group(k.db, k.admin, k.group_id, groups.GroupChange(status=GroupStatus.GESTOPT), (),
                              k.planned[-1].scheduled_for.date() + timedelta(days=14))
