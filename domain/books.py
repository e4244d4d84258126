"""Reading the books of a cycle: the ledger, balances derived from it, and the chain's verification."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Date,
    String,
    Uuid,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Actor, actor_params, visible_group_ids_of
from domain.cycles import get_visible_cycle
from domain.errors import ResourceNotFound
from domain.ledger import ChainReport, MemberBook, books_from_sums, verify_cycle
from domain.loans import INTEREST_CHARGED
from domain.meetings import keeps_the_books
from domain.models import Cycle, EntryKind, Group, LedgerEntry, Loan, Member, Role
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


@cache
def _balances_statement(role: Role, has_member: bool) -> CompoundSelect:
    """Built once per kind of caller (the caller and the cycle as bound parameters): a UNION of the visible
    cycle, its group's members, its entries summed per member and kind (the raw GROUP BY), and the interest
    of its loans paid out. The visibility is a CTE, evaluated and planned once for all four parts."""
    cycle_id = bindparam("cycle_id", type_=Uuid)
    visible = (select(Cycle.group_id).join(Group, Group.id == Cycle.group_id)
               .where(Cycle.id == cycle_id, Group.id.in_(visible_group_ids_of(role, has_member)))
               .cte("visible_cycle"))
    cycle_is_visible = exists(select(visible.c.group_id))
    no_text, no_number, no_date = cast(null(), String), cast(null(), BigInteger), cast(null(), Date)
    return union_all(
        select(literal_column("'m'"), Member.id, no_text, no_number, Member.display_name, Member.joined_on,
               Member.left_on).where(Member.group_id == select(visible.c.group_id).scalar_subquery()),
        select(literal_column("'c'"), visible.c.group_id, no_text, no_number, no_text, no_date, no_date),
        select(literal_column("'e'"), LedgerEntry.member_id, cast(LedgerEntry.kind, String),
               func.sum(LedgerEntry.amount_cents), no_text, no_date, no_date)
        .where(LedgerEntry.cycle_id == cycle_id, cycle_is_visible).group_by(LedgerEntry.member_id, LedgerEntry.kind),
        select(literal_column("'i'"), Loan.member_id, no_text, func.sum(Loan.interest_cents), no_text, no_date,
               no_date)
        .where(Loan.cycle_id == cycle_id, cycle_is_visible, Loan.status.in_(INTEREST_CHARGED)).group_by(Loan.member_id),
    )


async def balances(db: AsyncSession, actor: Actor, cycle_id: UUID) -> Balances:
    """One statement whatever the number of members (_balances_statement). A member who is not keeping the
    books costs two more statements, to see whether they are."""
    rows = (await (await db.connection()).execute(_balances_statement(actor.role, actor.member_id is not None),
                                                   {"cycle_id": cycle_id, **actor_params(actor)})).all()
    if not rows:
        raise ResourceNotFound()
    members: list[tuple[object, UUID, str, object]] = []
    sums: list[tuple[UUID, EntryKind, int]] = []
    interest_by_member: dict[UUID, int] = {}
    for source, member_id, kind, amount, name, joined_on, left_on in rows:
        if source == "m":
            members.append((joined_on, member_id, name, left_on))
        elif source == "e":
            sums.append((member_id, EntryKind(kind), int(amount)))
        elif source == "i":
            interest_by_member[member_id] = int(amount or 0)
    books, cash = books_from_sums(sums)
    lines = []
    for _, member_id, name, left_on in sorted(members, key=lambda m: (m[0], str(m[1]))):
        book = books.get(member_id, MemberBook())
        if left_on is not None and member_id not in books:
            continue
        lines.append(MemberBalance(member_id, name, left_on, book.saved_cents,
                                   book.disbursed_cents - book.repaid_principal_cents,
                                   interest_by_member.get(member_id, 0) - book.repaid_interest_cents))
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
