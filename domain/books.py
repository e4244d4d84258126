"""Reading the books of a cycle: the ledger, balances derived from it, and the chain's verification."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Actor, group_is_visible
from domain.cycles import get_visible_cycle
from domain.errors import ResourceNotFound
from domain.ledger import ChainReport, MemberBook, books_from_sums, verify_cycle
from domain.loans import interest_charged_by_member
from domain.meetings import keeps_the_books
from domain.models import Cycle, EntryKind, Group, LedgerEntry, Member
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
    """One statement whatever the number of members: the visible cycle, its members, their entries summed
    per kind and the interest of their loans (one row per member and kind). A member who is not keeping
    the books costs two more statements, to see whether they are."""
    visible = select(Cycle.id, Cycle.group_id).join(Group, Group.id == Cycle.group_id).where(
        Cycle.id == cycle_id, group_is_visible(actor)).subquery()
    sums = select(LedgerEntry.member_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_cents).label("total")).where(
        LedgerEntry.cycle_id == cycle_id).group_by(LedgerEntry.member_id, LedgerEntry.kind).subquery()
    interest = interest_charged_by_member(cycle_id).subquery()
    rows = (await db.execute(
        select(visible.c.id, Member.id, Member.display_name, Member.left_on, sums.c.kind, sums.c.total,
               interest.c.interest_cents)
        .select_from(visible)
        .outerjoin(Member, Member.group_id == visible.c.group_id)
        .outerjoin(sums, sums.c.member_id == Member.id)
        .outerjoin(interest, interest.c.member_id == Member.id)
        .order_by(Member.joined_on, Member.id))).all()
    if not rows:
        raise ResourceNotFound()
    members: dict[UUID, tuple[str, object, int]] = {}
    sums_seen: list[tuple[UUID, EntryKind, int]] = []
    for _, member_id, name, left_on, kind, total, interest_cents in rows:
        if member_id is None:
            continue  # a group without members yet
        members.setdefault(member_id, (name, left_on, int(interest_cents or 0)))
        if kind is not None:
            sums_seen.append((member_id, kind, total))
    books, cash = books_from_sums(sums_seen)
    lines = []
    for member_id, (name, left_on, interest_cents) in members.items():
        book = books.get(member_id, MemberBook())
        if left_on is not None and member_id not in books:
            continue
        lines.append(MemberBalance(member_id, name, left_on, book.saved_cents,
                                   book.disbursed_cents - book.repaid_principal_cents,
                                   interest_cents - book.repaid_interest_cents))
    totals = (sum(x.saved_cents for x in lines), sum(x.loan_outstanding_cents for x in lines),
              sum(x.interest_due_cents for x in lines))
    complete = await keeps_the_books(db, actor, cycle_id)
    if not complete:
        lines = [x for x in lines if x.member_id == actor.member_id]
    return Balances(cycle_id, lines, *totals, cash_expected_cents=cash, complete=complete)


async def ledger_page(db: AsyncSession, actor: Actor, cycle_id: UUID, cursor: str | None, limit: int) -> Page[LedgerEntry]:
    cycle = await get_visible_cycle(db, actor, cycle_id)
    stmt = select(LedgerEntry).where(LedgerEntry.cycle_id == cycle.id)
    if not await sees_all(db, actor, cycle):
        stmt = stmt.where(LedgerEntry.member_id == actor.member_id)
    return await paginate(db, stmt, [LedgerEntry.seq], cursor, limit)


async def verify(db: AsyncSession, actor: Actor, cycle_id: UUID) -> ChainReport:
    return await verify_cycle(db, await get_visible_cycle(db, actor, cycle_id))
