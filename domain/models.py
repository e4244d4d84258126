"""The tables. SQLAlchemy 2 typed models; the schema itself is made only by Alembic migrations."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy import text as sa_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every engine (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), UUID: Uuid(), date: Date()}


class Role(enum.StrEnum):
    ADMIN = "admin"
    BEGELEIDER = "begeleider"
    FUNDER = "funder"
    MEMBER = "member"


class GroupKind(enum.StrEnum):
    SPAARKRING = "spaarkring"
    LUISTERGROEP = "luistergroep"


class GroupStatus(enum.StrEnum):
    BEGELEID = "begeleid"
    ZELFSTANDIG = "zelfstandig"
    GESTOPT = "gestopt"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, create_constraint=True)


class CycleStatus(enum.StrEnum):
    OPEN = "open"
    SHARING_OUT = "sharing_out"
    CLOSED = "closed"


class InterestDistribution(enum.StrEnum):
    PRO_RATA = "pro_rata"
    EQUAL = "equal"
    TIME_WEIGHTED = "time_weighted"


class CycleRole(enum.StrEnum):
    VOORZITTER = "voorzitter"
    BOEKHOUDER = "boekhouder"
    GELDTELLER = "geldteller"


class MeetingStatus(enum.StrEnum):
    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"


class AttendanceStatus(enum.StrEnum):
    PRESENT = "present"
    LATE = "late"
    EXCUSED = "excused"
    ABSENT = "absent"


class EntryKind(enum.StrEnum):
    DEPOSIT = "deposit"
    LOAN_DISBURSEMENT = "loan_disbursement"
    REPAYMENT_PRINCIPAL = "repayment_principal"
    REPAYMENT_INTEREST = "repayment_interest"
    EXIT_PAYOUT = "exit_payout"
    SHARE_OUT_SAVINGS = "share_out_savings"
    SHARE_OUT_INTEREST = "share_out_interest"


class LoanStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISBURSED = "disbursed"
    REPAID = "repaid"
    OVERDUE = "overdue"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    display_name: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[UUID | None] = mapped_column(ForeignKey("members.id", use_alter=True), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """An opaque refresh token, stored only as its hash. Tokens of one login form a family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    family_id: Mapped[UUID] = mapped_column(index=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The pair handed out when this token was rotated, encrypted, kept only for the grace window so a
    # phone whose response was lost gets the same pair again instead of losing its session.
    successor_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class LoginThrottle(Base):
    """Failed logins per email and per client address, shared by every worker."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "email:<sha256>" or "addr:<sha256>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))


class ProgrammeFunder(Base):
    __tablename__ = "programme_funders"

    programme_id: Mapped[UUID] = mapped_column(ForeignKey("programmes.id"), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    programme_id: Mapped[UUID | None] = mapped_column(ForeignKey("programmes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[GroupKind] = mapped_column(_enum(GroupKind, "group_kind"))
    status: Mapped[GroupStatus] = mapped_column(_enum(GroupStatus, "group_status"), default=GroupStatus.BEGELEID)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Amsterdam")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    stopped_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(Integer, default=1)  # raised by every edit; If-Match checks it


class GroupBegeleider(Base):
    __tablename__ = "group_begeleiders"

    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class Member(Base):
    """A person in a group. Needs no account and no phone; never deleted, only marked as left."""

    __tablename__ = "members"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    joined_on: Mapped[date]
    left_on: Mapped[date | None]
    leave_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)  # raised by every edit; If-Match checks it
    erased_at: Mapped[datetime | None]  # personal fields replaced by a pseudonym (AVG), money kept


class IdempotencyKey(Base):
    """A POST's Idempotency-Key, scoped to the caller, with the answer to replay. Kept 30 days."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    committed_at: Mapped[datetime | None]  # set inside the request's own transaction
    status_code: Mapped[int | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime]
    # held while the first request runs; a claim left by a worker that died before committing expires
    lease_until: Mapped[datetime]


class Cycle(Base):
    """One savings period of a spaarkring, from an empty box to the share-out. Its rules are columns."""

    __tablename__ = "cycles"
    __table_args__ = (
        UniqueConstraint("group_id", "number"),
        # one cycle per group that is not closed yet
        Index("uq_cycles_one_unclosed_per_group", "group_id", unique=True,
              sqlite_where=sa_text("status != 'closed'"), postgresql_where=sa_text("status != 'closed'")),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date]
    meeting_interval_days: Mapped[int] = mapped_column(Integer)
    planned_meetings: Mapped[int] = mapped_column(Integer)
    meeting_time: Mapped[str] = mapped_column(String(5), default="19:00")  # local wall-clock time, HH:MM
    min_deposit_cents: Mapped[int] = mapped_column(BigInteger)
    max_deposit_cents: Mapped[int] = mapped_column(BigInteger)
    max_loan_multiple: Mapped[int] = mapped_column(Integer)
    max_loan_term_meetings: Mapped[int] = mapped_column(Integer)
    default_interest_rate_bp: Mapped[int] = mapped_column(Integer)
    interest_distribution: Mapped[InterestDistribution] = mapped_column(
        _enum(InterestDistribution, "interest_distribution"))
    min_witnesses: Mapped[int] = mapped_column(Integer, default=2)
    approval_threshold_bp: Mapped[int] = mapped_column(Integer, default=5000)  # "for" must exceed this share
    leaver_interest_share: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[CycleStatus] = mapped_column(_enum(CycleStatus, "cycle_status"), default=CycleStatus.OPEN)
    # the chain's head: how many entries there are and the hash of the last (metadata, not a balance)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]


class RoleAssignment(Base):
    """Who holds a role from a meeting number on. Assignments with the same role and from_meeting_no
    form one slate (e.g. two geldtellers); a later slate of that role takes over from its meeting on."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("cycle_id", "role", "from_meeting_no", "member_id"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    cycle_id: Mapped[UUID] = mapped_column(ForeignKey("cycles.id"), index=True)
    member_id: Mapped[UUID] = mapped_column(ForeignKey("members.id"))
    role: Mapped[CycleRole] = mapped_column(_enum(CycleRole, "cycle_role"))
    from_meeting_no: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (
        UniqueConstraint("cycle_id", "meeting_no"),
        Index("uq_meetings_one_open_per_group", "group_id", unique=True,
              sqlite_where=sa_text("status = 'open'"), postgresql_where=sa_text("status = 'open'")),
        CheckConstraint("opening_cash_cents IS NULL OR opening_cash_cents >= 0", name="opening_not_negative"),
        CheckConstraint("closing_cash_cents IS NULL OR closing_cash_cents >= 0", name="closing_not_negative"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    cycle_id: Mapped[UUID] = mapped_column(ForeignKey("cycles.id"), index=True)
    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), index=True)
    meeting_no: Mapped[int] = mapped_column(Integer)
    scheduled_for: Mapped[datetime]
    theme: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus, "meeting_status"), default=MeetingStatus.PLANNED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime | None]
    opened_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    opening_cash_cents: Mapped[int | None] = mapped_column(BigInteger)
    # opening count minus the previous closing count: non-zero means the box was touched in between
    opening_difference_cents: Mapped[int | None] = mapped_column(BigInteger)
    signed_at: Mapped[datetime | None]
    signed_by_member_id: Mapped[UUID | None] = mapped_column(ForeignKey("members.id"))
    signed_recorded_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    closing_cash_cents: Mapped[int | None] = mapped_column(BigInteger)
    closing_counted_by_member_id: Mapped[UUID | None] = mapped_column(ForeignKey("members.id"))
    closing_witness_member_ids: Mapped[list[str] | None] = mapped_column(JSON)
    # what the books said when the box was closed, and counted minus that: the figure said in the room
    expected_cash_cents: Mapped[int | None] = mapped_column(BigInteger)
    discrepancy_cents: Mapped[int | None] = mapped_column(BigInteger)


class Attendance(Base):
    """The presentielijst. Locked once the voorzitter has signed; a walk-in is appended as late."""

    __tablename__ = "attendance"

    meeting_id: Mapped[UUID] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    member_id: Mapped[UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    status: Mapped[AttendanceStatus] = mapped_column(_enum(AttendanceStatus, "attendance_status"))
    recorded_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    after_signature: Mapped[bool] = mapped_column(Boolean, default=False)


class MeetingNote(Base):
    """An explanation of a closed meeting's cash discrepancy, written later; the meeting stays as it was."""

    __tablename__ = "meeting_notes"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    meeting_id: Mapped[UUID] = mapped_column(ForeignKey("meetings.id"), index=True)
    note: Mapped[str] = mapped_column(String(500))
    recorded_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Loan(Base):
    __tablename__ = "loans"
    __table_args__ = (CheckConstraint("principal_cents > 0", name="principal_positive"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    cycle_id: Mapped[UUID] = mapped_column(ForeignKey("cycles.id"), index=True)
    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), index=True)
    member_id: Mapped[UUID] = mapped_column(ForeignKey("members.id"), index=True)
    principal_cents: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str | None] = mapped_column(String(100))
    term_meetings: Mapped[int] = mapped_column(Integer)
    status: Mapped[LoanStatus] = mapped_column(_enum(LoanStatus, "loan_status"), default=LoanStatus.REQUESTED)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    decided_meeting_id: Mapped[UUID | None] = mapped_column(ForeignKey("meetings.id"))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    interest_rate_bp: Mapped[int | None] = mapped_column(Integer)
    interest_cents: Mapped[int | None] = mapped_column(BigInteger)
    disbursement_meeting_id: Mapped[UUID | None] = mapped_column(ForeignKey("meetings.id"))
    due_meeting_no: Mapped[int | None] = mapped_column(Integer)


