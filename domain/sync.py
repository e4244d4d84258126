"""A whole meeting captured offline on the boekhouder's phone, applied all or nothing.

The same rules as the single endpoints, in the order of the meeting: open, presentielijst, signature,
deposits, loan requests, loan decisions, disbursements, repayments, close. Every item carries its
client-made id, so a retry writes nothing twice and a sync over a meeting partly recorded online merges
by id. The first item that breaks a rule is named by its path (e.g. deposits[3].witness_member_ids); the
caller then rolls the whole transaction back, so nothing of the sync is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import errors as e
from domain import loans
from domain.access import Actor
from domain.meetings import (
    ClosingCount,
    Deposit,
    MeetingContext,
    close_meeting,
    load_meeting,
    open_meeting,
    put_attendance,
    record_deposit,
    sign_presentielijst,
)
from domain.models import AttendanceStatus, LedgerEntry, MeetingStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LoanDecision:
    loan_id: UUID
    votes: dict[UUID, str]
    interest_rate_bp: int | None = None


@dataclass(frozen=True, slots=True)
class LoanPayment:
    id: UUID
    loan_id: UUID
    move: loans.CashMove
    amount_cents: int = 0  # repayments only


@dataclass(frozen=True, slots=True)
class SyncBatch:
    opening_cash_cents: int | None = None
    attendance: list[tuple[UUID, AttendanceStatus]] | None = None
    attendance_signed_by_member_id: UUID | None = None
    deposits: list[tuple[UUID, Deposit]] = field(default_factory=list)
    loan_requests: list[tuple[UUID, loans.LoanRequest]] = field(default_factory=list)
    loan_decisions: list[LoanDecision] = field(default_factory=list)
    disbursements: list[LoanPayment] = field(default_factory=list)
    repayments: list[LoanPayment] = field(default_factory=list)
    closing: ClosingCount | None = None


async def _at(path: str, step: Callable[[], Awaitable[T]]) -> T:
    """Run one step; a refusal is tagged with the path of the item (and field) that caused it."""
    try:
        return await step()
    except e.DomainError as refusal:
        field_name = getattr(refusal, "field", None)
        refusal.params.setdefault("path", f"{path}.{field_name}" if path.endswith("]") and field_name else path)
        raise


def _check_replay_of_closed(context: MeetingContext, batch: SyncBatch) -> None:
    """A closed meeting takes no new facts: what the sync says must be what was recorded."""
    meeting = context.meeting
    recorded = {m: a.status for m, a in context.attendance.items()}
    for path, sent, kept in (
        ("opening_cash_cents", batch.opening_cash_cents, meeting.opening_cash_cents),
        ("attendance", dict(batch.attendance) if batch.attendance is not None else None, recorded),
        ("attendance_signed_by_member_id", batch.attendance_signed_by_member_id, meeting.signed_by_member_id),
        ("closing_cash_cents", batch.closing.closing_cash_cents if batch.closing else None, meeting.closing_cash_cents),
    ):
        if sent is not None and sent != kept:
            raise e.SyncDiffersFromClosedMeeting(path=path)


async def apply_sync(db: AsyncSession, actor: Actor, meeting_id: UUID, batch: SyncBatch,
                     now: datetime) -> MeetingContext:
    context = await load_meeting(db, actor, meeting_id, for_write=True)
    closed = context.meeting.status == MeetingStatus.CLOSED
    if closed:
        _check_replay_of_closed(context, batch)
    else:
        if batch.opening_cash_cents is not None:
            opening = batch.opening_cash_cents
            await _at("opening_cash_cents", lambda: open_meeting(db, actor, meeting_id, opening, now, context=context))
        if batch.attendance is not None:
            attendance = batch.attendance
            await _at("attendance", lambda: put_attendance(db, actor, meeting_id, attendance, now, context=context))
        if batch.attendance_signed_by_member_id is not None:
            signer = batch.attendance_signed_by_member_id
            await _at("attendance_signed_by_member_id", lambda: sign_presentielijst(
                db, actor, meeting_id, signer, now, context=context))
    known = {x.id: x for x in (await db.execute(
        select(LedgerEntry).where(LedgerEntry.meeting_id == meeting_id))).scalars()}
    for i, (entry_id, deposit) in enumerate(batch.deposits):
        await _at(f"deposits[{i}]", lambda entry_id=entry_id, deposit=deposit: record_deposit(
            db, actor, meeting_id, deposit, entry_id=entry_id, now=now, context=context, meeting_entries=known))
    await db.flush()
    for i, (loan_id, request) in enumerate(batch.loan_requests):
        await _at(f"loan_requests[{i}]", lambda loan_id=loan_id, request=request: loans.request_loan(
            db, actor, context.cycle.id, request, loan_id=loan_id, now=now))
    for i, decision in enumerate(batch.loan_decisions):
        await _at(f"loan_decisions[{i}]", lambda d=decision: loans.decide_loan(
            db, actor, d.loan_id, meeting_id, d.votes, d.interest_rate_bp, now, context=context))
    for i, payment in enumerate(batch.disbursements):
        await _at(f"disbursements[{i}]", lambda p=payment: loans.disburse(
            db, actor, p.loan_id, meeting_id, p.move, entry_id=p.id, now=now, context=context))
    for i, payment in enumerate(batch.repayments):
        await _at(f"repayments[{i}]", lambda p=payment: loans.repay(
            db, actor, p.loan_id, meeting_id, p.amount_cents, p.move, entry_id=p.id, now=now, context=context))
    if batch.closing is not None and not closed:
        closing = batch.closing
        await _at("closing_cash_cents", lambda: close_meeting(db, actor, meeting_id, closing, now, context=context))
    return context
