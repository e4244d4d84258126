"""The share-out (uitkeren): every member gets their savings back plus a share of the interest income,
exact to the cent.

The interest pool is the interest actually paid in the cycle (net of reversals). It is split over the
members still in the cycle who have savings: `pro_rata` to their savings, `equal`, or `time_weighted`
(each cent weighted by the number of meetings it stayed in the box, counting the meeting it came in).
Largest-remainder method: everyone gets the whole cents of their exact share; the cents left over go
one by one to the largest fractional parts; ties go to the larger saver, then the earlier joined_on,
then the lower member id. Integers only, so preview and final result are always identical.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain import errors as e
from domain.access import Actor
from domain.cycles import get_visible_cycle
from domain.ledger import NewEntry, append, cycle_books
from domain.loan_status import OUTSTANDING_STATUSES
from domain.meetings import load_meeting
from domain.models import (
    Cycle,
    CycleStatus,
    EntryKind,
    InterestDistribution,
    LedgerEntry,
    Loan,
    Meeting,
    MeetingStatus,
    Member,
    ShareOut,
)

TIE_BREAK = "largest remainder; ties: larger saver, then earlier joined_on, then lower member id"


def split_by_largest_remainder(
    total_cents: int, weights: Mapping[UUID, int], tie_order: Sequence[UUID]
) -> dict[UUID, int]:
    """Split total_cents in proportion to weights, exact to the cent, in integers only."""
    if total_cents < 0 or any(weight < 0 for weight in weights.values()):
        raise ValueError("amounts and weights are never negative")
    weight_sum = sum(weights.values())
    if weight_sum == 0:
        if total_cents:
            raise e.NoOneToShareWith(total_cents=total_cents)
        return dict.fromkeys(weights, 0)
    shares: dict[UUID, int] = {}
    remainders: dict[UUID, int] = {}
    for member, weight in weights.items():
        shares[member], remainders[member] = divmod(total_cents * weight, weight_sum)
    leftover = total_cents - sum(shares.values())  # always fewer than the members with a remainder
    rank = {member: position for position, member in enumerate(tie_order)}
    for member in sorted(weights, key=lambda m: (-remainders[m], rank[m]))[:leftover]:
        shares[member] += 1
    return shares


@dataclass(frozen=True, slots=True)
class Saver:
    member_id: UUID
    saved_cents: int
    joined_on: date
    left: bool
    time_weight: int  # Σ cents × meetings in the box


@dataclass(frozen=True, slots=True)
class Line:
    member_id: UUID
    saved_cents: int
    weight: int
    interest_share_cents: int

    @property
    def payout_cents(self) -> int:
        return self.saved_cents + self.interest_share_cents


def tie_order(savers: Sequence[Saver]) -> list[UUID]:
    return [s.member_id for s in sorted(savers, key=lambda s: (-s.saved_cents, s.joined_on, str(s.member_id)))]


def weight_of(saver: Saver, method: InterestDistribution) -> int:
    match method:
        case InterestDistribution.PRO_RATA:
            return saver.saved_cents
        case InterestDistribution.EQUAL:
            return 1
        case InterestDistribution.TIME_WEIGHTED:
            return saver.time_weight


def compute_lines(pool_cents: int, savers: Sequence[Saver], method: InterestDistribution,
                  leavers_share: bool) -> list[Line]:
    """Everyone with savings gets them back; the pool goes to those who share in it."""
    with_savings = [s for s in savers if s.saved_cents > 0]
    sharing = {s.member_id: weight_of(s, method) for s in with_savings if leavers_share or not s.left}
    order = tie_order(with_savings)
    shares = split_by_largest_remainder(pool_cents, sharing, order)
    by_id = {s.member_id: s for s in with_savings}
    return [Line(m, by_id[m].saved_cents, sharing.get(m, 0), shares.get(m, 0)) for m in order]


# --- loading what the calculation needs ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Inputs:
    cycle: Cycle
    pool_cents: int
    cash_expected_cents: int
    savers: list[Saver]
    loans_outstanding: int


async def _time_weights(db: AsyncSession, cycle: Cycle, exit_meeting: Mapping[UUID, int]) -> dict[UUID, int]:
    """Σ over deposits of cents × meetings in the box; a reversal counts at its original's meeting."""
    original, at = aliased(LedgerEntry), aliased(Meeting)
    rows = await db.execute(
        select(LedgerEntry.member_id, LedgerEntry.amount_cents, at.meeting_no)
        .outerjoin(original, original.id == LedgerEntry.reverses_id)
        .join(at, at.id == func.coalesce(original.meeting_id, LedgerEntry.meeting_id))
        .where(LedgerEntry.cycle_id == cycle.id, LedgerEntry.kind == EntryKind.DEPOSIT, at.cycle_id == cycle.id))
    weights: dict[UUID, int] = defaultdict(int)
    for member_id, amount, meeting_no in rows.all():
        end = exit_meeting.get(member_id, cycle.planned_meetings)
        weights[member_id] += amount * max(0, end - meeting_no + 1)
    return weights


