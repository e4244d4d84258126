"""The append-only ledger: witnessed cash movements, chained by hash, and the balances derived from them.

Nothing here updates or deletes an entry (the database refuses it anyway). A mistake is corrected by a
reversal: a new entry of the same kind and member with the amount negated, pointing at the original.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Protocol
from uuid import UUID, uuid4

from sqlalchemy import Executable, Integer, String, Uuid, bindparam, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from domain import errors as e
from domain.models import Cycle, EntryKind, LedgerEntry, MeetingStatus

CASH_IN = frozenset({EntryKind.DEPOSIT, EntryKind.REPAYMENT_PRINCIPAL, EntryKind.REPAYMENT_INTEREST})
GENESIS_HASH = "0" * 64


def cash_effect(kind: EntryKind, amount_cents: int) -> int:
    """What an entry does to the box: money in counts plus, money out counts minus."""
    return amount_cents if kind in CASH_IN else -amount_cents


# --- pure rules --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MeetingFacts:
    """What the witnessing rules need to know about a meeting, and nothing more."""

    status: MeetingStatus
    signed: bool
    present: frozenset[UUID]
    geldtellers: frozenset[UUID]
    min_witnesses: int


@dataclass(frozen=True, slots=True)
class Witnessed:
    """Cash that moved in front of the group: whose it is, who counted it, who saw it."""

    owner: UUID | None  # None for the closing count of the box, which belongs to the group
    counted_by: UUID
    witnesses: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class WitnessErrors:
    owner_not_present: type[e.DomainError]
    counter_is_owner: type[e.DomainError]
    counter_not_geldteller: type[e.DomainError]
    counter_not_present: type[e.DomainError]
    witnesses_not_distinct: type[e.DomainError]
    witness_is_party: type[e.DomainError]
    witness_not_present: type[e.DomainError]
    witnesses_required: type[e.DomainError]


DEPOSIT_ERRORS = WitnessErrors(e.DepositorNotPresent, e.CounterIsOwner, e.CounterNotGeldteller, e.CounterNotPresent,
                               e.WitnessesNotDistinct, e.WitnessIsParty, e.WitnessNotPresent, e.WitnessesRequired)
CASH_ERRORS = WitnessErrors(e.CashOwnerNotPresent, e.CashCounterIsOwner, e.CashCounterNotGeldteller,
                            e.CashCounterNotPresent, e.CashWitnessesNotDistinct, e.CashWitnessIsParty,
                            e.CashWitnessNotPresent, e.CashWitnessesRequired)


def check_meeting_open(status: MeetingStatus) -> None:
    if status == MeetingStatus.CLOSED:
        raise e.MeetingClosed()
    if status != MeetingStatus.OPEN:
        raise e.MeetingNotOpen()


def check_witnessed(meeting: MeetingFacts, act: Witnessed, errors: WitnessErrors = DEPOSIT_ERRORS) -> None:
    """Money counts only when the group saw it happen. Raises the first rule it breaks."""
    check_meeting_open(meeting.status)
    if not meeting.signed:
        raise e.NotSigned()
    if act.owner is not None and act.owner not in meeting.present:
        raise errors.owner_not_present(member_id=str(act.owner))
    if act.counted_by == act.owner:
        raise errors.counter_is_owner()
    if act.counted_by not in meeting.geldtellers:
        raise errors.counter_not_geldteller(member_id=str(act.counted_by))
    if act.counted_by not in meeting.present:
        raise errors.counter_not_present(member_id=str(act.counted_by))
    if len(set(act.witnesses)) != len(act.witnesses):
        raise errors.witnesses_not_distinct()
    if parties := {act.owner, act.counted_by} & set(act.witnesses):
        raise errors.witness_is_party(member_ids=sorted(str(p) for p in parties))
    if absent := set(act.witnesses) - meeting.present:
        raise errors.witness_not_present(member_ids=sorted(str(a) for a in absent))
    if len(act.witnesses) < meeting.min_witnesses:
        raise errors.witnesses_required(required=meeting.min_witnesses, given=len(act.witnesses))


def check_deposit_total(already_cents: int, amount_cents: int, min_cents: int, max_cents: int) -> None:
    """A member's total at one meeting stays within the cycle's limits."""
    total = already_cents + amount_cents
    if not min_cents <= total <= max_cents:
        raise e.DepositOutOfLimits(min_deposit_cents=min_cents, max_deposit_cents=max_cents,
                                   already_cents=already_cents)


def check_reversible(entry: LedgerEntry, already_reversed: bool, cycle_closed: bool) -> None:
    if cycle_closed:
        raise e.CycleClosed()
    if entry.reverses_id is not None:
        raise e.ReversalOfReversal()
    if already_reversed:
        raise e.EntryAlreadyReversed()


# --- the chain ---------------------------------------------------------------------------------
def entry_content(entry: LedgerEntry) -> dict[str, Any]:
    """Everything an entry says, in a canonical form; the hash covers exactly this."""
    return {
        "id": str(entry.id), "cycle_id": str(entry.cycle_id), "seq": entry.seq, "meeting_id": str(entry.meeting_id),
        "member_id": str(entry.member_id), "kind": EntryKind(entry.kind).value, "amount_cents": entry.amount_cents,
        "counted_by_member_id": str(entry.counted_by_member_id) if entry.counted_by_member_id else None,
        "witness_member_ids": sorted(entry.witness_member_ids or []),
        "loan_id": str(entry.loan_id) if entry.loan_id else None,
        "reverses_id": str(entry.reverses_id) if entry.reverses_id else None, "reason": entry.reason,
        "recorded_by": str(entry.recorded_by), "recorded_at": entry.recorded_at.isoformat(timespec="microseconds"),
    }


def chain_hash(prev_hash: str, entry: LedgerEntry) -> str:
    payload = json.dumps(entry_content(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    head_hash: str
    first_bad_entry_id: UUID | None
    reason: str | None = None


def verify_chain(entries: Iterable[LedgerEntry], expected_count: int, expected_head: str) -> ChainReport:
    """Recompute every link. The first entry whose content, place or link does not match is named."""
    head, count = GENESIS_HASH, 0
    for entry in entries:
        count += 1
        if entry.seq != count or entry.prev_hash != head:
            return ChainReport(False, count, head, entry.id, "link")
        if chain_hash(head, entry) != entry.hash:
            return ChainReport(False, count, head, entry.id, "content")
        head = entry.hash
    if count != expected_count or head != expected_head:
        return ChainReport(False, count, head, None, "head")
    return ChainReport(True, count, head, None)


@dataclass(slots=True)
class NewEntry:
    meeting_id: UUID
    member_id: UUID
    kind: EntryKind
    amount_cents: int
    counted_by: UUID | None = None
    witnesses: tuple[UUID, ...] = ()
    loan_id: UUID | None = None
    reverses_id: UUID | None = None
    reason: str | None = None
    id: UUID = field(default_factory=uuid4)


class ChainHead(Protocol):
    """A cycle as the chain needs it: an ORM Cycle, or a cycle read as a row."""

    id: UUID
    entry_count: int
    head_hash: str


def _next(cycle: ChainHead, new: NewEntry, recorded_by: UUID, now: datetime) -> LedgerEntry:
    """The next entry of the cycle's chain, hashed over the cycle's head. The caller holds the cycle's row lock."""
    entry = LedgerEntry(
        id=new.id, cycle_id=cycle.id, seq=cycle.entry_count + 1, meeting_id=new.meeting_id, member_id=new.member_id,
        kind=new.kind, amount_cents=new.amount_cents, counted_by_member_id=new.counted_by,
        witness_member_ids=sorted(str(w) for w in new.witnesses), loan_id=new.loan_id, reverses_id=new.reverses_id,
        reason=new.reason, recorded_by=recorded_by, recorded_at=now,
        prev_hash=cycle.head_hash,
    )
    entry.hash = chain_hash(cycle.head_hash, entry)
    return entry


