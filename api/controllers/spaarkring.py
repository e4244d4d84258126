"""Spaarkring endpoints: cycles, roles, meetings, deposits, the ledger, balances and offline sync."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.controllers.common import Cursor, Limit, created
from api.deps import READ_ONLY, caller_from
from api.schemas.common import Page
from api.schemas.spaarkring import (
    AssignmentOut,
    AttendanceIn,
    AttendanceOut,
    BalancesOut,
    CloseIn,
    CycleIn,
    CycleOut,
    DepositIn,
    EntryOut,
    ExplanationIn,
    ExplanationOut,
    MeetingIn,
    MeetingOut,
    MeetingSummaryOut,
    MeetingTotalsOut,
    MemberBalanceOut,
    OpenIn,
    ReversalIn,
    RolesAtOut,
    RolesIn,
    RolesOut,
    RulesOut,
    SignIn,
    SyncIn,
    VerifyOut,
)
from domain import books, cycles, loans, meetings, sync
from domain.access import Actor
from domain.models import (
    AttendanceStatus,
    Cycle,
    CycleRole,
    EntryKind,
    InterestDistribution,
    LedgerEntry,
    Meeting,
    utcnow,
)


def cycle_out(cycle: Cycle) -> CycleOut:
    rules = cycles.CycleRules.of(cycle)
    return CycleOut(
        id=cycle.id, group_id=cycle.group_id, number=cycle.number, starts_on=cycle.starts_on,
        meeting_interval_days=cycle.meeting_interval_days, planned_meetings=cycle.planned_meetings,
        meeting_time=cycle.meeting_time, status=cycle.status.value, created_at=cycle.created_at,
        closed_at=cycle.closed_at,
        rules=RulesOut(min_deposit_cents=rules.min_deposit_cents, max_deposit_cents=rules.max_deposit_cents,
                       max_loan_multiple=rules.max_loan_multiple, max_loan_term_meetings=rules.max_loan_term_meetings,
                       default_interest_rate_bp=rules.default_interest_rate_bp,
                       interest_distribution=rules.interest_distribution.value, min_witnesses=rules.min_witnesses,
                       approval_threshold_bp=rules.approval_threshold_bp,
                       leaver_interest_share=rules.leaver_interest_share),
    )


def entry_out(entry: LedgerEntry) -> EntryOut:
    return EntryOut.model_validate(entry)


def summary_out(meeting: Meeting) -> MeetingSummaryOut:
    return MeetingSummaryOut.model_validate(meeting)


def meeting_out(view: meetings.MeetingView) -> MeetingOut:
    meeting = view.context.meeting
    entries = [entry_out(x) for x in view.entries]
    deposits = [x for x in entries if x.kind == EntryKind.DEPOSIT.value]
    loan_events = [x for x in entries if x.loan_id is not None]
    attendance = [
        AttendanceOut(member_id=member_id, status=a.status.value, after_signature=a.after_signature)
        for member_id, a in sorted(view.context.attendance.items(), key=lambda item: str(item[0]))]
    return MeetingOut(
        id=meeting.id, cycle_id=meeting.cycle_id, group_id=meeting.group_id, meeting_no=meeting.meeting_no,
        scheduled_for=meeting.scheduled_for, theme=meeting.theme, status=meeting.status.value,
        opened_at=meeting.opened_at, opening_cash_cents=meeting.opening_cash_cents,
        opening_difference_cents=meeting.opening_difference_cents, signed_at=meeting.signed_at,
        signed_by_member_id=meeting.signed_by_member_id, closed_at=meeting.closed_at,
        closing_counted_by_member_id=meeting.closing_counted_by_member_id,
        closing_witness_member_ids=meeting.closing_witness_member_ids, attendance=attendance, deposits=deposits,
        entries=entries, loan_events=loan_events,
        totals=MeetingTotalsOut(
            deposits_cents=view.deposits_cents, cash_in_cents=view.cash_in_cents, cash_out_cents=view.cash_out_cents,
            cash_expected_cents=view.cash_expected_cents, closing_cash_cents=meeting.closing_cash_cents,
            discrepancy_cents=meeting.discrepancy_cents,
            discrepancy_outstanding_cents=view.discrepancy_outstanding_cents),
        explanations=[ExplanationOut.model_validate(n) for n in view.explanations],
        complete=view.sees_all,
    )


class CycleController(Controller):
    tags = ["spaarkring"]

    @post("/api/v1/groups/{group_id:uuid}/cycles", summary="Start a cycle with its rules")
    async def create(self, group_id: UUID, data: CycleIn, db: AsyncSession, actor: Actor) -> Response[CycleOut]:
        rules = cycles.CycleRules(
            min_deposit_cents=data.rules.min_deposit_cents, max_deposit_cents=data.rules.max_deposit_cents,
            max_loan_multiple=data.rules.max_loan_multiple, max_loan_term_meetings=data.rules.max_loan_term_meetings,
            default_interest_rate_bp=data.rules.default_interest_rate_bp,
            interest_distribution=InterestDistribution(data.rules.interest_distribution),
            min_witnesses=data.rules.min_witnesses, approval_threshold_bp=data.rules.approval_threshold_bp,
            leaver_interest_share=data.rules.leaver_interest_share)
        new = cycles.NewCycle(data.starts_on, data.meeting_interval_days, data.planned_meetings, rules,
                              data.meeting_time)
        cycle, is_new = await cycles.create_cycle(db, actor, group_id, new, cycle_id=data.id)
        await db.commit()
        return created(cycle_out(cycle), is_new, f"/api/v1/cycles/{cycle.id}")

    @get("/api/v1/groups/{group_id:uuid}/cycles", summary="The group's cycles, oldest first", opt=READ_ONLY)
    async def list_cycles(self, group_id: UUID, db: AsyncSession, actor: Actor) -> list[CycleOut]:
        return [cycle_out(c) for c in await cycles.list_cycles(db, actor, group_id)]

    @get("/api/v1/cycles/{cycle_id:uuid}", summary="A cycle with its rules and status", opt=READ_ONLY)
    async def get_cycle(self, cycle_id: UUID, db: AsyncSession, actor: Actor) -> CycleOut:
        return cycle_out(await cycles.get_visible_cycle(db, actor, cycle_id))

    @put("/api/v1/cycles/{cycle_id:uuid}/roles", summary="Assign roles from a meeting number on (rotation)")
    async def put_roles(self, cycle_id: UUID, data: RolesIn, db: AsyncSession, actor: Actor) -> RolesOut:
        wanted = [cycles.Assignment(a.member_id, CycleRole(a.role), a.from_meeting_no) for a in data.assignments]
        combined = await cycles.assign_roles(db, actor, cycle_id, wanted)
        await db.commit()
        ordered = sorted(combined, key=lambda a: (a.from_meeting_no, a.role.value, str(a.member_id)))
        return RolesOut(cycle_id=cycle_id, assignments=[
            AssignmentOut(member_id=a.member_id, role=a.role.value, from_meeting_no=a.from_meeting_no) for a in ordered])

    @get("/api/v1/cycles/{cycle_id:uuid}/roles",
         summary="Who holds which role at a meeting (default: the latest meeting opened, or the first)")
    async def get_roles(
        self, cycle_id: UUID, db: AsyncSession, actor: Actor,
        meeting_no: int | None = Parameter(ge=1, le=104, required=False, default=None),
    ) -> RolesAtOut:
        meeting_no, holders = await cycles.roles_at(db, actor, cycle_id, meeting_no)
        return RolesAtOut(cycle_id=cycle_id, meeting_no=meeting_no, **{
            role.value: sorted(holders[role], key=str) for role in CycleRole})

    @post("/api/v1/cycles/{cycle_id:uuid}/meetings", summary="Plan one meeting")
    async def create_meeting(
        self, cycle_id: UUID, data: MeetingIn, db: AsyncSession, actor: Actor
    ) -> Response[MeetingSummaryOut]:
        meeting, is_new = await cycles.create_meeting(
            db, actor, cycle_id, cycles.NewMeeting(data.meeting_no, data.scheduled_for, data.theme), meeting_id=data.id)
        await db.commit()
        return created(summary_out(meeting), is_new, f"/api/v1/meetings/{meeting.id}")

    @post("/api/v1/cycles/{cycle_id:uuid}/meetings/plan", summary="Plan every meeting from the start and interval",
          status_code=200)
    async def plan(self, cycle_id: UUID, db: AsyncSession, actor: Actor) -> list[MeetingSummaryOut]:
        planned = await cycles.plan_meetings(db, actor, cycle_id)
        await db.commit()
        return [summary_out(m) for m in planned]

    @get("/api/v1/cycles/{cycle_id:uuid}/meetings", summary="The cycle's meetings", opt=READ_ONLY)
    async def list_meetings(self, cycle_id: UUID, db: AsyncSession, actor: Actor) -> list[MeetingSummaryOut]:
        return [summary_out(m) for m in await cycles.list_meetings(db, actor, cycle_id)]


async def _view(db: AsyncSession, actor: Actor, meeting_id: UUID,
                context: meetings.MeetingContext | None = None) -> MeetingOut:
    return meeting_out(await meetings.view_meeting(db, actor, meeting_id, context))


class MeetingController(Controller):
    path = "/api/v1/meetings/{meeting_id:uuid}"
    tags = ["spaarkring"]

    @get(summary="The meeting with attendance, deposits, loan events and totals", opt=READ_ONLY)
    async def get_meeting(self, meeting_id: UUID, db: AsyncSession, actor: Actor) -> MeetingOut:
        return await _view(db, actor, meeting_id)

    @post("/open", summary="Open the box: by the voorzitter or boekhouder, with the counted cash", status_code=200)
    async def open(self, meeting_id: UUID, data: OpenIn, db: AsyncSession, actor: Actor) -> MeetingOut:
        context = await meetings.load_meeting(db, actor, meeting_id, for_write=True)
        await meetings.open_meeting(db, actor, meeting_id, data.opening_cash_cents, utcnow(), context=context)
        await db.commit()
        return await _view(db, actor, meeting_id, context)

    @put("/attendance", summary="The presentielijst (before the signature; after it only walk-ins, as late)")
    async def attendance(self, meeting_id: UUID, data: AttendanceIn, db: AsyncSession, actor: Actor) -> MeetingOut:
        entries = [(x.member_id, AttendanceStatus(x.status)) for x in data.entries]
        context = await meetings.put_attendance(db, actor, meeting_id, entries, utcnow())
        await db.commit()
        return await _view(db, actor, meeting_id, context)

    @post("/attendance/sign", summary="The voorzitter signs the presentielijst; it is locked after", status_code=200)
    async def sign(self, meeting_id: UUID, data: SignIn, db: AsyncSession, actor: Actor) -> MeetingOut:
        context = await meetings.load_meeting(db, actor, meeting_id, for_write=True)
        await meetings.sign_presentielijst(db, actor, meeting_id, data.signed_by_member_id, utcnow(), context=context)
        await db.commit()
        return await _view(db, actor, meeting_id, context)

    @post("/deposits", summary="Record a deposit the group has seen")
    async def deposit(self, meeting_id: UUID, data: DepositIn, db: AsyncSession,
                      request: Request[Any, Any, Any]) -> Response[EntryOut]:
        deposit = meetings.Deposit(data.member_id, data.amount_cents, data.counted_by_member_id,
                                   tuple(data.witness_member_ids))
        entry, is_new = await meetings.record_deposit(db, caller_from(request), meeting_id, deposit, entry_id=data.id,
                                                      now=utcnow())
        await db.commit()
        return created(entry_out(entry), is_new)

    @post("/close", summary="Count the box and close; answers the totals and the discrepancy", status_code=200)
    async def close(self, meeting_id: UUID, data: CloseIn, db: AsyncSession, actor: Actor) -> MeetingOut:
        count = meetings.ClosingCount(data.closing_cash_cents, data.counted_by_member_id,
                                      tuple(data.witness_member_ids))
        context = await meetings.load_meeting(db, actor, meeting_id, for_write=True)
        await meetings.close_meeting(db, actor, meeting_id, count, utcnow(), context=context)
        await db.commit()
        return await _view(db, actor, meeting_id, context)

    @post("/discrepancy-explanations", summary="Explain a closed meeting's cash difference (the meeting is unchanged)")
    async def explain(self, meeting_id: UUID, data: ExplanationIn, db: AsyncSession, actor: Actor) -> ExplanationOut:
        note = await meetings.explain_discrepancy(db, actor, meeting_id, data.note, utcnow())
        await db.commit()
        return ExplanationOut.model_validate(note)

    @post("/sync", summary="A whole meeting captured offline, applied all or nothing", status_code=200)
    async def sync(self, meeting_id: UUID, data: SyncIn, db: AsyncSession, actor: Actor) -> MeetingOut:
        closing = None
        if data.closing_cash_cents is not None:
            closing = meetings.ClosingCount(data.closing_cash_cents, data.closing_counted_by_member_id,
                                            tuple(data.closing_witness_member_ids))
        batch = sync.SyncBatch(
            opening_cash_cents=data.opening_cash_cents,
            attendance=[(x.member_id, AttendanceStatus(x.status)) for x in data.attendance]
            if data.attendance is not None else None,
            attendance_signed_by_member_id=data.attendance_signed_by_member_id,
            deposits=[(d.id, meetings.Deposit(d.member_id, d.amount_cents, d.counted_by_member_id,
                                              tuple(d.witness_member_ids))) for d in data.deposits],
            loan_requests=[(x.id, loans.LoanRequest(x.member_id, x.amount_cents, x.term_meetings, x.purpose))
                           for x in data.loan_requests],
            loan_decisions=[sync.LoanDecision(x.loan_id, {v.member_id: v.vote for v in x.votes}, x.interest_rate_bp)
                            for x in data.loan_decisions],
            disbursements=[sync.LoanPayment(x.id, x.loan_id, loans.CashMove(
                x.counted_by_member_id, tuple(x.witness_member_ids))) for x in data.disbursements],
            repayments=[sync.LoanPayment(x.id, x.loan_id, loans.CashMove(
                x.counted_by_member_id, tuple(x.witness_member_ids)), x.amount_cents) for x in data.repayments],
            closing=closing)
        context = await sync.apply_sync(db, actor, meeting_id, batch, utcnow())
        await db.commit()
        return await _view(db, actor, meeting_id, context)


class LedgerController(Controller):
    tags = ["spaarkring"]

    @get("/api/v1/cycles/{cycle_id:uuid}/ledger", summary="Append-only entries, oldest first", opt=READ_ONLY)
    async def ledger(
        self, cycle_id: UUID, db: AsyncSession, actor: Actor, limit: Limit = 50, cursor: Cursor = None
    ) -> Page[EntryOut]:
        page = await books.ledger_page(db, actor, cycle_id, cursor, limit)
        return Page(items=[entry_out(x) for x in page.items], next_cursor=page.next_cursor)

    @get("/api/v1/cycles/{cycle_id:uuid}/ledger/verify", summary="Recompute the cycle's hash chain", opt=READ_ONLY)
    async def verify(self, cycle_id: UUID, db: AsyncSession, actor: Actor) -> VerifyOut:
        report = await books.verify(db, actor, cycle_id)
        return VerifyOut(ok=report.ok, entries=report.entries, head_hash=report.head_hash,
                         first_bad_entry_id=report.first_bad_entry_id, reason=report.reason)

    @post("/api/v1/ledger-entries/{entry_id:uuid}/reversal", summary="Correct an entry by a reversing entry")
    async def reverse(self, entry_id: UUID, data: ReversalIn, db: AsyncSession, actor: Actor) -> Response[EntryOut]:
        entry, is_new = await meetings.reverse_entry(db, actor, entry_id, data.meeting_id, data.reason, now=utcnow(),
                                                     reversal_id=data.id)
        await db.commit()
        return created(entry_out(entry), is_new)

    @get("/api/v1/cycles/{cycle_id:uuid}/balances", summary="Savings and loans per member, and the cash expected", opt=READ_ONLY)
    async def balances(self, cycle_id: UUID, db: AsyncSession, actor: Actor) -> BalancesOut:
        result = await books.balances(db, actor, cycle_id)
        return BalancesOut(
            cycle_id=result.cycle_id, cash_expected_cents=result.cash_expected_cents, complete=result.complete,
            members=[MemberBalanceOut(member_id=m.member_id, display_name=m.display_name, left_on=m.left_on,
                                      saved_cents=m.saved_cents, loan_outstanding_cents=m.loan_outstanding_cents,
                                      interest_due_cents=m.interest_due_cents) for m in result.members],
            totals={"saved_cents": result.saved_cents, "loan_outstanding_cents": result.loan_outstanding_cents,
                    "interest_due_cents": result.interest_due_cents})
