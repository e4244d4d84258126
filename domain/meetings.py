"""A spaarkring meeting, step by step as it happens in the room: open the box, the presentielijst,
witnessed deposits, corrections, and the closing count.

Every write loads the meeting with its cycle's row locked (PostgreSQL: SELECT … FOR UPDATE; SQLite: the
write transaction is IMMEDIATE), so two phones recording one meeting are serialised and the cash and the
chain are never wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    Uuid,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain import errors as e
from domain.access import (
    Actor,
    Caller,
    actor_params,
    caller_is_current,
    caller_params,
    group_visible_to_caller_row,
    load_caller,
    visible_group_ids,
    visible_group_ids_of,
)
from domain.client_ids import earlier
from domain.cycles import Assignment, Holders, holders_at, load_assignments
from domain.ledger import (
    CASH_ERRORS,
    MeetingFacts,
    NewEntry,
    Witnessed,
    append,
    append_now,
    cash_effect,
    check_deposit_total,
    check_meeting_open,
    check_reversible,
    check_witnessed,
    cycle_books,
)
from domain.loan_status import OUTSTANDING_STATUSES, settle, settle_after_close
from domain.models import (
    Attendance,
    AttendanceStatus,
    Cycle,
    CycleRole,
    CycleStatus,
    EntryKind,
    Group,
    GroupStatus,
    LedgerEntry,
    Loan,
    Meeting,
    MeetingNote,
    MeetingStatus,
    Member,
    Role,
    RoleAssignment,
    User,
)

PRESENT = frozenset({AttendanceStatus.PRESENT, AttendanceStatus.LATE})
CLOSING_MIN_WITNESSES = 1


@dataclass(frozen=True, slots=True)
class Presence:
    """A line of the presentielijst."""

    status: AttendanceStatus
    after_signature: bool = False


@dataclass(frozen=True, slots=True)
class DepositFacts:
    """What a deposit's rules need beyond the meeting: the member's deposits at this meeting so far,
    and whether the client's id is already taken (by this deposit, retried, or by another entry)."""

    deposited_cents: int
    id_taken: bool


@dataclass(slots=True)
class MeetingContext:
    meeting: Meeting
    cycle: Cycle
    group_status: GroupStatus
    assignments: list[Assignment]
    attendance: dict[UUID, Presence]
    deposit: DepositFacts | None = None
    closed_now: bool = False  # closed by this request: nothing can have corrected or explained it yet

    @property
    def holders(self) -> Holders:
        return holders_at(self.assignments, self.meeting.meeting_no)

    @property
    def present(self) -> frozenset[UUID]:
        return frozenset(m for m, a in self.attendance.items() if a.status in PRESENT)

    def facts(self) -> MeetingFacts:
        return MeetingFacts(self.meeting.status, self.meeting.signed_at is not None, self.present,
                            self.holders[CycleRole.GELDTELLER], self.cycle.min_witnesses)


def may_record(actor: Actor, holders: Holders) -> bool:
    """The voorzitter or boekhouder of this meeting (through their account), a begeleider of the group,
    or an admin. Visibility of the group has been checked before."""
    if actor.role in (Role.ADMIN, Role.BEGELEIDER):
        return True
    recorders = holders[CycleRole.VOORZITTER] | holders[CycleRole.BOEKHOUDER]
    return actor.role == Role.MEMBER and actor.member_id in recorders


async def keeps_the_books(db: AsyncSession, actor: Actor, cycle_id: UUID) -> bool:
    """Whoever keeps the books now (the roles at the latest meeting opened) sees every member's money;
    any other member sees their own lines and the totals."""
    if actor.role != Role.MEMBER:
        return True
    latest = (await db.execute(select(func.max(Meeting.meeting_no)).where(
        Meeting.cycle_id == cycle_id, Meeting.status != MeetingStatus.PLANNED))).scalar_one() or 1
    return may_record(actor, holders_at(await load_assignments(db, cycle_id), latest))


