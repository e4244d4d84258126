"""Loans decided by the group, leavers' payouts, and the share-out."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, get, post
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.controllers.common import created
from api.controllers.spaarkring import entry_out
from api.schemas.spaarkring import (
    DecisionIn,
    DisbursementIn,
    EntryOut,
    ExitPayoutIn,
    FinaliseIn,
    LoanIn,
    LoanOut,
    RepaymentIn,
    RepaymentOut,
    ShareOutLineOut,
    ShareOutOut,
    SheetOut,
    VoteOut,
)
from domain import books, loans, meetings, share_out
from domain.access import Actor
from domain.ledger import Witnessed
from domain.models import Member, ShareOut, utcnow


def loan_out(view: loans.LoanView) -> LoanOut:
    loan, money = view.loan, view.money
    return LoanOut(
        id=loan.id, cycle_id=loan.cycle_id, member_id=loan.member_id, status=loan.status.value,
        principal_cents=loan.principal_cents, interest_rate_bp=loan.interest_rate_bp, interest_cents=loan.interest_cents,
        outstanding_cents=money.outstanding_cents,
        repaid_cents=money.repaid_principal_cents + money.repaid_interest_cents, term_meetings=loan.term_meetings,
        due_meeting_no=loan.due_meeting_no, purpose=loan.purpose, requested_at=loan.requested_at,
        decided_at=loan.decided_at, votes=[VoteOut(member_id=m, vote=v) for m, v in view.votes])


class LoanController(Controller):
    tags = ["spaarkring"]

    @post("/api/v1/cycles/{cycle_id:uuid}/loans", summary="Ask for a loan (requested)")
    async def request(self, cycle_id: UUID, data: LoanIn, db: AsyncSession, actor: Actor) -> Response[LoanOut]:
        loan, is_new = await loans.request_loan(
            db, actor, cycle_id, loans.LoanRequest(data.member_id, data.amount_cents, data.term_meetings, data.purpose),
            loan_id=data.id, now=utcnow())
        await db.commit()
        return created(loan_out(await loans.view_loan(db, actor, loan.id)), is_new, f"/api/v1/loans/{loan.id}")

    @get("/api/v1/cycles/{cycle_id:uuid}/loans", summary="The cycle's loans (a member: their own)")
    async def list_loans(self, cycle_id: UUID, db: AsyncSession, actor: Actor) -> list[LoanOut]:
        return [loan_out(await loans.view_loan(db, actor, loan.id))
                for loan in await loans.list_loans(db, actor, cycle_id)]

    @get("/api/v1/loans/{loan_id:uuid}", summary="A loan with its votes, interest and what is outstanding")
    async def get_loan(self, loan_id: UUID, db: AsyncSession, actor: Actor) -> LoanOut:
        return loan_out(await loans.view_loan(db, actor, loan_id))

    @post("/api/v1/loans/{loan_id:uuid}/decision", status_code=200,
          summary="The members present vote; more than half of them (borrower not counted) approves. Interest is "
                  "flat on the principal for the whole term, rounded half up to the cent.")
    async def decide(self, loan_id: UUID, data: DecisionIn, db: AsyncSession, actor: Actor) -> LoanOut:
        await loans.decide_loan(db, actor, loan_id, data.meeting_id, {v.member_id: v.vote for v in data.votes},
                                data.interest_rate_bp, utcnow())
        await db.commit()
        return loan_out(await loans.view_loan(db, actor, loan_id))

    @post("/api/v1/loans/{loan_id:uuid}/disbursement", summary="Count the loan out of the box, witnessed")
    async def disburse(self, loan_id: UUID, data: DisbursementIn, db: AsyncSession, actor: Actor) -> Response[LoanOut]:
        _, is_new = await loans.disburse(db, actor, loan_id, data.meeting_id,
                                         loans.CashMove(data.counted_by_member_id, tuple(data.witness_member_ids)),
                                         entry_id=data.id, now=utcnow())
        await db.commit()
        return created(loan_out(await loans.view_loan(db, actor, loan_id)), is_new)

    @post("/api/v1/loans/{loan_id:uuid}/repayments", summary="A repayment, witnessed; interest first, then principal")
    async def repay(self, loan_id: UUID, data: RepaymentIn, db: AsyncSession, actor: Actor) -> Response[RepaymentOut]:
        _, entries, is_new = await loans.repay(
            db, actor, loan_id, data.meeting_id, data.amount_cents,
            loans.CashMove(data.counted_by_member_id, tuple(data.witness_member_ids)), entry_id=data.id, now=utcnow())
        await db.commit()
        view = await loans.view_loan(db, actor, loan_id)
        return created(RepaymentOut(loan=loan_out(view), entries=[entry_out(x) for x in entries]), is_new)

    @post("/api/v1/meetings/{meeting_id:uuid}/exit-payouts",
          summary="A member who left gets their savings back, counted and witnessed")
    async def exit_payout(self, meeting_id: UUID, data: ExitPayoutIn, db: AsyncSession,
                          actor: Actor) -> Response[EntryOut]:
        entry, is_new = await meetings.record_exit_payout(
            db, actor, meeting_id, data.member_id,
            Witnessed(data.member_id, data.counted_by_member_id, tuple(data.witness_member_ids)),
            entry_id=data.id, now=utcnow())
        await db.commit()
        return created(entry_out(entry), is_new)


async def _share_out_out(db: AsyncSession, actor: Actor, cycle_id: UUID) -> ShareOutOut:
    result = await share_out.preview(db, actor, cycle_id)
    cycle = result.inputs.cycle
    names = dict((await db.execute(select(Member.id, Member.display_name).where(
        Member.group_id == cycle.group_id))).all())
    complete = await books.sees_all(db, actor, cycle)
    lines = [ShareOutLineOut(member_id=x.member_id, display_name=names.get(x.member_id), saved_cents=x.saved_cents,
                             weight=x.weight, interest_share_cents=x.interest_share_cents, payout_cents=x.payout_cents)
             for x in result.lines if complete or x.member_id == actor.member_id]
    return ShareOutOut(
        cycle_id=cycle.id, final=result.final is not None, interest_distribution=cycle.interest_distribution.value,
        interest_pool_cents=result.final.interest_pool_cents if result.final else result.inputs.pool_cents,
        cash_expected_cents=result.inputs.cash_expected_cents, loans_outstanding=result.inputs.loans_outstanding,
        members=lines, complete=complete,
        totals={"saved_cents": sum(x.saved_cents for x in result.lines),
                "interest_share_cents": sum(x.interest_share_cents for x in result.lines),
                "payout_cents": sum(x.payout_cents for x in result.lines)})


def sheet_out(record: ShareOut) -> SheetOut:
    return SheetOut(cycle_id=record.cycle_id, meeting_id=record.meeting_id, sheet=record.sheet,
                    sheet_hash=record.sheet_hash, finalised_at=record.finalised_at)


class ShareOutController(Controller):
    path = "/api/v1/cycles/{cycle_id:uuid}/share-out"
    tags = ["spaarkring"]

    @get(summary="Preview (or, once final, the result): savings back plus a share of the interest, to the cent")
    async def preview(self, cycle_id: UUID, db: AsyncSession, actor: Actor) -> ShareOutOut:
        return await _share_out_out(db, actor, cycle_id)

    @post(summary="Finalise at the last meeting: pays everyone out and closes the cycle; refused while a loan is "
                  "outstanding; a second call answers the first result")
    async def finalise(self, cycle_id: UUID, data: FinaliseIn, db: AsyncSession, actor: Actor) -> Response[ShareOutOut]:
        _, is_new = await share_out.finalise(db, actor, cycle_id, data.meeting_id, utcnow())
        await db.commit()
        return created(await _share_out_out(db, actor, cycle_id), is_new)

    @get("/sheet", summary="The finalised calculation sheet, unchanged since finalising")
    async def sheet(self, cycle_id: UUID, db: AsyncSession, actor: Actor) -> SheetOut:
        return sheet_out(await share_out.final_sheet(db, actor, cycle_id))
