"""Where a paid-out loan stands, derived from its ledger entries: running, overdue or repaid."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import EntryKind, LedgerEntry, Loan, LoanStatus, Meeting, MeetingStatus

OUTSTANDING_STATUSES = frozenset({LoanStatus.DISBURSED, LoanStatus.OVERDUE})


@dataclass(frozen=True, slots=True)
class LoanFigures:
    principal_cents: int
    interest_cents: int
    repaid_principal_cents: int
    repaid_interest_cents: int

    @property
    def principal_due_cents(self) -> int:
        return self.principal_cents - self.repaid_principal_cents

    @property
    def interest_due_cents(self) -> int:
        return self.interest_cents - self.repaid_interest_cents

    @property
    def outstanding_cents(self) -> int:
        return self.principal_due_cents + self.interest_due_cents


async def figures(db: AsyncSession, loan: Loan) -> LoanFigures:
    rows = dict((await db.execute(select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents)).where(
        LedgerEntry.loan_id == loan.id).group_by(LedgerEntry.kind))).all())
    disbursed = int(rows.get(EntryKind.LOAN_DISBURSEMENT, 0) or 0)
    return LoanFigures(disbursed, (loan.interest_cents or 0) if disbursed else 0,
                       int(rows.get(EntryKind.REPAYMENT_PRINCIPAL, 0) or 0),
                       int(rows.get(EntryKind.REPAYMENT_INTEREST, 0) or 0))


def settled_status(loan: Loan, money: LoanFigures, last_closed_meeting_no: int) -> LoanStatus:
    """What a disbursed loan is now: repaid, overdue (its due meeting closed with money left), or running."""
    if loan.status not in (LoanStatus.DISBURSED, LoanStatus.OVERDUE, LoanStatus.REPAID):
        return loan.status
    if money.principal_cents == 0:
        return LoanStatus.APPROVED  # its disbursement was reversed
    if money.outstanding_cents == 0:
        return LoanStatus.REPAID
    if loan.due_meeting_no is not None and last_closed_meeting_no >= loan.due_meeting_no:
        return LoanStatus.OVERDUE
    return LoanStatus.DISBURSED


async def last_closed_meeting_no(db: AsyncSession, cycle_id: UUID) -> int:
    return (await db.execute(select(func.max(Meeting.meeting_no)).where(
        Meeting.cycle_id == cycle_id, Meeting.status == MeetingStatus.CLOSED))).scalar_one() or 0


async def settle(db: AsyncSession, loan: Loan) -> LoanFigures:
    money = await figures(db, loan)
    loan.status = settled_status(loan, money, await last_closed_meeting_no(db, loan.cycle_id))
    if loan.status == LoanStatus.APPROVED:
        loan.disbursement_meeting_id, loan.due_meeting_no = None, None
    return money


async def settle_after_close(db: AsyncSession, cycle_id: UUID, closed_meeting_no: int) -> None:
    """When a meeting closes, running loans due by then with money left become overdue."""
    loans = (await db.execute(select(Loan).where(
        Loan.cycle_id == cycle_id, Loan.status == LoanStatus.DISBURSED,
        Loan.due_meeting_no <= closed_meeting_no))).scalars()
    for loan in loans:
        await settle(db, loan)
