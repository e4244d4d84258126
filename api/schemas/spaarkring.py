"""Shapes of the spaarkring endpoints: cycles, roles, meetings, deposits, the ledger, balances, sync."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, field_validator

from api.schemas.common import In, Out

MAX_CENTS = 10_000_000_000  # €100 million: far above any kring, far below 2^53
Cents = Annotated[int, Field(strict=True, ge=0, le=MAX_CENTS, description="Euro cents (integer).")]
PositiveCents = Annotated[int, Field(strict=True, gt=0, le=MAX_CENTS, description="Euro cents (integer), > 0.")]
Count = Annotated[int, Field(strict=True, ge=0, le=10_000)]
MeetingNo = Annotated[int, Field(strict=True, ge=1, le=104)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CycleRoleName = Literal["voorzitter", "boekhouder", "geldteller"]
AttendanceName = Literal["present", "late", "excused", "absent"]


def _unique(ids: list[UUID]) -> list[UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("the same member is named twice")
    return ids


class RulesIn(In):
    min_deposit_cents: Cents
    max_deposit_cents: PositiveCents
    max_loan_multiple: Annotated[int, Field(strict=True, ge=0, le=10,
                                            description="Loan limit as a whole multiple of savings; 0: saving only.")]
    max_loan_term_meetings: Annotated[int, Field(strict=True, ge=0, le=104)]
    default_interest_rate_bp: Annotated[int, Field(strict=True, ge=0, le=10_000,
                                                   description="Flat interest for the whole term, basis points.")]
    interest_distribution: Literal["pro_rata", "equal", "time_weighted"]
    min_witnesses: Annotated[int, Field(strict=True, ge=1, le=5)] = 2
    approval_threshold_bp: Annotated[int, Field(
        strict=True, ge=5000, le=9999, description="A loan is approved when more than this share (basis points) "
        "of the present members other than the borrower vote for it; 5000 = more than half.")] = 5000
    leaver_interest_share: bool = Field(default=False, strict=True)


class CycleIn(In):
    id: UUID | None = None
    starts_on: date
    meeting_interval_days: Annotated[int, Field(strict=True, ge=1, le=92)]
    planned_meetings: MeetingNo
    meeting_time: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "19:00"
    rules: RulesIn


class RulesOut(Out):
    min_deposit_cents: int
    max_deposit_cents: int
    max_loan_multiple: int
    max_loan_term_meetings: int
    default_interest_rate_bp: int
    interest_distribution: str
    min_witnesses: int
    approval_threshold_bp: int
    leaver_interest_share: bool


class CycleOut(Out):
    id: UUID
    group_id: UUID
    number: int
    starts_on: date
    meeting_interval_days: int
    planned_meetings: int
    meeting_time: str
    rules: RulesOut
    status: Literal["open", "sharing_out", "closed"]
    created_at: datetime
    closed_at: datetime | None


class AssignmentIn(In):
    member_id: UUID
    role: CycleRoleName
    from_meeting_no: MeetingNo


class RolesIn(In):
    assignments: list[AssignmentIn] = Field(min_length=1, max_length=200)


class AssignmentOut(Out):
    member_id: UUID
    role: str
    from_meeting_no: int


class RolesOut(Out):
    cycle_id: UUID
    assignments: list[AssignmentOut]


class RolesAtOut(Out):
    cycle_id: UUID
    meeting_no: int
    voorzitter: list[UUID]
    boekhouder: list[UUID]
    geldteller: list[UUID]


class MeetingIn(In):
    id: UUID | None = None
    meeting_no: MeetingNo
    scheduled_for: AwareDatetime
    theme: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class MeetingSummaryOut(Out):
    id: UUID
    cycle_id: UUID
    group_id: UUID
    meeting_no: int
    scheduled_for: datetime
    theme: str | None
    status: Literal["planned", "open", "closed"]


class OpenIn(In):
    opening_cash_cents: Cents


class AttendanceEntryIn(In):
    member_id: UUID
    status: AttendanceName


class AttendanceIn(In):
    entries: list[AttendanceEntryIn] = Field(max_length=200)

    @field_validator("entries")
    @classmethod
    def _members_once(cls, entries: list[AttendanceEntryIn]) -> list[AttendanceEntryIn]:
        _unique([x.member_id for x in entries])
        return entries


class SignIn(In):
    signed_by_member_id: UUID


class DepositIn(In):
    id: UUID | None = None
    member_id: UUID
    amount_cents: PositiveCents
    counted_by_member_id: UUID
    witness_member_ids: list[UUID] = Field(max_length=50)


class SyncDepositIn(DepositIn):
    id: UUID  # type: ignore[assignment]  # every item of an offline sync carries its client-made id


class CloseIn(In):
    closing_cash_cents: Cents
    counted_by_member_id: UUID | None = None
    witness_member_ids: list[UUID] = Field(default_factory=list, max_length=50)


class ExplanationIn(In):
    note: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class ExplanationOut(Out):
    id: UUID
    meeting_id: UUID
    note: str
    recorded_by: UUID
    recorded_at: datetime


class ReversalIn(In):
    id: UUID | None = None
    meeting_id: UUID
    reason: ShortText


class EntryOut(Out):
    id: UUID
    cycle_id: UUID
    seq: int
    meeting_id: UUID
    member_id: UUID
    kind: str
    amount_cents: int
    counted_by_member_id: UUID | None
    witness_member_ids: list[UUID]
    loan_id: UUID | None
    reverses_id: UUID | None
    reason: str | None
    recorded_by: UUID
    recorded_at: datetime
    hash: str


class AttendanceOut(Out):
    member_id: UUID
    status: str
    after_signature: bool


class MeetingTotalsOut(Out):
    deposits_cents: int
    cash_in_cents: int
    cash_out_cents: int
    cash_expected_cents: int = Field(description="For a closed meeting: what the books said at its close; "
                                                 "for an open one: what they say now.")
    closing_cash_cents: int | None
    discrepancy_cents: int | None = Field(description="Counted minus expected at the close, as said in the room.")
    discrepancy_outstanding_cents: int | None = Field(
        description="The discrepancy measured against the books as corrected since; 0 once explained.")


class MeetingOut(Out):
    id: UUID
    cycle_id: UUID
    group_id: UUID
    meeting_no: int
    scheduled_for: datetime
    theme: str | None
    status: Literal["planned", "open", "closed"]
    opened_at: datetime | None
    opening_cash_cents: int | None
    opening_difference_cents: int | None = Field(description="Opening count minus the previous closing count.")
    signed_at: datetime | None
    signed_by_member_id: UUID | None
    closed_at: datetime | None
    closing_counted_by_member_id: UUID | None
    closing_witness_member_ids: list[UUID] | None
    attendance: list[AttendanceOut]
    deposits: list[EntryOut]
    entries: list[EntryOut]
    loan_events: list[EntryOut]
    totals: MeetingTotalsOut
    explanations: list[ExplanationOut]
    complete: bool = Field(description="False when the caller sees only their own money lines.")


# --- loans ---------------------------------------------------------------------------------------
RateBp = Annotated[int, Field(strict=True, ge=0, le=10_000, description=(
    "Flat interest for the whole term in basis points (500 = 5%): interest_cents = principal × rate / 10 000, "
    "rounded half up to a whole cent."))]


class LoanIn(In):
    id: UUID | None = None
    member_id: UUID
    amount_cents: PositiveCents
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    term_meetings: Annotated[int, Field(strict=True, ge=1, le=104)]


class VoteIn(In):
    member_id: UUID
    vote: Literal["for", "against", "abstain"]


class DecisionIn(In):
    meeting_id: UUID
    votes: list[VoteIn] = Field(max_length=200)
    interest_rate_bp: RateBp | None = None

    @field_validator("votes")
    @classmethod
    def _one_vote_each(cls, votes: list[VoteIn]) -> list[VoteIn]:
        _unique([v.member_id for v in votes])
        return votes


class DisbursementIn(In):
    id: UUID | None = None
    meeting_id: UUID
    counted_by_member_id: UUID
    witness_member_ids: list[UUID] = Field(max_length=50)


class RepaymentIn(DisbursementIn):
    amount_cents: PositiveCents


class VoteOut(Out):
    member_id: UUID
    vote: str


class LoanOut(Out):
    id: UUID
    cycle_id: UUID
    member_id: UUID
    status: Literal["requested", "approved", "rejected", "disbursed", "repaid", "overdue"]
    principal_cents: int
    interest_rate_bp: int | None
    interest_cents: int | None = Field(description="Flat, fixed at the decision, rounded half up to the cent.")
    outstanding_cents: int
    repaid_cents: int
    term_meetings: int
    due_meeting_no: int | None
    purpose: str | None
    votes: list[VoteOut]
    requested_at: datetime
    decided_at: datetime | None


class RepaymentOut(Out):
    loan: LoanOut
    entries: list[EntryOut]


class ExitPayoutIn(In):
    id: UUID | None = None
    member_id: UUID
    counted_by_member_id: UUID
    witness_member_ids: list[UUID] = Field(max_length=50)


class ShareOutLineOut(Out):
    member_id: UUID
    display_name: str | None
    saved_cents: int
    weight: int
    interest_share_cents: int
    payout_cents: int


class ShareOutOut(Out):
    cycle_id: UUID
    final: bool
    interest_distribution: str
    interest_pool_cents: int
    cash_expected_cents: int
    loans_outstanding: int
    members: list[ShareOutLineOut]
    totals: dict[str, int]
    complete: bool


class FinaliseIn(In):
    meeting_id: UUID


class SheetOut(Out):
    cycle_id: UUID
    meeting_id: UUID
    sheet: dict[str, object]
    sheet_hash: str = Field(description="sha256 of the sheet's canonical JSON, for the group's signature.")
    finalised_at: datetime


class SyncDecisionIn(In):
    loan_id: UUID
    votes: list[VoteIn] = Field(max_length=200)
    interest_rate_bp: RateBp | None = None


class SyncLoanRequestIn(LoanIn):
    id: UUID  # type: ignore[assignment]


class SyncDisbursementIn(In):
    id: UUID
    loan_id: UUID
    counted_by_member_id: UUID
    witness_member_ids: list[UUID] = Field(max_length=50)


class SyncRepaymentIn(SyncDisbursementIn):
    amount_cents: PositiveCents


class SyncIn(In):
    opening_cash_cents: Cents | None = None
    attendance: list[AttendanceEntryIn] | None = Field(default=None, max_length=200)
    attendance_signed_by_member_id: UUID | None = None
    deposits: list[SyncDepositIn] = Field(default_factory=list, max_length=500)
    loan_requests: list[SyncLoanRequestIn] = Field(default_factory=list, max_length=100)
    loan_decisions: list[SyncDecisionIn] = Field(default_factory=list, max_length=100)
    disbursements: list[SyncDisbursementIn] = Field(default_factory=list, max_length=100)
    repayments: list[SyncRepaymentIn] = Field(default_factory=list, max_length=100)
    closing_cash_cents: Cents | None = None
    closing_counted_by_member_id: UUID | None = None
    closing_witness_member_ids: list[UUID] = Field(default_factory=list, max_length=50)

    @field_validator("attendance")
    @classmethod
    def _members_once(cls, entries: list[AttendanceEntryIn] | None) -> list[AttendanceEntryIn] | None:
        if entries is not None:
            _unique([x.member_id for x in entries])
        return entries


class MemberBalanceOut(Out):
    member_id: UUID
    display_name: str
    left_on: date | None
    saved_cents: int
    loan_outstanding_cents: int
    interest_due_cents: int


class BalancesOut(Out):
    cycle_id: UUID
    members: list[MemberBalanceOut]
    totals: dict[str, int]
    cash_expected_cents: int
    complete: bool = Field(description="False when the caller sees only their own line (and the totals).")


class VerifyOut(Out):
    ok: bool
    entries: int
    head_hash: str
    first_bad_entry_id: UUID | None
    reason: str | None = Field(default=None, description="link, content or head, when not ok.")
