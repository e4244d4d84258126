"""A small in-memory model of one spaarkring cycle's books, for the state machine in test_ledger_model.py.

Written from DOMAIN.md and API.md alone: it imports nothing of the app, so it is an independent check.
Every command checks the rules the contract names, in the order a meeting runs, and either raises
`Refusal(status, code)` without changing anything or applies the change. The state machine runs each
command on a copy first, so it knows before a request goes out what the app must answer.

Members are their ids (the strings the API uses); money is integer cents; interest is flat and rounded
half up; a reversal is a new entry that negates the original, counted at the meeting it was recorded at,
except for a member's deposit limit and the time weights, where it counts at its original's meeting.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

CASH_IN = frozenset({"deposit", "repayment_principal", "repayment_interest"})
PRESENT = frozenset({"present", "late"})
OUTSTANDING = frozenset({"disbursed", "overdue"})
OPEN_LOAN = frozenset({"requested", "approved", "disbursed", "overdue"})
PAID_OUT = frozenset({"disbursed", "overdue", "repaid"})


class Refusal(Exception):
    """What the app must answer: a problem with this status and code, and nothing written."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code = status, code


@dataclass(frozen=True, slots=True)
class Rules:
    min_deposit_cents: int
    max_deposit_cents: int
    max_loan_multiple: int
    max_loan_term_meetings: int
    default_interest_rate_bp: int
    interest_distribution: str  # pro_rata | equal | time_weighted
    planned_meetings: int
    min_witnesses: int = 2


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    joined_on: str  # ISO date: orders ties at the share-out


@dataclass(slots=True)
class Entry:
    key: str  # the model's name: the client-made id where there is one
    kind: str
    member: str
    amount: int
    meeting_no: int  # where it was recorded
    loan: str | None = None
    reverses: str | None = None  # key of the original
    reason: str | None = None
    client_id: bool = False  # key is also the id the server must use
    id: str | None = None  # the server's id, read from the ledger once it is there
    reversed_by: str | None = None


@dataclass(slots=True)
class Loan:
    id: str
    member: str
    principal: int
    term: int
    status: str = "requested"
    rate_bp: int | None = None
    interest: int | None = None
    due: int | None = None
    decided_at: int | None = None
    votes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Meeting:
    no: int
    status: str = "planned"  # planned | open | closed
    opening: int | None = None
    opening_difference: int | None = None
    attendance: dict[str, str] = field(default_factory=dict)
    signed_by: str | None = None
    closing: int | None = None
    expected_at_close: int | None = None

    @property
    def present(self) -> frozenset[str]:
        return frozenset(m for m, status in self.attendance.items() if status in PRESENT)


def cash_effect(kind: str, amount: int) -> int:
    return amount if kind in CASH_IN else -amount


def flat_interest(principal: int, rate_bp: int) -> int:
    """principal × rate / 10 000, rounded half up to the cent (DOMAIN 4.4), with exact fractions."""
    exact = Fraction(principal * rate_bp, 10_000)
    whole = exact.numerator // exact.denominator
    return whole + (1 if exact - whole >= Fraction(1, 2) else 0)