async def load_meeting(db: AsyncSession, actor: Actor, meeting_id: UUID, *, for_write: bool) -> MeetingContext:
    """The meeting and what its rules need, in two statements whatever the size of the group: the cycle,
    the meeting and its group's status (for a write: the cycle's row and the meeting's locked, in that
    order, so what follows is read after the lock), and one UNION of the presentielijst and the role
    slates. The caller must be allowed to record a write. (One deposit: load_for_deposit.)"""
    params = {"meeting_id": meeting_id, **actor_params(actor)}
    found = (await db.execute(_meeting_with_cycle(actor.role, actor.member_id is not None, for_write),
                              params)).one_or_none()
    if found is None:
        raise e.ResourceNotFound()
    cycle, meeting, group_status = found
    rows = await db.execute(_facts(False, False), {"meeting_id": meeting.id, "cycle_id": meeting.cycle_id})
    attendance, assignments, _, _ = _read_facts(rows.all())
    context = MeetingContext(meeting, cycle, GroupStatus(group_status), assignments, attendance)
    if for_write and not may_record(actor, context.holders):
        raise e.MayNotRecord()
    return context


def _read_facts(rows: Sequence[Any]) -> tuple[dict[UUID, Presence], list[Assignment], int, bool]:
    attendance: dict[UUID, Presence] = {}
    assignments: list[Assignment] = []
    deposited, id_taken = 0, False
    for source, member_or_entry, label, number in rows:
        if source == "a":
            attendance[member_or_entry] = Presence(AttendanceStatus(label), bool(number))
        elif source == "r":
            assignments.append(Assignment(member_or_entry, CycleRole(label), number))
        elif source == "s":
            deposited = int(number)
        elif source == "i":
            id_taken = True
    return attendance, assignments, deposited, id_taken


@dataclass(slots=True)
class CycleRow:
    """What a single deposit needs of its cycle, read as a row: its rules and its chain head."""

    id: UUID
    status: CycleStatus
    min_deposit_cents: int
    max_deposit_cents: int
    min_witnesses: int
    entry_count: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class MeetingRow:
    """What a single deposit needs of its meeting, read as a row."""

    id: UUID
    cycle_id: UUID
    group_id: UUID
    status: MeetingStatus
    signed_at: datetime | None
    meeting_no: int


async def load_for_deposit(db: AsyncSession, who: Actor | Caller, meeting_id: UUID, member_id: UUID,
                           entry_id: UUID | None) -> tuple[MeetingContext, Actor]:
    """load_meeting for one deposit, the hottest write there is: the same locks and checks, the cycle and
    the meeting read as rows, not as ORM objects (a deposit changes neither through the session: append_now
    moves the chain head itself). Given the Caller (the token) rather than the Actor, the locked read also
    reads the caller's users row (`caller_is_current`, `group_visible_to_caller_row`): one statement less.
    When it finds nothing, `load_caller` tells a caller who may not act (401) from a meeting they can't see."""
    connection = await db.connection()
    if isinstance(who, Caller):
        found = (await connection.execute(_deposit_rows_for_caller(), {
            "meeting_id": meeting_id, **caller_params(who)})).one_or_none()
        if found is None:
            await load_caller(db, who)
            raise e.ResourceNotFound()
        actor = Actor(who.user_id, found.organisation_id, Role(found.role), found.member_id)
    else:
        actor = who
        found = (await connection.execute(_deposit_rows(actor.role, actor.member_id is not None),
                                          {"meeting_id": meeting_id, **actor_params(actor)})).one_or_none()
        if found is None:
            raise e.ResourceNotFound()
    cycle = CycleRow(found.cycle_id, CycleStatus(found.cycle_status), found.min_deposit_cents,
                     found.max_deposit_cents, found.min_witnesses, found.entry_count, found.head_hash)
    meeting = MeetingRow(meeting_id, found.cycle_id, found.group_id, MeetingStatus(found.meeting_status),
                         found.signed_at, found.meeting_no)
    rows = await connection.execute(_facts(True, entry_id is not None), {
        "meeting_id": meeting_id, "cycle_id": cycle.id, "member_id": member_id, "entry_id": entry_id})
    attendance, assignments, deposited, id_taken = _read_facts(rows.all())
    context = MeetingContext(meeting, cycle, GroupStatus(found.group_status), assignments,  # type: ignore[arg-type]
                             attendance, DepositFacts(deposited, id_taken))
    if not may_record(actor, context.holders):
        raise e.MayNotRecord()
    return context, actor