def append(db: AsyncSession, cycle: Cycle, new: NewEntry, recorded_by: UUID, now: datetime) -> LedgerEntry:
    """Stage the next entry of the cycle's chain, written at the next flush (many entries: one INSERT)."""
    entry = _next(cycle, new, recorded_by, now)
    cycle.entry_count, cycle.head_hash = entry.seq, entry.hash
    db.add(entry)
    return entry


_ENTRIES, _CYCLES = LedgerEntry.__table__, Cycle.__table__
_ENTRY_COLUMNS = tuple(column.key for column in _ENTRIES.columns)


@cache
def _append_statements(postgresql: bool) -> tuple[Executable, ...]:
    """Built once: the INSERT of an entry and the UPDATE of its cycle's chain head, in Core."""
    row = {key: bindparam(f"entry_{key}", type_=_ENTRIES.c[key].type) for key in _ENTRY_COLUMNS}
    head = {"entry_count": bindparam("head_count", type_=Integer), "head_hash": bindparam("head_hash", type_=String)}
    move_head = update(_CYCLES).where(_CYCLES.c.id == bindparam("head_cycle_id", type_=Uuid))
    if postgresql:
        inserted = insert(_ENTRIES).values(row).returning(_ENTRIES.c.seq).cte("entry")
        return (move_head.where(exists(inserted.select())).values(head),)
    return insert(_ENTRIES).values(row), move_head.values(head)


