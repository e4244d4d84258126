"""Reading the books of a cycle: the ledger, balances derived from it, and the chain's verification."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Actor
from domain.cycles import get_visible_cycle
from domain.ledger import ChainReport, MemberBook, cycle_books, verify_cycle
from domain.loans import interest_charged
from domain.meetings import keeps_the_books
from domain.models import Cycle, LedgerEntry, Meeting, MeetingStatus, Member
from domain.paging import Page, paginate


@dataclass(frozen=True, slots=True)
class MemberBalance:
    member_id: UUID
    display_name: str
    left_on: object
    saved_cents: int
    loan_outstanding_cents: int
    interest_due_cents: int


@dataclass(frozen=True, slots=True)
class Balances:
    cycle_id: UUID
    members: list[MemberBalance]
    saved_cents: int
    loan_outstanding_cents: int
    interest_due_cents: int
    cash_expected_cents: int
    complete: bool  # False when the caller sees only their own line


async def sees_all(db: AsyncSession, actor: Actor, cycle: Cycle) -> bool:
    return await keeps_the_books(db, actor, cycle.id)


async def balances(db: AsyncSession, actor: Actor, cycle_id: UUID) -> Balances:
    cycle = await get_visible_cycle(db, actor, cycle_id)
    books, cash = await cycle_books(db, cycle.id)
    interest = await interest_charged(db, cycle.id)
    members = list((await db.execute(select(Member).where(Member.group_id == cycle.group_id)
                                     .order_by(Member.joined_on, Member.id))).scalars())
    lines = []
    for member in members:
        book = books.get(member.id, MemberBook())
        if member.left_on is not None and member.id not in books:
            continue
        lines.append(MemberBalance(member.id, member.display_name, member.left_on, book.saved_cents,
                                   book.disbursed_cents - book.repaid_principal_cents,
                                   interest.get(member.id, 0) - book.repaid_interest_cents))
    totals = (sum(x.saved_cents for x in lines), sum(x.loan_outstanding_cents for x in lines),
              sum(x.interest_due_cents for x in lines))
    complete = await sees_all(db, actor, cycle)
    if not complete:
        lines = [x for x in lines if x.member_id == actor.member_id]
    return Balances(cycle.id, lines, *totals, cash_expected_cents=cash, complete=complete)


async def ledger_page(db: AsyncSession, actor: Actor, cycle_id: UUID, cursor: str | None, limit: int) -> Page[LedgerEntry]:
    cycle = await get_visible_cycle(db, actor, cycle_id)
    stmt = select(LedgerEntry).where(LedgerEntry.cycle_id == cycle.id)
    if not await sees_all(db, actor, cycle):
        stmt = stmt.where(LedgerEntry.member_id == actor.member_id)
    return await paginate(db, stmt, [LedgerEntry.seq], cursor, limit)


async def verify(db: AsyncSession, actor: Actor, cycle_id: UUID) -> ChainReport:
    return await verify_cycle(db, await get_visible_cycle(db, actor, cycle_id))