async def load_inputs(db: AsyncSession, cycle: Cycle) -> Inputs:
    books, cash = await cycle_books(db, cycle.id)
    members = {m.id: m for m in (await db.execute(select(Member).where(Member.group_id == cycle.group_id))).scalars()}
    exits = dict((await db.execute(select(LedgerEntry.member_id, Meeting.meeting_no).join(
        Meeting, Meeting.id == LedgerEntry.meeting_id).where(
        LedgerEntry.cycle_id == cycle.id, LedgerEntry.kind == EntryKind.EXIT_PAYOUT,
        LedgerEntry.amount_cents > 0))).all())
    time_weights = await _time_weights(db, cycle, exits)
    pool = sum(book.repaid_interest_cents for book in books.values())
    savers = [Saver(member_id, book.saved_cents, members[member_id].joined_on,
                    members[member_id].left_on is not None, time_weights.get(member_id, 0))
              for member_id, book in books.items() if member_id in members]
    outstanding = len((await db.execute(select(Loan.id).where(
        Loan.cycle_id == cycle.id, Loan.status.in_(OUTSTANDING_STATUSES)))).all())
    return Inputs(cycle, pool, cash, savers, outstanding)


def build_sheet(inputs: Inputs, lines: Sequence[Line], meeting_id: UUID | None) -> dict[str, Any]:
    cycle = inputs.cycle
    return {
        "cycle_id": str(cycle.id),
        "meeting_id": str(meeting_id) if meeting_id else None,
        "method": {"interest_distribution": cycle.interest_distribution.value, "rounding": TIE_BREAK,
                   "leavers_share_interest": cycle.leaver_interest_share,
                   "time_weight": "cents × (last meeting − deposit meeting + 1)"},
        "inputs": {
            "interest_pool_cents": inputs.pool_cents, "cash_expected_cents": inputs.cash_expected_cents,
            "planned_meetings": cycle.planned_meetings,
            "members": [{"member_id": str(s.member_id), "saved_cents": s.saved_cents,
                         "joined_on": s.joined_on.isoformat(), "left": s.left, "time_weight": s.time_weight}
                        for s in sorted(inputs.savers, key=lambda s: str(s.member_id))],
        },
        "lines": [{"member_id": str(x.member_id), "saved_cents": x.saved_cents, "weight": x.weight,
                   "interest_share_cents": x.interest_share_cents, "payout_cents": x.payout_cents} for x in lines],
        "totals": {"saved_cents": sum(x.saved_cents for x in lines),
                   "interest_share_cents": sum(x.interest_share_cents for x in lines),
                   "payout_cents": sum(x.payout_cents for x in lines),
                   "cash_expected_cents": inputs.cash_expected_cents},
    }


@dataclass(frozen=True, slots=True)
class Preview:
    inputs: Inputs
    lines: list[Line]
    final: ShareOut | None


async def preview(db: AsyncSession, actor: Actor, cycle_id: UUID) -> Preview:
    cycle = await get_visible_cycle(db, actor, cycle_id)
    final = await db.get(ShareOut, cycle.id)
    inputs = await load_inputs(db, cycle)
    if final is not None:
        lines = [Line(UUID(x["member_id"]), x["saved_cents"], x["weight"], x["interest_share_cents"])
                 for x in final.sheet["lines"]]
        return Preview(inputs, lines, final)
    return Preview(inputs, compute_lines(inputs.pool_cents, inputs.savers, cycle.interest_distribution,
                                         cycle.leaver_interest_share), None)


def sheet_digest(sheet: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(sheet, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def finalise(db: AsyncSession, actor: Actor, cycle_id: UUID, meeting_id: UUID, now: datetime) -> tuple[ShareOut, bool]:
    """Pay everyone out at the last meeting and close the cycle. A second call answers the first result."""
    await get_visible_cycle(db, actor, cycle_id)  # 404 outside the actor's groups, before anything else
    context = await load_meeting(db, actor, meeting_id, for_write=True)
    cycle = context.cycle
    if cycle.id != cycle_id:
        raise e.ShareOutNotLastMeeting()
    done = await db.get(ShareOut, cycle.id)
    if done is not None:
        return done, False
    if cycle.status == CycleStatus.CLOSED:
        raise e.CycleClosed()
    if context.meeting.meeting_no != cycle.planned_meetings or context.meeting.status != MeetingStatus.OPEN:
        raise e.ShareOutNotLastMeeting(last_meeting_no=cycle.planned_meetings)
    inputs = await load_inputs(db, cycle)
    if inputs.loans_outstanding:
        raise e.ShareOutLoanOutstanding(loans=inputs.loans_outstanding)
    lines = compute_lines(inputs.pool_cents, inputs.savers, cycle.interest_distribution, cycle.leaver_interest_share)
    for line in lines:
        for kind, amount in ((EntryKind.SHARE_OUT_SAVINGS, line.saved_cents),
                             (EntryKind.SHARE_OUT_INTEREST, line.interest_share_cents)):
            if amount:
                append(db, cycle, NewEntry(meeting_id=meeting_id, member_id=line.member_id, kind=kind,
                                           amount_cents=amount, id=uuid4()), actor.user_id, now)
    sheet = build_sheet(inputs, lines, meeting_id)
    sheet["finalised_at"] = now.isoformat()
    sheet["finalised_by"] = str(actor.user_id)
    record = ShareOut(cycle_id=cycle.id, meeting_id=meeting_id, interest_pool_cents=inputs.pool_cents,
                      total_payout_cents=sum(x.payout_cents for x in lines), sheet=sheet, sheet_hash=sheet_digest(sheet),
                      finalised_at=now, finalised_by=actor.user_id)
    db.add(record)
    cycle.status, cycle.closed_at = CycleStatus.CLOSED, now
    await db.flush()
    return record, True


async def final_sheet(db: AsyncSession, actor: Actor, cycle_id: UUID) -> ShareOut:
    cycle = await get_visible_cycle(db, actor, cycle_id)
    record = await db.get(ShareOut, cycle.id)
    if record is None:
        raise e.ShareOutNotFinal()
    return record