async def append_now(db: AsyncSession, cycle: ChainHead, new: NewEntry, recorded_by: UUID, now: datetime) -> LedgerEntry:
    """Write the next entry and move the cycle's chain head at once: one statement on PostgreSQL (the
    INSERT in a CTE of the UPDATE), two on SQLite. For a single entry this saves the unit of work's
    round trips and bookkeeping; the entry answered is not kept in the session."""
    entry = _next(cycle, new, recorded_by, now)
    params: dict[str, Any] = {f"entry_{key}": getattr(entry, key) for key in _ENTRY_COLUMNS}
    params |= {"head_cycle_id": cycle.id, "head_count": entry.seq, "head_hash": entry.hash}
    connection = await db.connection()  # Core, not the session's ORM execution: nothing here is an ORM object
    for statement in _append_statements(connection.dialect.name == "postgresql"):
        await connection.execute(statement, params)
    if isinstance(cycle, Cycle):
        set_committed_value(cycle, "entry_count", entry.seq)  # the session's cycle agrees, and is not dirty
        set_committed_value(cycle, "head_hash", entry.hash)
    else:  # a cycle read as a row (domain/meetings.py load_for_deposit)
        cycle.entry_count, cycle.head_hash = entry.seq, entry.hash
    return entry


async def verify_cycle(db: AsyncSession, cycle: Cycle) -> ChainReport:
    entries = (await db.execute(
        select(LedgerEntry).where(LedgerEntry.cycle_id == cycle.id).order_by(LedgerEntry.seq))).scalars()
    return verify_chain(entries, cycle.entry_count, cycle.head_hash)


# --- balances ----------------------------------------------------------------------------------
@dataclass(slots=True)
class MemberBook:
    deposits_cents: int = 0
    exit_payout_cents: int = 0
    share_out_savings_cents: int = 0
    share_out_interest_cents: int = 0
    disbursed_cents: int = 0
    repaid_principal_cents: int = 0
    repaid_interest_cents: int = 0

    @property
    def saved_cents(self) -> int:
        return self.deposits_cents - self.exit_payout_cents - self.share_out_savings_cents


FIELD_BY_KIND = {
    EntryKind.DEPOSIT: "deposits_cents",
    EntryKind.EXIT_PAYOUT: "exit_payout_cents",
    EntryKind.SHARE_OUT_SAVINGS: "share_out_savings_cents",
    EntryKind.SHARE_OUT_INTEREST: "share_out_interest_cents",
    EntryKind.LOAN_DISBURSEMENT: "disbursed_cents",
    EntryKind.REPAYMENT_PRINCIPAL: "repaid_principal_cents",
    EntryKind.REPAYMENT_INTEREST: "repaid_interest_cents",
}


def books_from_sums(sums: Iterable[tuple[UUID, EntryKind, int]]) -> tuple[dict[UUID, MemberBook], int]:
    """Per-member books and the cash expected in the box, from (member, kind, summed amount) rows."""
    books: dict[UUID, MemberBook] = defaultdict(MemberBook)
    cash = 0
    for member_id, kind, amount in sums:
        kind = EntryKind(kind)
        book = books[member_id]
        setattr(book, FIELD_BY_KIND[kind], getattr(book, FIELD_BY_KIND[kind]) + int(amount))
        cash += cash_effect(kind, int(amount))
    return dict(books), cash


async def cycle_books(db: AsyncSession, cycle_id: UUID) -> tuple[dict[UUID, MemberBook], int]:
    """One GROUP BY over the cycle's entries, whatever the number of members."""
    rows = await db.execute(
        select(LedgerEntry.member_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.cycle_id == cycle_id).group_by(LedgerEntry.member_id, LedgerEntry.kind))
    return books_from_sums(rows.all())


async def cash_expected(db: AsyncSession, cycle_id: UUID) -> int:
    _, cash = await cycle_books(db, cycle_id)
    return cash


def sums_by_meeting(rows: Iterable[tuple[UUID, EntryKind, int]]) -> Mapping[UUID, int]:
    totals: dict[UUID, int] = defaultdict(int)
    for meeting_id, kind, amount in rows:
        totals[meeting_id] += cash_effect(EntryKind(kind), int(amount))
    return totals