def largest_remainder(total: int, weights: Mapping[str, int], tie_order: Sequence[str]) -> dict[str, int]:
    """Whole cents of each exact share, then the leftover cents one by one to the largest fractions;
    equal fractions in `tie_order` (DOMAIN 4.5)."""
    weight_sum = sum(weights.values())
    if weight_sum == 0:
        return dict.fromkeys(weights, 0)
    exact = {m: Fraction(total * w, weight_sum) for m, w in weights.items()}
    shares = {m: x.numerator // x.denominator for m, x in exact.items()}
    rank = {m: i for i, m in enumerate(tie_order)}
    for m in sorted(weights, key=lambda m: (-(exact[m] - shares[m]), rank[m]))[:total - sum(shares.values())]:
        shares[m] += 1
    return shares


class Books:
    """One cycle of one spaarkring: its meetings, its ledger and its loans."""

    def __init__(self, rules: Rules, members: Sequence[Member], voorzitter: str, geldtellers: Iterable[str]) -> None:
        self.rules = rules
        self.members = {m.id: m for m in members}
        self.voorzitter = voorzitter
        self.geldtellers = frozenset(geldtellers)
        self.meetings = {no: Meeting(no) for no in range(1, rules.planned_meetings + 1)}
        self.entries: list[Entry] = []
        self.loans: dict[str, Loan] = {}
        self.cycle_status = "open"  # open | sharing_out | closed
        self.share_out: dict[str, tuple[int, int]] | None = None  # member -> (saved, interest share)
        self.pool_at_share_out = 0
        self._names = itertools.count(1)

    # --- what the books say ---------------------------------------------------------------------
    def entry(self, key: str) -> Entry:
        return next(e for e in self.entries if e.key == key)

    def knows(self, key: str) -> bool:
        return any(e.key == key for e in self.entries)

    def cash(self) -> int:
        return sum(cash_effect(e.kind, e.amount) for e in self.entries)

    def saved(self, member: str) -> int:
        return sum(e.amount if e.kind == "deposit" else -e.amount for e in self.entries
                   if e.member == member and e.kind in ("deposit", "exit_payout", "share_out_savings"))

    def loan_sums(self, loan: Loan) -> tuple[int, int, int]:
        """(paid out, principal repaid, interest repaid), net of reversals."""
        sums = {"loan_disbursement": 0, "repayment_principal": 0, "repayment_interest": 0}
        for e in self.entries:
            if e.loan == loan.id:
                sums[e.kind] += e.amount
        return sums["loan_disbursement"], sums["repayment_principal"], sums["repayment_interest"]

    def outstanding(self, loan: Loan) -> tuple[int, int]:
        """(principal due, interest due); interest is owed only on money that was paid out."""
        paid_out, principal_back, interest_back = self.loan_sums(loan)
        interest = (loan.interest or 0) if paid_out else 0
        return paid_out - principal_back, interest - interest_back

    def balances(self) -> dict[str, tuple[int, int, int]]:
        """Per member: saved, loan outstanding, interest due (GET …/balances)."""
        result = {}
        for member in self.members:
            loans = [x for x in self.loans.values() if x.member == member]
            principal_due = sum(self.outstanding(x)[0] for x in loans)
            interest_due = sum(self.outstanding(x)[1] for x in loans if x.status in PAID_OUT)
            result[member] = (self.saved(member), principal_due, interest_due)
        return result

    def state(self) -> tuple[Any, ...]:
        """Everything the app keeps: tells a command that changes something from one that does not."""
        return (list(self.meetings.values()), list(self.entries), dict(self.loans), self.cycle_status, self.share_out)

    def open_meeting_no(self) -> int | None:
        return next((m.no for m in self.meetings.values() if m.status == "open"), None)

    def last_closing(self) -> int:
        closed = [m for m in self.meetings.values() if m.status == "closed"]
        if not closed:
            return 0
        return max(closed, key=lambda m: m.no).closing or 0

    def last_closed_no(self) -> int:
        return max((m.no for m in self.meetings.values() if m.status == "closed"), default=0)

    def openable(self) -> list[int]:
        """Planned meetings that may still be opened: none after one already held."""
        held = max((m.no for m in self.meetings.values() if m.status != "planned"), default=0)
        return [m.no for m in self.meetings.values() if m.status == "planned" and m.no > held]

    def deposited_at(self, no: int, member: str) -> int:
        """A member's deposits at a meeting, a reversal counted at its original's meeting."""
        total = 0
        for e in self.entries:
            if e.kind == "deposit" and e.member == member:
                at = self.entry(e.reverses).meeting_no if e.reverses else e.meeting_no
                total += e.amount if at == no else 0
        return total

    def meeting_totals(self, no: int) -> dict[str, int | None]:
        meeting = self.meetings[no]
        here = [e for e in self.entries if e.meeting_no == no]
        effects = [cash_effect(e.kind, e.amount) for e in here]
        expected = meeting.expected_at_close if meeting.status == "closed" else self.cash()
        return {
            "deposits_cents": sum(e.amount for e in here if e.kind == "deposit"),
            "cash_in_cents": sum(x for x in effects if x > 0),
            "cash_out_cents": -sum(x for x in effects if x < 0),
            "cash_expected_cents": expected,
            "closing_cash_cents": meeting.closing,
            "discrepancy_cents": None if meeting.closing is None else meeting.closing - (expected or 0),
        }

    def _append(self, key: str | None, kind: str, member: str, amount: int, no: int, **extra: Any) -> Entry:
        entry = Entry(key or f"server-{next(self._names)}", kind, member, amount, no, client_id=key is not None,
                      **extra)
        self.entries.append(entry)
        return entry

    # --- the rules, as checks that change nothing ---------------------------------------------
    def _meeting_open(self, meeting: Meeting) -> None:
        if meeting.status == "closed":
            raise Refusal(409, "meeting.closed")
        if meeting.status != "open":
            raise Refusal(409, "meeting.not_open")

    def _writable(self, meeting: Meeting) -> None:
        if self.cycle_status == "closed":
            raise Refusal(409, "cycle.closed")
        self._meeting_open(meeting)

    def _witnessed(self, meeting: Meeting, owner: str, counter: str, witnesses: Sequence[str], codes: str) -> None:
        """Money counts only when the group saw it: `codes` is `deposit` or `cash` (loans)."""
        self._meeting_open(meeting)
        if meeting.signed_by is None:
            raise Refusal(409, "attendance.not_signed")
        present = meeting.present
        if owner not in present:
            raise Refusal(422, f"{codes}.member_not_present")
        if counter == owner:
            raise Refusal(422, f"{codes}.counter_is_owner")
        if counter not in self.geldtellers:
            raise Refusal(422, f"{codes}.counter_not_geldteller")
        if counter not in present:
            raise Refusal(422, f"{codes}.counter_not_present")
        if len(set(witnesses)) != len(witnesses):
            raise Refusal(422, f"{codes}.witnesses_not_distinct")
        if {owner, counter} & set(witnesses):
            raise Refusal(422, f"{codes}.self_witnessed")
        if set(witnesses) - present:
            raise Refusal(422, f"{codes}.witness_not_present")
        if len(witnesses) < self.rules.min_witnesses:
            raise Refusal(422, f"{codes}.witnesses_required")

    def _settle(self, loan: Loan) -> None:
        """Where a paid-out loan stands: repaid, overdue (due meeting closed with money left) or running;
        back to approved when its payout was reversed."""
        if loan.status not in PAID_OUT:
            return
        paid_out = self.loan_sums(loan)[0]
        if paid_out == 0:
            loan.status, loan.due = "approved", None
        elif sum(self.outstanding(loan)) == 0:
            loan.status = "repaid"
        elif loan.due is not None and self.last_closed_no() >= loan.due:
            loan.status = "overdue"
        else:
            loan.status = "disbursed"

    # --- commands ------------------------------------------------------------------------------
    def open_meeting(self, no: int, opening: int) -> None:
        meeting = self.meetings[no]
        if meeting.status == "open":
            if meeting.opening == opening:
                return
            raise Refusal(409, "meeting.opening_cash_differs")
        if meeting.status == "closed":
            raise Refusal(409, "meeting.closed")
        if self.cycle_status == "closed":
            raise Refusal(409, "cycle.closed")
        if self.open_meeting_no() is not None:
            raise Refusal(409, "meeting.another_open")
        if any(m.no > no and m.status != "planned" for m in self.meetings.values()):
            raise Refusal(409, "meeting.later_meeting_held")
        meeting.status, meeting.opening = "open", opening
        meeting.opening_difference = opening - self.last_closing()
        if no == self.rules.planned_meetings and self.cycle_status == "open":
            self.cycle_status = "sharing_out"

    def put_attendance(self, no: int, statuses: Mapping[str, str]) -> None:
        """Before the signature the list may be redone; after it, someone not on it may walk in late."""
        meeting = self.meetings[no]
        self._writable(meeting)
        if meeting.signed_by is not None:
            changed = [m for m, s in statuses.items()
                       if (m in meeting.attendance and meeting.attendance[m] != s)
                       or (m not in meeting.attendance and s != "late")]
            if changed or any(m not in statuses for m in meeting.attendance):
                raise Refusal(409, "attendance.signed")
            meeting.attendance.update({m: "late" for m in statuses if m not in meeting.attendance})
            return
        meeting.attendance = dict(statuses)

    def sign(self, no: int, signer: str) -> None:
        meeting = self.meetings[no]
        self._writable(meeting)
        if meeting.signed_by is not None:
            if meeting.signed_by == signer:
                return
            raise Refusal(409, "attendance.signed")
        if not meeting.attendance:
            raise Refusal(409, "attendance.empty")
        if signer != self.voorzitter or signer not in meeting.present:
            raise Refusal(422, "attendance.signer_not_voorzitter")
        meeting.signed_by = signer

    def deposit(self, no: int, key: str | None, member: str, amount: int, counter: str,
                witnesses: Sequence[str]) -> bool:
        """Returns whether an entry was written (a known client id writes nothing)."""
        if key is not None and self.knows(key):
            return False
        meeting = self.meetings[no]
        self._writable(meeting)
        self._witnessed(meeting, member, counter, witnesses, "deposit")
        total = self.deposited_at(no, member) + amount
        if not self.rules.min_deposit_cents <= total <= self.rules.max_deposit_cents:
            raise Refusal(422, "deposit.amount_out_of_limits")
        self._append(key, "deposit", member, amount, no)
        return True

    def reverse(self, no: int, key: str | None, target: str, reason: str) -> bool:
        original = self.entry(target)
        meeting = self.meetings[no]
        if original.reversed_by is not None:
            earlier = self.entry(original.reversed_by)
            if (key is None or earlier.key == key) and (earlier.meeting_no, earlier.reason) == (no, reason):
                return False  # a retry of the same correction
        if self.cycle_status == "closed":
            raise Refusal(409, "cycle.closed")
        if original.reverses is not None:
            raise Refusal(409, "ledger.reversal_not_reversible")
        if original.reversed_by is not None:
            raise Refusal(409, "ledger.already_reversed")
        self._writable(meeting)
        entry = self._append(key, original.kind, original.member, -original.amount, no, loan=original.loan,
                             reverses=original.key, reason=reason)
        original.reversed_by = entry.key
        if original.loan is not None:
            self._settle(self.loans[original.loan])
        return True

    def request_loan(self, loan_id: str, member: str, amount: int, term: int) -> bool:
        if loan_id in self.loans:
            return False
        rules = self.rules
        if self.cycle_status == "closed":
            raise Refusal(409, "cycle.closed")
        if rules.max_loan_multiple == 0:
            raise Refusal(422, "loan.loans_disabled")
        if self.cycle_status == "sharing_out":
            raise Refusal(409, "loan.cycle_sharing_out")
        if amount > rules.max_loan_multiple * self.saved(member):
            raise Refusal(422, "loan.over_multiple")
        if not 1 <= term <= rules.max_loan_term_meetings:
            raise Refusal(422, "loan.term_too_long")
        if any(x.member == member and x.status in OPEN_LOAN for x in self.loans.values()):
            raise Refusal(409, "loan.already_open")
        self.loans[loan_id] = Loan(loan_id, member, amount, term)
        return True

    def _open_for_lending(self, meeting: Meeting) -> None:
        if self.cycle_status == "closed":
            raise Refusal(409, "cycle.closed")
        self._meeting_open(meeting)
        if self.cycle_status == "sharing_out":
            raise Refusal(409, "loan.cycle_sharing_out")

    def decide(self, loan_id: str, no: int, votes: Mapping[str, str], rate_bp: int | None) -> None:
        loan, meeting = self.loans[loan_id], self.meetings[no]
        rate = self.rules.default_interest_rate_bp if rate_bp is None else rate_bp
        if loan.decided_at == no and loan.votes == dict(votes) and loan.rate_bp == rate:
            return
        if loan.status != "requested":
            raise Refusal(409, "loan.not_requested")
        self._open_for_lending(meeting)
        if loan.member in votes:
            raise Refusal(422, "loan.self_vote")
        if set(votes) - meeting.present:
            raise Refusal(422, "loan.voter_not_present")
        eligible = meeting.present - {loan.member}
        in_favour = sum(1 for m, v in votes.items() if v == "for" and m in eligible)
        approved = bool(eligible) and 2 * in_favour > len(eligible)  # more than half of those present
        loan.status = "approved" if approved else "rejected"
        loan.decided_at, loan.votes, loan.rate_bp = no, dict(votes), rate
        loan.interest = flat_interest(loan.principal, rate)

    def disburse(self, key: str, loan_id: str, no: int, counter: str, witnesses: Sequence[str]) -> bool:
        if self.knows(key):
            return False
        loan, meeting = self.loans[loan_id], self.meetings[no]
        if loan.status != "approved":
            raise Refusal(409, "loan.not_approved")
        self._open_for_lending(meeting)
        self._witnessed(meeting, loan.member, counter, witnesses, "cash")
        due = no + loan.term
        if due > self.rules.planned_meetings:
            raise Refusal(422, "loan.due_after_last_meeting")
        if self.cash() < loan.principal:
            raise Refusal(409, "loan.not_enough_cash")
        self._append(key, "loan_disbursement", loan.member, loan.principal, no, loan=loan.id)
        loan.status, loan.due = "disbursed", due
        return True

    def repay(self, key: str, loan_id: str, no: int, amount: int, counter: str, witnesses: Sequence[str]) -> bool:
        """Interest first, then principal: up to two entries, the first under the client's id."""
        if self.knows(key):
            return False
        loan, meeting = self.loans[loan_id], self.meetings[no]
        if loan.status not in OUTSTANDING:
            raise Refusal(409, "loan.not_disbursed")
        if self.cycle_status == "closed":
            raise Refusal(409, "cycle.closed")
        self._witnessed(meeting, loan.member, counter, witnesses, "cash")
        principal_due, interest_due = self.outstanding(loan)
        if amount > principal_due + interest_due:
            raise Refusal(422, "loan.overpayment")
        interest = min(amount, interest_due)
        parts = [("repayment_interest", interest), ("repayment_principal", amount - interest)]
        first = True
        for kind, part in parts:
            if part:
                self._append(key if first else None, kind, loan.member, part, no, loan=loan.id)
                first = False
        self._settle(loan)
        return True

    def close_meeting(self, no: int, counted: int) -> None:
        meeting = self.meetings[no]
        if meeting.status == "closed" and meeting.closing == counted:
            return
        self._meeting_open(meeting)
        meeting.status, meeting.closing, meeting.expected_at_close = "closed", counted, self.cash()
        for loan in self.loans.values():
            if loan.status == "disbursed" and loan.due is not None and loan.due <= no:
                self._settle(loan)

    def share_out_lines(self) -> tuple[int, list[tuple[str, int, int]]]:
        """(interest pool, [(member, saved, interest share)]) in the order of the sheet: larger saver first,
        then earlier joined_on, then lower member id."""
        savers = [m for m in self.members.values() if self.saved(m.id) > 0]
        order = [m.id for m in sorted(savers, key=lambda m: (-self.saved(m.id), m.joined_on, m.id))]
        pool = sum(e.amount for e in self.entries if e.kind == "repayment_interest")
        method = self.rules.interest_distribution
        if method == "pro_rata":
            weights = {m: self.saved(m) for m in order}
        elif method == "equal":
            weights = dict.fromkeys(order, 1)
        else:  # time_weighted: each cent × the meetings it stays in the box, counting the one it came in
            weights = dict.fromkeys(order, 0)
            for e in self.entries:
                if e.kind == "deposit" and e.member in weights:
                    at = self.entry(e.reverses).meeting_no if e.reverses else e.meeting_no
                    weights[e.member] += e.amount * (self.rules.planned_meetings - at + 1)
        if pool and not sum(weights.values()):
            raise Refusal(409, "share_out.no_one_to_share_with")
        shares = largest_remainder(pool, weights, order)
        return pool, [(m, self.saved(m), shares[m]) for m in order]

    def finalise_share_out(self, no: int) -> bool:
        if self.share_out is not None:
            return False
        if self.cycle_status == "closed":
            raise Refusal(409, "cycle.closed")
        meeting = self.meetings[no]
        if no != self.rules.planned_meetings or meeting.status != "open":
            raise Refusal(409, "share_out.not_last_meeting")
        if any(x.status in OUTSTANDING for x in self.loans.values()):
            raise Refusal(409, "share_out.loan_outstanding")
        pool, lines = self.share_out_lines()
        for member, saved, share in lines:
            self._append(None, "share_out_savings", member, saved, no)
            if share:
                self._append(None, "share_out_interest", member, share, no)
        self.share_out = {member: (saved, share) for member, saved, share in lines}
        self.pool_at_share_out = pool
        self.cycle_status = "closed"
        return True

    def sync(self, no: int, body: Mapping[str, Any]) -> None:
        """A whole meeting captured offline, in the order of the meeting, all or nothing (the caller
        runs it on a copy). Items whose client id is known write nothing."""
        meeting = self.meetings[no]
        if meeting.status == "closed":
            sent = {"opening_cash_cents": (body.get("opening_cash_cents"), meeting.opening),
                    "attendance": ({x["member_id"]: x["status"] for x in body["attendance"]}
                                   if body.get("attendance") is not None else None, meeting.attendance),
                    "attendance_signed_by_member_id": (body.get("attendance_signed_by_member_id"), meeting.signed_by),
                    "closing_cash_cents": (body.get("closing_cash_cents"), meeting.closing)}
            if any(value is not None and value != kept for value, kept in sent.values()):
                raise Refusal(409, "sync.differs_from_closed_meeting")
        else:
            if body.get("opening_cash_cents") is not None:
                self.open_meeting(no, body["opening_cash_cents"])
            if body.get("attendance") is not None:
                self.put_attendance(no, {x["member_id"]: x["status"] for x in body["attendance"]})
            if body.get("attendance_signed_by_member_id") is not None:
                self.sign(no, body["attendance_signed_by_member_id"])
        for x in body.get("deposits", []):
            self.deposit(no, x["id"], x["member_id"], x["amount_cents"], x["counted_by_member_id"],
                         x["witness_member_ids"])
        for x in body.get("loan_requests", []):
            self.request_loan(x["id"], x["member_id"], x["amount_cents"], x["term_meetings"])
        for x in body.get("loan_decisions", []):
            self.decide(x["loan_id"], no, {v["member_id"]: v["vote"] for v in x["votes"]}, x.get("interest_rate_bp"))
        for x in body.get("disbursements", []):
            self.disburse(x["id"], x["loan_id"], no, x["counted_by_member_id"], x["witness_member_ids"])
        for x in body.get("repayments", []):
            self.repay(x["id"], x["loan_id"], no, x["amount_cents"], x["counted_by_member_id"],
                       x["witness_member_ids"])
        if body.get("closing_cash_cents") is not None and meeting.status != "closed":
            self.close_meeting(no, body["closing_cash_cents"])