class LoanVote(Base):
    __tablename__ = "loan_votes"

    loan_id: Mapped[UUID] = mapped_column(ForeignKey("loans.id"), primary_key=True)
    member_id: Mapped[UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    vote: Mapped[str] = mapped_column(String(10))


class LedgerEntry(Base):
    """One cash movement, witnessed at a meeting. Append-only: the database refuses UPDATE and DELETE.

    `amount_cents` is positive; a reversal carries the negated amount and points at what it reverses.
    Each entry is chained to the cycle's previous one: hash = sha256(previous hash + content).
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("cycle_id", "seq"),
        UniqueConstraint("reverses_id"),  # an entry is reversed at most once
        CheckConstraint("amount_cents != 0", name="amount_not_zero"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    cycle_id: Mapped[UUID] = mapped_column(ForeignKey("cycles.id"))
    seq: Mapped[int] = mapped_column(Integer)
    meeting_id: Mapped[UUID] = mapped_column(ForeignKey("meetings.id"), index=True)
    member_id: Mapped[UUID] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind, "entry_kind"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    counted_by_member_id: Mapped[UUID | None] = mapped_column(ForeignKey("members.id"))
    witness_member_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    loan_id: Mapped[UUID | None] = mapped_column(ForeignKey("loans.id"), index=True)
    reverses_id: Mapped[UUID | None] = mapped_column(ForeignKey("ledger_entries.id"))
    reason: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ShareOut(Base):
    """A finalised share-out and its calculation sheet, kept unchanged so the group can check and sign it."""

    __tablename__ = "share_outs"

    cycle_id: Mapped[UUID] = mapped_column(ForeignKey("cycles.id"), primary_key=True)
    meeting_id: Mapped[UUID] = mapped_column(ForeignKey("meetings.id"))
    interest_pool_cents: Mapped[int] = mapped_column(BigInteger)
    total_payout_cents: Mapped[int] = mapped_column(BigInteger)
    sheet: Mapped[dict[str, Any]] = mapped_column(JSON)
    sheet_hash: Mapped[str] = mapped_column(String(64))
    finalised_at: Mapped[datetime]
    finalised_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))


# --- luistergroepen: afspraken, session series, the few things stored per session, calendar feeds ---
class RsvpAnswer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"
    WAITLISTED = "waitlisted"


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class GroupAgreements(Base):
    """One version of a group's afspraken. A new list is a new version; earlier ones stay readable."""

    __tablename__ = "group_agreements"
    __table_args__ = (UniqueConstraint("group_id", "version"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[str]] = mapped_column(JSON)
    set_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime]


class SessionSeries(Base):
    """Recurring sessions of a luistergroep: an RFC 5545 rule, expanded in the series' zone when asked.

    Occurrences are never stored in advance. A series changed from a date on is split: it gets an UNTIL
    before that date (`ended_from_on`) and a new series of the same lineage continues. Session ids are
    derived from the lineage and the original start, so they stay the same across listings and splits.
    """

    __tablename__ = "session_series"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), index=True)
    lineage_id: Mapped[UUID]  # the first series of a chain of splits (its own id when never split)
    lineage_key: Mapped[int] = mapped_column(BigInteger, index=True)  # the 60 bits of lineage_id in session ids
    previous_series_id: Mapped[UUID | None] = mapped_column(ForeignKey("session_series.id"))
    rrule: Mapped[str] = mapped_column(String(500))  # normalised: UNTIL in UTC, as expanded and published
    timezone: Mapped[str] = mapped_column(String(64))  # the group's zone when the series was made
    starts_at: Mapped[datetime]  # the first occurrence; its local wall-clock time is every session's time
    duration_minutes: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(200))
    facilitator_user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    capacity: Mapped[int | None] = mapped_column(Integer)
    ended_from_on: Mapped[date | None]  # no sessions on or after this local date (ended or split)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SessionOccurrence(Base):
    """What must be remembered about one occurrence, stored only once there is something: a move, a
    cancellation (with a logistic reason), RSVPs or attendance. Its id is the derived session id."""

    __tablename__ = "session_occurrences"
    __table_args__ = (UniqueConstraint("series_id", "original_start"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    series_id: Mapped[UUID] = mapped_column(ForeignKey("session_series.id"), index=True)
    original_start: Mapped[datetime]
    starts_at: Mapped[datetime | None] = mapped_column(index=True)  # set when moved
    location: Mapped[str | None] = mapped_column(String(200))  # set when moved elsewhere
    status: Mapped[SessionStatus] = mapped_column(_enum(SessionStatus, "session_status"),
                                                  default=SessionStatus.SCHEDULED)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    changed_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SessionRsvp(Base):
    __tablename__ = "session_rsvps"

    session_id: Mapped[UUID] = mapped_column(ForeignKey("session_occurrences.id"), primary_key=True)
    member_id: Mapped[UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    answer: Mapped[RsvpAnswer] = mapped_column(_enum(RsvpAnswer, "rsvp_answer"))
    waitlist_seq: Mapped[int | None] = mapped_column(Integer)  # order on the waiting list
    answered_at: Mapped[datetime]
    recorded_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))


class SessionAttendance(Base):
    """Who came. Nothing else: not what was said, not who spoke."""

    __tablename__ = "session_attendance"

    session_id: Mapped[UUID] = mapped_column(ForeignKey("session_occurrences.id"), primary_key=True)
    member_id: Mapped[UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    recorded_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class CalendarFeed(Base):
    """A secret feed URL, stored only as the SHA-256 of its token: of one group, or of one user's groups."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (CheckConstraint("(group_id IS NULL) <> (user_id IS NULL)", name="one_owner"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    group_id: Mapped[UUID | None] = mapped_column(ForeignKey("groups.id"), unique=True)
    user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"), unique=True)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """Events that leave no other trace: exports, erasures. Money entries and loan decisions already say
    who recorded them and when; the audit trail reads those where they are."""

    __tablename__ = "audit_events"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[UUID | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
