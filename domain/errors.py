"""Errors with stable codes. A code is part of the API: clients branch on it, messages are keyed by it.

The domain names four kinds of "no"; the API maps each kind to one HTTP status. A code never changes
meaning once shipped; a new meaning gets a new code.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    code: ClassVar[str]

    def __init__(self, **params: str | int | list[str] | None) -> None:
        super().__init__(self.code)
        self.params = params  # JSON-safe; they travel as extension members of the problem


class Refused(DomainError):
    """Breaks a rule of the group or of the request."""


class Conflict(DomainError):
    """Clashes with what is already recorded."""


class Forbidden(DomainError):
    """Visible to the caller, but not theirs to do."""


class NotFound(DomainError):
    """Absent, or outside what the caller may see: one answer for both."""


class Unauthenticated(DomainError):
    """No valid credentials."""


class TooManyAttempts(DomainError):
    """Too many failed attempts; try again later."""


class PreconditionFailed(DomainError):
    """The caller edited an old version."""


# --- auth --------------------------------------------------------------------------------------
class InvalidCredentials(Unauthenticated):
    code = "auth.invalid_credentials"


class TokenMissing(Unauthenticated):
    code = "auth.token_missing"


class TokenInvalid(Unauthenticated):
    code = "auth.token_invalid"


class TokenExpired(Unauthenticated):
    code = "auth.token_expired"


class RefreshTokenInvalid(Unauthenticated):
    code = "auth.refresh_token_invalid"


class RefreshTokenReused(Unauthenticated):
    code = "auth.refresh_token_reused"


class AccountClosed(Unauthenticated):
    code = "auth.account_closed"


class LoginThrottled(TooManyAttempts):
    code = "auth.too_many_attempts"


# --- access ------------------------------------------------------------------------------------
class RoleNotAllowed(Forbidden):
    code = "access.role_not_allowed"


class NotYourGroup(Forbidden):
    code = "access.not_your_group"


class ResourceNotFound(NotFound):
    code = "resource.not_found"


# --- users, programmes, groups, members ------------------------------------------------------
class EmailTaken(Conflict):
    code = "user.email_taken"


class MemberLinkRequired(Refused):
    code = "user.member_required"


class MemberLinkNotAllowed(Refused):
    code = "user.member_not_allowed"


class MemberAlreadyLinked(Conflict):
    code = "user.member_already_linked"


class PasswordTooShort(Refused):
    code = "user.password_too_short"


class NotAFunder(Refused):
    code = "programme.not_a_funder"


class NotABegeleider(Refused):
    code = "group.not_a_begeleider"


class UnknownTimezone(Refused):
    code = "group.unknown_timezone"


class GroupStopped(Conflict):
    code = "group.stopped"


class StatusChangeNotAllowed(Refused):
    code = "group.status_change_not_allowed"


class MemberAlreadyLeft(Conflict):
    code = "member.already_left"


class LeftBeforeJoined(Refused):
    code = "member.left_before_joined"


# --- the contract ------------------------------------------------------------------------------
class IdReused(Conflict):
    """The same client-made id came with another body."""

    code = "request.id_reused"


class StaleVersion(PreconditionFailed):
    code = "request.stale_version"


class BadCursor(Refused):
    code = "request.bad_cursor"


class BadIfMatch(Refused):
    code = "request.bad_if_match"


# --- spaarkring: cycles, roles, meetings, deposits, the ledger ---------------------------------
# `field` names the body field a rule is about, so an offline sync can point at e.g.
# deposits[3].witness_member_ids.
class NotASpaarkring(Refused):
    code = "cycle.not_a_spaarkring"


class CycleRulesInvalid(Refused):
    code = "cycle.rules_invalid"


class CycleAlreadyOpen(Conflict):
    code = "cycle.already_open"


class CycleClosed(Conflict):
    code = "cycle.closed"


class MeetingNumberOutOfRange(Refused):
    code = "meeting.number_out_of_range"
    field = "meeting_no"


class MeetingNumberTaken(Conflict):
    code = "meeting.number_taken"
    field = "meeting_no"


class MeetingNotOpen(Conflict):
    code = "meeting.not_open"


class MeetingClosed(Conflict):
    code = "meeting.closed"


class MeetingAlreadyOpen(Conflict):
    code = "meeting.already_open"


class AnotherMeetingOpen(Conflict):
    code = "meeting.another_open"


class LaterMeetingHeld(Conflict):
    code = "meeting.later_meeting_held"


class OpeningCashDiffers(Conflict):
    code = "meeting.opening_cash_differs"
    field = "opening_cash_cents"


class MayNotRecord(Forbidden):
    code = "meeting.may_not_record"


class RoleSlateInvalid(Refused):
    code = "roles.invalid"
    field = "assignments"


class RoleOfHeldMeeting(Conflict):
    code = "roles.meeting_held"
    field = "assignments"


class TwoRolesAtOneMeeting(Refused):
    code = "roles.one_role_per_member"
    field = "assignments"


class NotACurrentMember(Refused):
    code = "member.not_current"
    field = "member_id"


class AttendanceSigned(Conflict):
    code = "attendance.signed"
    field = "attendance"


class AttendanceEmpty(Conflict):
    code = "attendance.empty"


class SignerNotVoorzitter(Refused):
    code = "attendance.signer_not_voorzitter"
    field = "signed_by_member_id"


class NotSigned(Conflict):
    code = "attendance.not_signed"


class DepositorNotPresent(Refused):
    code = "deposit.member_not_present"
    field = "member_id"


class CounterNotGeldteller(Refused):
    code = "deposit.counter_not_geldteller"
    field = "counted_by_member_id"


class CounterIsOwner(Refused):
    code = "deposit.counter_is_owner"
    field = "counted_by_member_id"


class CounterNotPresent(Refused):
    code = "deposit.counter_not_present"
    field = "counted_by_member_id"


class WitnessesRequired(Refused):
    code = "deposit.witnesses_required"
    field = "witness_member_ids"


class WitnessIsParty(Refused):
    code = "deposit.self_witnessed"
    field = "witness_member_ids"


class WitnessesNotDistinct(Refused):
    code = "deposit.witnesses_not_distinct"
    field = "witness_member_ids"


class WitnessNotPresent(Refused):
    code = "deposit.witness_not_present"
    field = "witness_member_ids"


class DepositOutOfLimits(Refused):
    code = "deposit.amount_out_of_limits"
    field = "amount_cents"


class EntryAlreadyReversed(Conflict):
    code = "ledger.already_reversed"


class ReversalOfReversal(Conflict):
    code = "ledger.reversal_not_reversible"


class ReversalElsewhere(Refused):
    code = "ledger.reversal_other_cycle"
    field = "meeting_id"


class NothingToExplain(Conflict):
    code = "meeting.no_discrepancy"


class SyncDiffersFromClosedMeeting(Conflict):
    """A sync for a meeting that is closed must be a retry of what was recorded."""

    code = "sync.differs_from_closed_meeting"


# The same witnessing rules for cash that is not a deposit (closing count, loans paid out and back,
# a leaver's payout): the same words, their own codes.
class CashOwnerNotPresent(Refused):
    code = "cash.member_not_present"
    field = "member_id"


class CashCounterNotGeldteller(Refused):
    code = "cash.counter_not_geldteller"
    field = "counted_by_member_id"


class CashCounterIsOwner(Refused):
    code = "cash.counter_is_owner"
    field = "counted_by_member_id"


class CashCounterNotPresent(Refused):
    code = "cash.counter_not_present"
    field = "counted_by_member_id"


class CashWitnessesRequired(Refused):
    code = "cash.witnesses_required"
    field = "witness_member_ids"


class CashWitnessIsParty(Refused):
    code = "cash.self_witnessed"
    field = "witness_member_ids"


class CashWitnessesNotDistinct(Refused):
    code = "cash.witnesses_not_distinct"
    field = "witness_member_ids"


class CashWitnessNotPresent(Refused):
    code = "cash.witness_not_present"
    field = "witness_member_ids"


# --- loans, leaving, share-out -----------------------------------------------------------------
class LoansDisabled(Refused):
    code = "loan.loans_disabled"


class LoanRequestsClosed(Conflict):
    code = "loan.cycle_sharing_out"


class LoanOverMultiple(Refused):
    code = "loan.over_multiple"
    field = "amount_cents"


class LoanTermTooLong(Refused):
    code = "loan.term_too_long"
    field = "term_meetings"


class LoanAlreadyOpen(Conflict):
    code = "loan.already_open"
    field = "member_id"


class LoanNotRequested(Conflict):
    code = "loan.not_requested"


class LoanNotApproved(Conflict):
    code = "loan.not_approved"


class LoanNotDisbursed(Conflict):
    code = "loan.not_disbursed"


class BorrowerVotes(Refused):
    code = "loan.self_vote"
    field = "votes"


class VoterNotPresent(Refused):
    code = "loan.voter_not_present"
    field = "votes"


class BorrowerDecides(Forbidden):
    code = "loan.borrower_may_not_decide"


class NotEnoughCash(Conflict):
    code = "loan.not_enough_cash"


class DueAfterLastMeeting(Refused):
    code = "loan.due_after_last_meeting"


class Overpayment(Refused):
    code = "loan.overpayment"
    field = "amount_cents"


class WrongCycle(Refused):
    code = "loan.other_cycle"
    field = "meeting_id"


class LeavingWithLoan(Conflict):
    code = "member.loan_outstanding"


class NotLeft(Conflict):
    code = "member.not_left"
    field = "member_id"


class NothingSaved(Conflict):
    code = "member.nothing_saved"
    field = "member_id"


class ShareOutLoanOutstanding(Conflict):
    code = "share_out.loan_outstanding"


class ShareOutNotLastMeeting(Conflict):
    code = "share_out.not_last_meeting"
    field = "meeting_id"


class ShareOutNotFinal(NotFound):
    code = "share_out.not_finalised"


class NoOneToShareWith(Conflict):
    code = "share_out.no_one_to_share_with"


# --- luistergroepen: afspraken, series, sessions, RSVPs, attendance, calendar feeds ----------------
class NotALuistergroep(Refused):
    """Afspraken and session series belong to a luistergroep; a spaarkring has its cycles and meetings."""

    code = "group.not_a_luistergroep"


class RruleInvalid(Refused):
    """`part` names the piece of the rule that is wrong (e.g. FREQ, BYDAY, UNTIL)."""

    code = "series.rrule_invalid"
    field = "rrule"


class RruleUnbounded(Refused):
    code = "series.rrule_unbounded"
    field = "rrule"


class RruleBeyondHorizon(Refused):
    code = "series.beyond_horizon"
    field = "rrule"


class SeriesStartInvalid(Refused):
    code = "series.start_invalid"
    field = "starts_at"


class StartNotInRule(Refused):
    code = "series.start_not_in_rule"
    field = "starts_at"


class FacilitatorInvalid(Refused):
    code = "series.facilitator_invalid"
    field = "facilitator_user_id"


class SeriesAlreadyEnded(Conflict):
    code = "series.already_ended"
    field = "from_on"


class SplitTouchesPast(Conflict):
    code = "series.split_touches_past"
    field = "from_on"


class ContinuationBeforeDate(Refused):
    code = "series.continuation_before_date"
    field = "starts_at"


class NothingToContinue(Conflict):
    code = "series.nothing_to_continue"
    field = "from_on"


class WindowInvalid(Refused):
    code = "sessions.window_invalid"
    field = "to"


class SessionCancelled(Conflict):
    code = "session.cancelled"


class SessionNotStarted(Conflict):
    code = "session.not_started"


class SessionAttendanceRecorded(Conflict):
    code = "session.attendance_recorded"


class SessionFull(Conflict):
    code = "rsvp.session_full"
    field = "answer"


class RsvpForSomeoneElse(Forbidden):
    code = "rsvp.not_yourself"
    field = "member_id"


# --- exports for funders ---------------------------------------------------------------------------
class ExportPeriodReversed(Refused):
    code = "export.period_reversed"
    field = "from"


class ExportPeriodTooLong(Refused):
    code = "export.period_too_long"
    field = "to"


# --- the right to be forgotten -------------------------------------------------------------------
class EraseMoneyOutstanding(Conflict):
    """A member is forgotten only once nothing is owed either way."""

    code = "member.erase_money_outstanding"
