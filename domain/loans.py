"""Loans from the pot, decided by the members present, with flat interest.

Interest is charged once on the principal for the whole term, never compounding:
interest_cents = principal × rate_bp / 10 000, rounded half up to a whole cent, fixed at the decision.
A repayment pays interest first, then principal. A loan is `overdue` once its due meeting has been
closed with money outstanding; being late adds no penalty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4, uuid5

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import errors as e
from domain.access import Actor
from domain.client_ids import add_once, earlier
from domain.cycles import get_visible_cycle, holders_at, load_assignments
from domain.ledger import CASH_ERRORS, NewEntry, Witnessed, append, check_witnessed, cycle_books
from domain.loan_status import OUTSTANDING_STATUSES, LoanFigures, figures, settle
from domain.meetings import MeetingContext, load_meeting, may_record, same_witnessed
from domain.models import (
    CycleStatus,
    EntryKind,
    LedgerEntry,
    Loan,
    LoanStatus,
    LoanVote,
    MeetingStatus,
    Member,
    Role,
)

OPEN_STATUSES = frozenset({LoanStatus.REQUESTED, LoanStatus.APPROVED, LoanStatus.DISBURSED, LoanStatus.OVERDUE})
VOTES = frozenset({"for", "against", "abstain"})
REPAYMENT_NAMESPACE = UUID("0b9e2c1a-3f57-4c4e-8d1e-6a2f7c9d1e55")


# --- pure rules --------------------------------------------------------------------------------
def flat_interest_cents(principal_cents: int, rate_bp: int) -> int:
    """principal × rate / 10 000, rounded half up to a whole cent, in integers only."""
    return (principal_cents * rate_bp + 5_000) // 10_000


def is_approved(votes: dict[UUID, str], eligible: frozenset[UUID], threshold_bp: int) -> bool:
    """Approved when the votes for exceed the threshold share of the present members other than the
    borrower (5000 bp: more than half). Abstaining, or not voting, is not in favour."""
    in_favour = sum(1 for member, vote in votes.items() if vote == "for" and member in eligible)
    return bool(eligible) and in_favour * 10_000 > threshold_bp * len(eligible)


def split_repayment(amount_cents: int, interest_due_cents: int) -> tuple[int, int]:
    """(interest, principal): interest is paid first."""
    interest = min(amount_cents, interest_due_cents)
    return interest, amount_cents - interest


def check_request(amount_cents: int, term_meetings: int, saved_cents: int, max_multiple: int, max_term: int) -> None:
    if max_multiple == 0:
        raise e.LoansDisabled()
    if amount_cents > max_multiple * saved_cents:
        raise e.LoanOverMultiple(max_cents=max_multiple * saved_cents, saved_cents=saved_cents)
    if not 1 <= term_meetings <= max_term:
        raise e.LoanTermTooLong(max_term_meetings=max_term)


# --- the shells --------------------------------------------------------------------------------
async def _member_saved(db: AsyncSession, cycle_id: UUID, member_id: UUID) -> int:
    books, _ = await cycle_books(db, cycle_id)
    book = books.get(member_id)
    return book.saved_cents if book else 0


async def get_visible_loan(db: AsyncSession, actor: Actor, loan_id: UUID, *, for_update: bool = False) -> Loan:
    loan = await db.get(Loan, loan_id)
    if loan is None:
        raise e.ResourceNotFound()
    await get_visible_cycle(db, actor, loan.cycle_id, for_update=for_update)  # NotFound outside the actor's groups
    if actor.role == Role.MEMBER and loan.member_id != actor.member_id:
        cycle_holders = holders_at(await load_assignments(db, loan.cycle_id), 10_000)
        if not may_record(actor, cycle_holders):
            raise e.ResourceNotFound()
    if for_update:
        await db.refresh(loan)
    return loan


@dataclass(frozen=True, slots=True)
class LoanRequest:
    member_id: UUID
    amount_cents: int
    term_meetings: int
    purpose: str | None = None


async def request_loan(db: AsyncSession, actor: Actor, cycle_id: UUID, request: LoanRequest, *,
                       loan_id: UUID | None, now: datetime) -> tuple[Loan, bool]:
    cycle = await get_visible_cycle(db, actor, cycle_id, for_update=True)
    holders = holders_at(await load_assignments(db, cycle.id), 10_000)
    if not (may_record(actor, holders) or (actor.role == Role.MEMBER and actor.member_id == request.member_id)):
        raise e.MayNotRecord()

    def same(loan: Loan) -> bool:
        return (loan.cycle_id, loan.member_id, loan.principal_cents, loan.term_meetings, loan.purpose) == (
            cycle.id, request.member_id, request.amount_cents, request.term_meetings, request.purpose)

    if (found := await earlier(db, Loan, loan_id, same)) is not None:
        return found, False
    if cycle.status == CycleStatus.CLOSED:
        raise e.CycleClosed()
    if cycle.max_loan_multiple == 0:
        raise e.LoansDisabled()
    if cycle.status == CycleStatus.SHARING_OUT:
        raise e.LoanRequestsClosed()
    member = await db.get(Member, request.member_id)
    if member is None or member.group_id != cycle.group_id or member.left_on is not None:
        raise e.NotACurrentMember(member_ids=[str(request.member_id)])
    check_request(request.amount_cents, request.term_meetings, await _member_saved(db, cycle.id, member.id),
                  cycle.max_loan_multiple, cycle.max_loan_term_meetings)
    open_loan = (await db.execute(select(Loan.id).where(
        Loan.cycle_id == cycle.id, Loan.member_id == member.id, Loan.status.in_(OPEN_STATUSES)))).first()
    if open_loan is not None:
        raise e.LoanAlreadyOpen(loan_id=str(open_loan[0]))
    loan = Loan(id=loan_id or uuid4(), cycle_id=cycle.id, group_id=cycle.group_id, member_id=member.id,
                principal_cents=request.amount_cents, purpose=request.purpose, term_meetings=request.term_meetings,
                status=LoanStatus.REQUESTED, requested_at=now, requested_by=actor.user_id)
    return await add_once(db, loan, same, client_made=loan_id is not None)


async def _loan_at_meeting(db: AsyncSession, actor: Actor, loan_id: UUID, meeting_id: UUID,
                           context: MeetingContext | None) -> tuple[Loan, MeetingContext]:
    loan = await get_visible_loan(db, actor, loan_id)
    context = context or await load_meeting(db, actor, meeting_id, for_write=True)
    if context.cycle.id != loan.cycle_id:
        raise e.WrongCycle()
    await db.refresh(loan)  # read again now that the cycle is locked
    return loan, context


async def decide_loan(db: AsyncSession, actor: Actor, loan_id: UUID, meeting_id: UUID, votes: dict[UUID, str],
                      interest_rate_bp: int | None, now: datetime,
                      *, context: MeetingContext | None = None) -> Loan:
    loan, context = await _loan_at_meeting(db, actor, loan_id, meeting_id, context)
    rate = context.cycle.default_interest_rate_bp if interest_rate_bp is None else interest_rate_bp
    if loan.decided_meeting_id == meeting_id:  # decided here already: a retry (the loan may have moved on since)
        recorded = dict((await db.execute(select(LoanVote.member_id, LoanVote.vote).where(
            LoanVote.loan_id == loan.id))).all())
        if recorded == votes and loan.interest_rate_bp == rate:
            return loan  # a retry of the same decision
    if loan.status != LoanStatus.REQUESTED:
        raise e.LoanNotRequested(loan_status=loan.status.value)
    if actor.member_id is not None and actor.member_id == loan.member_id:
        raise e.BorrowerDecides()
    _open_for_lending(context)
    if loan.member_id in votes:
        raise e.BorrowerVotes()
    if absent := sorted(str(m) for m in votes if m not in context.present):
        raise e.VoterNotPresent(member_ids=absent)
    if unknown := sorted({v for v in votes.values() if v not in VOTES}):
        raise e.BorrowerVotes(votes=unknown)
    eligible = context.present - {loan.member_id}
    approved = is_approved(votes, eligible, context.cycle.approval_threshold_bp)
    loan.status = LoanStatus.APPROVED if approved else LoanStatus.REJECTED
    loan.decided_meeting_id, loan.decided_at, loan.decided_by = meeting_id, now, actor.user_id
    loan.interest_rate_bp = rate
    loan.interest_cents = flat_interest_cents(loan.principal_cents, rate)
    db.add_all(LoanVote(loan_id=loan.id, member_id=m, vote=v) for m, v in sorted(votes.items(), key=lambda x: str(x[0])))
    await db.flush()
    return loan


def _open_for_lending(context: MeetingContext) -> None:
    if context.cycle.status == CycleStatus.CLOSED:
        raise e.CycleClosed()
    if context.meeting.status != MeetingStatus.OPEN:
        raise e.MeetingClosed() if context.meeting.status == MeetingStatus.CLOSED else e.MeetingNotOpen()
    if context.cycle.status == CycleStatus.SHARING_OUT:
        raise e.LoanRequestsClosed()


@dataclass(frozen=True, slots=True)
class CashMove:
    counted_by: UUID
    witnesses: tuple[UUID, ...]


async def disburse(db: AsyncSession, actor: Actor, loan_id: UUID, meeting_id: UUID, move: CashMove, *,
                   entry_id: UUID | None, now: datetime, context: MeetingContext | None = None) -> tuple[Loan, bool]:
    loan, context = await _loan_at_meeting(db, actor, loan_id, meeting_id, context)
    if loan.status in (LoanStatus.DISBURSED, LoanStatus.OVERDUE, LoanStatus.REPAID):
        existing = (await db.execute(select(LedgerEntry).where(
            LedgerEntry.loan_id == loan.id, LedgerEntry.kind == EntryKind.LOAN_DISBURSEMENT,
            LedgerEntry.reverses_id.is_(None)).order_by(LedgerEntry.seq.desc()).limit(1))).scalar_one_or_none()
        if existing is not None and (entry_id is None or existing.id == entry_id) and same_witnessed(
                existing, meeting_id, EntryKind.LOAN_DISBURSEMENT, loan.member_id, loan.principal_cents,
                move.counted_by, move.witnesses):
            return loan, False  # a retry of the same disbursement
    if loan.status != LoanStatus.APPROVED:
        raise e.LoanNotApproved(loan_status=loan.status.value)
    _open_for_lending(context)
    check_witnessed(context.facts(), Witnessed(loan.member_id, move.counted_by, move.witnesses), CASH_ERRORS)
    due = context.meeting.meeting_no + loan.term_meetings
    if due > context.cycle.planned_meetings:
        raise e.DueAfterLastMeeting(due_meeting_no=due, last_meeting_no=context.cycle.planned_meetings)
    _, cash = await cycle_books(db, context.cycle.id)
    if cash < loan.principal_cents:
        raise e.NotEnoughCash(cash_expected_cents=cash)
    append(db, context.cycle, NewEntry(
        meeting_id=meeting_id, member_id=loan.member_id, kind=EntryKind.LOAN_DISBURSEMENT,
        amount_cents=loan.principal_cents, counted_by=move.counted_by, witnesses=move.witnesses, loan_id=loan.id,
        id=entry_id or uuid4()), actor.user_id, now)
    loan.status, loan.disbursement_meeting_id, loan.due_meeting_no = LoanStatus.DISBURSED, meeting_id, due
    await db.flush()
    return loan, True


def principal_entry_id(entry_id: UUID) -> UUID:
    """A repayment is one act that may write two entries; the second's id follows from the first's."""
    return uuid5(REPAYMENT_NAMESPACE, str(entry_id))


async def repay(db: AsyncSession, actor: Actor, loan_id: UUID, meeting_id: UUID, amount_cents: int, move: CashMove,
                *, entry_id: UUID | None, now: datetime,
                context: MeetingContext | None = None) -> tuple[Loan, list[LedgerEntry], bool]:
    loan, context = await _loan_at_meeting(db, actor, loan_id, meeting_id, context)
    entry_id = entry_id or uuid4()
    earlier_entries = [x for x in [await db.get(LedgerEntry, entry_id),
                                   await db.get(LedgerEntry, principal_entry_id(entry_id))] if x is not None]
    if earlier_entries:
        same = all(x.loan_id == loan.id and x.meeting_id == meeting_id and x.counted_by_member_id == move.counted_by
                   and sorted(x.witness_member_ids) == sorted(str(w) for w in move.witnesses)
                   for x in earlier_entries) and sum(x.amount_cents for x in earlier_entries) == amount_cents
        if not same:
            raise e.IdReused(id=str(entry_id))
        return loan, earlier_entries, False
    if loan.status not in OUTSTANDING_STATUSES:
        raise e.LoanNotDisbursed(loan_status=loan.status.value)
    if context.cycle.status == CycleStatus.CLOSED:
        raise e.CycleClosed()
    check_witnessed(context.facts(), Witnessed(loan.member_id, move.counted_by, move.witnesses), CASH_ERRORS)
    money = await figures(db, loan)
    if amount_cents > money.outstanding_cents:
        raise e.Overpayment(outstanding_cents=money.outstanding_cents)
    interest, principal = split_repayment(amount_cents, money.interest_due_cents)
    written = []
    for kind, amount, this_id in ((EntryKind.REPAYMENT_INTEREST, interest, entry_id),
                                  (EntryKind.REPAYMENT_PRINCIPAL, principal,
                                   principal_entry_id(entry_id) if interest else entry_id)):
        if amount:
            written.append(append(db, context.cycle, NewEntry(
                meeting_id=meeting_id, member_id=loan.member_id, kind=kind, amount_cents=amount,
                counted_by=move.counted_by, witnesses=move.witnesses, loan_id=loan.id, id=this_id), actor.user_id, now))
    await db.flush()
    await settle(db, loan)
    await db.flush()
    return loan, written, True


@dataclass(frozen=True, slots=True)
class LoanView:
    loan: Loan
    money: LoanFigures
    votes: list[tuple[UUID, str]]


async def view_loan(db: AsyncSession, actor: Actor, loan_id: UUID) -> LoanView:
    loan = await get_visible_loan(db, actor, loan_id)
    votes = [(m, v) for m, v in (await db.execute(select(LoanVote.member_id, LoanVote.vote).where(
        LoanVote.loan_id == loan.id).order_by(LoanVote.member_id))).all()]
    return LoanView(loan, await figures(db, loan), votes)


async def list_loans(db: AsyncSession, actor: Actor, cycle_id: UUID) -> Sequence[Loan]:
    cycle = await get_visible_cycle(db, actor, cycle_id)
    stmt = select(Loan).where(Loan.cycle_id == cycle.id).order_by(Loan.requested_at, Loan.id)
    if actor.role == Role.MEMBER and not may_record(actor, holders_at(await load_assignments(db, cycle.id), 10_000)):
        stmt = stmt.where(Loan.member_id == actor.member_id)
    return list((await db.execute(stmt)).scalars())


INTEREST_CHARGED = (LoanStatus.DISBURSED, LoanStatus.OVERDUE, LoanStatus.REPAID)  # paid out: interest is owed
# (domain/books.py balances sums the interest of these loans per member)