# The statements of load_meeting are built once per shape and reused: building a SELECT costs more
# Python than sending it.
def _meeting_in_its_cycle(visible: ColumnElement[bool], *columns: Any) -> Select[Any]:
    """The meeting (a bound `meeting_id`) joined to its cycle and group, where `visible` holds."""
    return (select(*columns)
            .select_from(Cycle)
            .join(Meeting, Meeting.cycle_id == Cycle.id)
            .join(Group, Group.id == Meeting.group_id)
            .where(Meeting.id == bindparam("meeting_id", type_=Uuid), visible))


def _seen_by(role: Role, has_member: bool) -> ColumnElement[bool]:
    return Meeting.group_id.in_(visible_group_ids_of(role, has_member))


@cache
def _meeting_with_cycle(role: Role, has_member: bool, for_write: bool) -> Select[Any]:
    """A writer locks the cycle's row, then the meeting's (FOR UPDATE OF in that order; every writer of a
    meeting goes through here, and a writer of the cycle alone locks just the cycle, so no two wait on
    each other crosswise). On PostgreSQL a lock that had to wait re-reads both rows as committed by the
    writer it waited for; on SQLite the write transaction is IMMEDIATE."""
    stmt = _meeting_in_its_cycle(_seen_by(role, has_member), Cycle, Meeting, Group.status)
    if for_write:
        stmt = stmt.with_for_update(of=[Cycle, Meeting]).execution_options(populate_existing=True)
    return stmt


_DEPOSIT_COLUMNS = (
    Cycle.id.label("cycle_id"), Cycle.status.label("cycle_status"), Cycle.min_deposit_cents, Cycle.max_deposit_cents,
    Cycle.min_witnesses, Cycle.entry_count, Cycle.head_hash, Meeting.group_id, Meeting.status.label("meeting_status"),
    Meeting.signed_at, Meeting.meeting_no, Group.status.label("group_status"))


@cache
def _deposit_rows(role: Role, has_member: bool) -> Select[Any]:
    """_meeting_with_cycle's statement for one deposit, as columns: the same join, filter and locks."""
    return _meeting_in_its_cycle(_seen_by(role, has_member), *_DEPOSIT_COLUMNS).with_for_update(of=[Cycle, Meeting])


@cache
def _deposit_rows_for_caller() -> Select[Any]:
    """_deposit_rows with the caller's users row read in the same statement (not locked)."""
    return (_meeting_in_its_cycle(group_visible_to_caller_row(Meeting.group_id), *_DEPOSIT_COLUMNS,
                                  User.organisation_id, User.role, User.member_id)
            .join(User, caller_is_current())
            .with_for_update(of=[Cycle, Meeting]))


