"""A whole meeting captured offline on the boekhouder's phone, applied all or nothing.

The same rules as the single endpoints, in the order of the meeting: open, presentielijst, signature,
deposits, loans, close. Every item carries its client-made id, so a retry writes nothing twice and a sync
over a meeting partly recorded online merges by id. The first item that breaks a rule is named by its
path (e.g. deposits[3].witness_member_ids) and the caller rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import errors as e
from domain.access import Actor
from domain.meetings import (
    ClosingCount,
    Deposit,
    close_meeting,
    load_meeting,
    open_meeting,
    put_attendance,
    record_deposit,
    same_witnessed,
    sign_presentielijst,
)
from domain.models import AttendanceStatus, EntryKind, LedgerEntry, MeetingStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SyncBatch:
    opening_cash_cents: int | None = None
    attendance: list[tuple[UUID, AttendanceStatus]] | None = None
    attendance_signed_by_member_id: UUID | None = None
    deposits: list[tuple[UUID, Deposit]] = field(default_factory=list)
    loan_decisions: list[Any] = field(default_factory=list)
    disbursements: list[Any] = field(default_factory=list)
    repayments: list[Any] = field(default_factory=list)
    closing: ClosingCount | None = None


async def _at(path: str, step: Callable[[], Awaitable[T]]) -> T:
    """Run one step; a refusal is tagged with the path of the item that caused it."""
    try:
        return await step()
    except e.DomainError as refusal:
        field_name = getattr(refusal, "field", None)
        refusal.params.setdefault("path", f"{path}.{field_name}" if path.endswith("]") and field_name else path)
        raise


async def apply_sync(db: AsyncSession, actor: Actor, meeting_id: UUID, batch: SyncBatch, now: datetime) -> None:
    context = await load_meeting(db, actor, meeting_id, for_write=True)
    meeting = context.meeting
    if meeting.status == MeetingStatus.CLOSED:
        _check_closed_replay(batch, meeting.closing_cash_cents)
    if batch.loan_decisions or batch.disbursements or batch.repayments:
        raise e.SyncLoansNotYet()
    if batch.opening_cash_cents is not None and meeting.status != MeetingStatus.CLOSED:
        await _at("opening_cash_cents", lambda: open_meeting(
            db, actor, meeting_id, batch.opening_cash_cents or 0, now, context=context))
    if meeting.status == MeetingStatus.CLOSED:
        await _replay_closed(db, context.meeting.id, batch)
        return
    if batch.attendance is not None:
        attendance = batch.attendance
        await _at("attendance", lambda: put_attendance(db, actor, meeting_id, attendance, now, context=context))
    if batch.attendance_signed_by_member_id is not None:
        signer = batch.attendance_signed_by_member_id
        await _at("attendance_signed_by_member_id", lambda: sign_presentielijst(
            db, actor, meeting_id, signer, now, context=context))
    known = {x.id: x for x in (await db.execute(
        select(LedgerEntry).where(LedgerEntry.meeting_id == meeting_id))).scalars()}
    for position, (entry_id, deposit) in enumerate(batch.deposits):
        await _at(f"deposits[{position}]", lambda entry_id=entry_id, deposit=deposit: record_deposit(
            db, actor, meeting_id, deposit, entry_id=entry_id, now=now, context=context, meeting_entries=known))
    await db.flush()
    if batch.closing is not None:
        closing = batch.closing
        await _at("closing_cash_cents", lambda: close_meeting(db, actor, meeting_id, closing, now, context=context))


def _check_closed_replay(batch: SyncBatch, closing_cash_cents: int | None) -> None:
    if batch.closing is None or batch.closing.closing_cash_cents != closing_cash_cents:
        raise e.MeetingClosed()


async def _replay_closed(db: AsyncSession, meeting_id: UUID, batch: SyncBatch) -> None:
    """A retry of a sync that already went through: every item must be there exactly as sent."""
    known = {x.id: x for x in (await db.execute(
        select(LedgerEntry).where(LedgerEntry.meeting_id == meeting_id))).scalars()}
    for position, (entry_id, deposit) in enumerate(batch.deposits):
        entry = known.get(entry_id)
        if entry is None or not same_witnessed(entry, meeting_id, EntryKind.DEPOSIT, deposit.member_id,
                                               deposit.amount_cents, deposit.counted_by, deposit.witnesses):
            error = e.MeetingClosed()
            error.params["path"] = f"deposits[{position}]"
            raise error