@cache
def _facts(for_deposit: bool, with_entry_id: bool) -> CompoundSelect:
    """(source, member or entry id, status or role, number) rows: 'a' attendance, 'r' role slates; for a
    deposit 's' the saver's deposits at this meeting summed, and 'i' an entry holding the client's id."""
    meeting_id, cycle_id = bindparam("meeting_id", type_=Uuid), bindparam("cycle_id", type_=Uuid)
    parts = [
        select(literal_column("'a'"), Attendance.member_id, type_coerce(Attendance.status, String),
               cast(Attendance.after_signature, Integer)).where(Attendance.meeting_id == meeting_id),
        select(literal_column("'r'"), RoleAssignment.member_id, type_coerce(RoleAssignment.role, String),
               RoleAssignment.from_meeting_no).where(RoleAssignment.cycle_id == cycle_id),
    ]
    if for_deposit:
        corrected = aliased(LedgerEntry)  # a reversal counts only for a deposit of this same meeting
        parts.append(select(literal_column("'s'"), null(), null(), func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
                     .where(LedgerEntry.meeting_id == meeting_id,
                            LedgerEntry.member_id == bindparam("member_id", type_=Uuid),
                            LedgerEntry.kind == EntryKind.DEPOSIT,
                            LedgerEntry.reverses_id.is_(None) | LedgerEntry.reverses_id.in_(
                                select(corrected.id).where(corrected.meeting_id == meeting_id))))
    if with_entry_id:
        parts.append(select(literal_column("'i'"), LedgerEntry.id, null(), null())
                     .where(LedgerEntry.id == bindparam("entry_id", type_=Uuid)))
    return union_all(*parts)


def _writable(context: MeetingContext) -> None:
    if context.cycle.status == CycleStatus.CLOSED:
        raise e.CycleClosed()
    check_meeting_open(context.meeting.status)


# --- open --------------------------------------------------------------------------------------
async def open_meeting(db: AsyncSession, actor: Actor, meeting_id: UUID, opening_cash_cents: int,
                       now: datetime, *, context: MeetingContext | None = None) -> Meeting:
    context = context or await load_meeting(db, actor, meeting_id, for_write=True)
    meeting, cycle = context.meeting, context.cycle
    if meeting.status == MeetingStatus.OPEN:
        if meeting.opening_cash_cents == opening_cash_cents:
            return meeting  # a retry of the same opening
        raise e.OpeningCashDiffers(opening_cash_cents=meeting.opening_cash_cents or 0)
    if meeting.status == MeetingStatus.CLOSED:
        raise e.MeetingClosed()
    if cycle.status == CycleStatus.CLOSED:
        raise e.CycleClosed()
    if context.group_status == GroupStatus.GESTOPT:
        raise e.GroupStopped()
    other, later, previous_closing = (await db.execute(_before_opening, {
        "group_id": meeting.group_id, "cycle_id": cycle.id})).one()  # three questions, one round trip
    if other is not None:
        raise e.AnotherMeetingOpen(meeting_id=str(other))
    if later is not None and later > meeting.meeting_no:
        raise e.LaterMeetingHeld(meeting_no=later)
    meeting.status = MeetingStatus.OPEN
    meeting.opened_at, meeting.opened_by = now, actor.user_id
    meeting.opening_cash_cents = opening_cash_cents
    meeting.opening_difference_cents = opening_cash_cents - (previous_closing or 0)
    if meeting.meeting_no == cycle.planned_meetings and cycle.status == CycleStatus.OPEN:
        cycle.status = CycleStatus.SHARING_OUT
    await db.flush()
    return meeting


_before_opening = select(
    select(Meeting.id).where(Meeting.group_id == bindparam("group_id", type_=Uuid),
                             Meeting.status == MeetingStatus.OPEN).limit(1).scalar_subquery(),
    select(func.max(Meeting.meeting_no)).where(Meeting.cycle_id == bindparam("cycle_id", type_=Uuid),
                                               Meeting.status != MeetingStatus.PLANNED).scalar_subquery(),
    select(Meeting.closing_cash_cents).where(Meeting.cycle_id == bindparam("cycle_id", type_=Uuid),
                                             Meeting.status == MeetingStatus.CLOSED)
    .order_by(Meeting.meeting_no.desc()).limit(1).scalar_subquery(),
)  # another meeting of the group open; the last meeting held in the cycle; the previous closing count


# --- the presentielijst ------------------------------------------------------------------------
async def _current_member_ids(db: AsyncSession, group_id: UUID, on: datetime) -> set[UUID]:
    rows = await db.execute(select(Member.id, Member.left_on).where(Member.group_id == group_id))
    return {member_id for member_id, left_on in rows if left_on is None or left_on > on.date()}


async def put_attendance(db: AsyncSession, actor: Actor, meeting_id: UUID,
                         entries: Sequence[tuple[UUID, AttendanceStatus]], now: datetime,
                         *, context: MeetingContext | None = None) -> MeetingContext:
    """Before the signature the list can be redone; after it, a walk-in may only be added as late."""
    context = context or await load_meeting(db, actor, meeting_id, for_write=True)
    _writable(context)
    wanted = dict(entries)
    current = await _current_member_ids(db, context.meeting.group_id, context.meeting.scheduled_for)
    if strangers := sorted(str(m) for m in wanted if m not in current):
        raise e.NotACurrentMember(member_ids=strangers)
    if context.meeting.signed_at is not None:
        changed = [m for m, status in wanted.items()
                   if (m in context.attendance and context.attendance[m].status != status)
                   or (m not in context.attendance and status != AttendanceStatus.LATE)]
        if changed or any(m not in wanted for m in context.attendance):
            raise e.AttendanceSigned(member_ids=sorted(str(m) for m in changed))
        for member_id in wanted.keys() - context.attendance.keys():
            row = Attendance(meeting_id=context.meeting.id, member_id=member_id, status=AttendanceStatus.LATE,
                             recorded_by=actor.user_id, recorded_at=now, after_signature=True)
            db.add(row)
            context.attendance[member_id] = Presence(AttendanceStatus.LATE, after_signature=True)
        await db.flush()
        return context
    if {m: a.status for m, a in context.attendance.items()} == wanted:
        return context
    await db.execute(delete(Attendance).where(Attendance.meeting_id == context.meeting.id))
    context.attendance = {}
    for member_id, status in wanted.items():
        row = Attendance(meeting_id=context.meeting.id, member_id=member_id, status=status,
                         recorded_by=actor.user_id, recorded_at=now)
        db.add(row)
        context.attendance[member_id] = Presence(status)
    await db.flush()
    return context


async def sign_presentielijst(db: AsyncSession, actor: Actor, meeting_id: UUID, signed_by_member_id: UUID,
                              now: datetime, *, context: MeetingContext | None = None) -> Meeting:
    context = context or await load_meeting(db, actor, meeting_id, for_write=True)
    meeting = context.meeting
    _writable(context)
    if meeting.signed_at is not None:
        if meeting.signed_by_member_id == signed_by_member_id:
            return meeting
        raise e.AttendanceSigned()
    if not context.attendance:
        raise e.AttendanceEmpty()
    if signed_by_member_id not in context.holders[CycleRole.VOORZITTER] or signed_by_member_id not in context.present:
        raise e.SignerNotVoorzitter(member_id=str(signed_by_member_id))
    meeting.signed_at, meeting.signed_by_member_id, meeting.signed_recorded_by = now, signed_by_member_id, actor.user_id
    await db.flush()
    return meeting


# --- deposits and corrections ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Deposit:
    member_id: UUID
    amount_cents: int
    counted_by: UUID
    witnesses: tuple[UUID, ...]


def same_witnessed(entry: LedgerEntry, meeting_id: UUID, kind: EntryKind, member_id: UUID, amount_cents: int,
                    counted_by: UUID | None, witnesses: Sequence[UUID]) -> bool:
    return (entry.meeting_id, EntryKind(entry.kind), entry.member_id, entry.amount_cents, entry.counted_by_member_id,
            sorted(entry.witness_member_ids or [])) == (
        meeting_id, kind, member_id, amount_cents, counted_by, sorted(str(w) for w in witnesses))


async def record_deposit(db: AsyncSession, who: Actor | Caller, meeting_id: UUID, deposit: Deposit, *,
                         entry_id: UUID | None, now: datetime, context: MeetingContext | None = None,
                         meeting_entries: dict[UUID, LedgerEntry] | None = None) -> tuple[LedgerEntry, bool]:
    """Append a witnessed deposit. Returns (entry, created). Flushes; never commits. `who` is the Actor,
    or the Caller a token names, whom load_for_deposit then confirms in its locked read.

    `meeting_entries` (every entry of this meeting, by id) lets a sync check many deposits without a
    statement each; an id used at another meeting then surfaces as a conflict when flushed."""
    def same(entry: LedgerEntry) -> bool:
        return same_witnessed(entry, meeting_id, EntryKind.DEPOSIT, deposit.member_id, deposit.amount_cents,
                               deposit.counted_by, deposit.witnesses)

    if meeting_entries is None:
        context, actor = await load_for_deposit(db, who, meeting_id, deposit.member_id, entry_id)
        assert context.deposit is not None
        found = await earlier(db, LedgerEntry, entry_id, same) if context.deposit.id_taken else None
        already = context.deposit.deposited_cents
    else:  # within a sync, which loaded the caller and the meeting itself
        assert context is not None and isinstance(who, Actor)
        actor = who
        found = meeting_entries.get(entry_id) if entry_id is not None else None
        if found is not None and not same(found):
            raise e.IdReused(id=str(entry_id))
        already = sum(x.amount_cents for x in meeting_entries.values()
                      if x.member_id == deposit.member_id and x.kind == EntryKind.DEPOSIT
                      and (x.reverses_id is None or x.reverses_id in meeting_entries))  # as in _facts
    if found is not None:
        return found, False
    _writable(context)
    check_witnessed(context.facts(), Witnessed(deposit.member_id, deposit.counted_by, deposit.witnesses))
    check_deposit_total(already, deposit.amount_cents, context.cycle.min_deposit_cents,
                        context.cycle.max_deposit_cents)
    new = NewEntry(meeting_id=meeting_id, member_id=deposit.member_id, kind=EntryKind.DEPOSIT,
                   amount_cents=deposit.amount_cents, counted_by=deposit.counted_by, witnesses=deposit.witnesses,
                   id=entry_id or uuid4())
    if meeting_entries is None:
        return await append_now(db, context.cycle, new, actor.user_id, now), True
    entry = append(db, context.cycle, new, actor.user_id, now)
    meeting_entries[entry.id] = entry
    return entry, True


async def reverse_entry(db: AsyncSession, actor: Actor, entry_id: UUID, meeting_id: UUID, reason: str, *,
                        now: datetime, reversal_id: UUID | None = None) -> tuple[LedgerEntry, bool]:
    """Correct a mistake in front of the group: a new entry that cancels the original, with a reason."""
    original = (await db.execute(select(LedgerEntry).join(Cycle, Cycle.id == LedgerEntry.cycle_id).where(
        LedgerEntry.id == entry_id, Cycle.group_id.in_(visible_group_ids(actor))))).scalar_one_or_none()
    if original is None:
        raise e.ResourceNotFound()
    context = await load_meeting(db, actor, meeting_id, for_write=True)
    existing = (await db.execute(select(LedgerEntry).where(LedgerEntry.reverses_id == original.id))).scalar_one_or_none()
    if existing is not None and (reversal_id is None or existing.id == reversal_id) \
            and (existing.meeting_id, existing.reason) == (meeting_id, reason):
        return existing, False  # a retry of the same correction
    if context.cycle.id != original.cycle_id:
        raise e.ReversalElsewhere()
    check_reversible(original, existing is not None, context.cycle.status == CycleStatus.CLOSED)
    _writable(context)
    entry = append(db, context.cycle, NewEntry(
        meeting_id=meeting_id, member_id=original.member_id, kind=EntryKind(original.kind),
        amount_cents=-original.amount_cents, loan_id=original.loan_id, reverses_id=original.id, reason=reason,
        id=reversal_id or uuid4()), actor.user_id, now)
    await db.flush()
    if original.loan_id is not None:  # a payout undone leaves the loan approved; a repayment undone, owing
        loan = await db.get(Loan, original.loan_id)
        assert loan is not None
        await settle(db, loan)
        await db.flush()
    return entry, True


async def record_exit_payout(db: AsyncSession, actor: Actor, meeting_id: UUID, member_id: UUID, move: Witnessed, *,
                             entry_id: UUID | None, now: datetime) -> tuple[LedgerEntry, bool]:
    """A member who left gets their savings back, counted and witnessed at a meeting. Until then the
    savings stay owed to them. Someone still owing on a loan settles that first."""
    context = await load_meeting(db, actor, meeting_id, for_write=True)
    found = await earlier(db, LedgerEntry, entry_id, lambda x: x.kind == EntryKind.EXIT_PAYOUT and same_witnessed(
        x, meeting_id, EntryKind.EXIT_PAYOUT, member_id, x.amount_cents, move.counted_by, move.witnesses))
    if found is not None:
        return found, False
    _writable(context)
    member = await db.get(Member, member_id)
    if member is None or member.group_id != context.meeting.group_id:
        raise e.NotACurrentMember(member_ids=[str(member_id)])
    if member.left_on is None:
        raise e.NotLeft()
    if (await db.execute(select(Loan.id).where(Loan.member_id == member_id, Loan.cycle_id == context.cycle.id,
                                               Loan.status.in_(OUTSTANDING_STATUSES)))).first():
        raise e.LeavingWithLoan()
    books, _ = await cycle_books(db, context.cycle.id)
    saved = books[member_id].saved_cents if member_id in books else 0
    if saved <= 0:
        raise e.NothingSaved()
    facts = replace(context.facts(), present=context.present | {member_id})  # a leaver need not be on the list
    check_witnessed(facts, Witnessed(member_id, move.counted_by, move.witnesses), CASH_ERRORS)
    entry = append(db, context.cycle, NewEntry(
        meeting_id=meeting_id, member_id=member_id, kind=EntryKind.EXIT_PAYOUT, amount_cents=saved,
        counted_by=move.counted_by, witnesses=move.witnesses, id=entry_id or uuid4()), actor.user_id, now)
    await db.flush()
    return entry, True


# --- closing -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClosingCount:
    closing_cash_cents: int
    counted_by: UUID | None = None
    witnesses: tuple[UUID, ...] = ()


async def close_meeting(db: AsyncSession, actor: Actor, meeting_id: UUID, count: ClosingCount, now: datetime,
                        *, context: MeetingContext | None = None) -> Meeting:
    """Count the box and close: the discrepancy (counted minus expected) is recorded, never booked away."""
    context = context or await load_meeting(db, actor, meeting_id, for_write=True)
    meeting = context.meeting
    if meeting.status == MeetingStatus.CLOSED and meeting.closing_cash_cents == count.closing_cash_cents:
        return meeting  # a retry of the same close
    check_meeting_open(meeting.status)  # the box is also counted after a share-out closed the cycle
    if count.counted_by is not None:
        facts = replace(context.facts(), signed=True, min_witnesses=CLOSING_MIN_WITNESSES)
        check_witnessed(facts, Witnessed(None, count.counted_by, count.witnesses), CASH_ERRORS)
    _, expected = await cycle_books(db, context.cycle.id)
    meeting.status = MeetingStatus.CLOSED
    meeting.closed_at, meeting.closed_by = now, actor.user_id
    meeting.closing_cash_cents = count.closing_cash_cents
    meeting.closing_counted_by_member_id = count.counted_by
    meeting.closing_witness_member_ids = sorted(str(w) for w in count.witnesses) if count.counted_by else None
    meeting.expected_cash_cents = expected
    meeting.discrepancy_cents = count.closing_cash_cents - expected
    context.closed_now = True
    await db.flush()
    await settle_after_close(db, context.cycle.id, meeting.meeting_no)
    await db.flush()
    return meeting


async def explain_discrepancy(db: AsyncSession, actor: Actor, meeting_id: UUID, note: str, now: datetime) -> MeetingNote:
    """A closed meeting is never changed; an explanation of its cash difference is added beside it."""
    context = await load_meeting(db, actor, meeting_id, for_write=True)
    if context.meeting.status != MeetingStatus.CLOSED or not context.meeting.discrepancy_cents:
        raise e.NothingToExplain()
    row = MeetingNote(id=uuid4(), meeting_id=meeting_id, note=note, recorded_by=actor.user_id, recorded_at=now)
    db.add(row)
    await db.flush()
    return row


async def outstanding_discrepancies(db: AsyncSession, cycle_id: UUID) -> dict[UUID, int]:
    """Per closed meeting: counted minus expected, measured against the books as corrected since. A mistake
    fixed later by a reversal stops showing; money really missing keeps showing. Explained ones show 0."""
    meetings = list((await db.execute(select(Meeting).where(
        Meeting.cycle_id == cycle_id, Meeting.status == MeetingStatus.CLOSED))).scalars())
    explained = set((await db.execute(select(MeetingNote.meeting_id).join(Meeting).where(
        Meeting.cycle_id == cycle_id))).scalars())
    original, original_meeting, reversal_meeting = aliased(LedgerEntry), aliased(Meeting), aliased(Meeting)
    later_fixes = (await db.execute(
        select(original_meeting.meeting_no, reversal_meeting.meeting_no, LedgerEntry.kind, LedgerEntry.amount_cents)
        .join(original, original.id == LedgerEntry.reverses_id)
        .join(original_meeting, original_meeting.id == original.meeting_id)
        .join(reversal_meeting, reversal_meeting.id == LedgerEntry.meeting_id)
        .where(LedgerEntry.cycle_id == cycle_id, LedgerEntry.reverses_id.is_not(None),
               original_meeting.cycle_id == cycle_id, reversal_meeting.cycle_id == cycle_id,
               reversal_meeting.meeting_no > original_meeting.meeting_no))).all()
    result: dict[UUID, int] = {}
    for meeting in meetings:
        if meeting.id in explained or meeting.discrepancy_cents is None:
            result[meeting.id] = 0
            continue
        fix = sum(cash_effect(EntryKind(kind), amount) for from_no, at_no, kind, amount in later_fixes
                  if from_no <= meeting.meeting_no < at_no)
        result[meeting.id] = meeting.discrepancy_cents - fix
    return result


# --- reading a meeting -------------------------------------------------------------------------
@dataclass(slots=True)
class MeetingView:
    context: MeetingContext
    entries: list[LedgerEntry]
    deposits_cents: int
    cash_in_cents: int
    cash_out_cents: int
    cash_expected_cents: int
    discrepancy_outstanding_cents: int | None
    explanations: list[MeetingNote]
    sees_all: bool


async def view_meeting(db: AsyncSession, actor: Actor, meeting_id: UUID,
                       context: MeetingContext | None = None) -> MeetingView:
    """The meeting as the caller may see it. A write passes the context it loaded (and changed), so its
    answer costs no second load."""
    context = context or await load_meeting(db, actor, meeting_id, for_write=False)
    meeting = context.meeting
    entries = list((await db.execute(select(LedgerEntry).where(LedgerEntry.meeting_id == meeting.id)
                                     .order_by(LedgerEntry.seq))).scalars())
    cash_in = sum(cash_effect(EntryKind(x.kind), x.amount_cents) for x in entries
                  if cash_effect(EntryKind(x.kind), x.amount_cents) > 0)
    cash_out = -sum(cash_effect(EntryKind(x.kind), x.amount_cents) for x in entries
                    if cash_effect(EntryKind(x.kind), x.amount_cents) < 0)
    if meeting.status == MeetingStatus.CLOSED:
        expected = meeting.expected_cash_cents or 0
        outstanding = meeting.discrepancy_cents if context.closed_now else (
            await outstanding_discrepancies(db, context.cycle.id)).get(meeting.id)
    else:
        _, expected = await cycle_books(db, context.cycle.id)
        outstanding = None
    explained = meeting.status == MeetingStatus.CLOSED and not context.closed_now  # notes come after closing
    notes = list((await db.execute(select(MeetingNote).where(MeetingNote.meeting_id == meeting.id)
                                   .order_by(MeetingNote.recorded_at))).scalars()) if explained else []
    deposits = sum(x.amount_cents for x in entries if x.kind == EntryKind.DEPOSIT)
    sees_all = await keeps_the_books(db, actor, context.cycle.id)
    if not sees_all:
        entries = [x for x in entries if x.member_id == actor.member_id]
    return MeetingView(context, entries, deposits, cash_in, cash_out, expected, outstanding, notes, sees_all)
