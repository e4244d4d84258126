"""What a begeleider sees per group: signals, never amounts per member."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from api.schemas.common import Out


class AttendanceSignalOut(Out):
    recent_bp: int | None = Field(description="Present or late / on the roll, over the last 4 meetings (bp).")
    earlier_bp: int | None = Field(description="The same over the 4 meetings before those (bp).")
    trend_bp: int | None = Field(description="recent − earlier; negative means falling.")


class CashSignalOut(Out):
    discrepancies: int = Field(description="Closed meetings whose count differed, not explained or corrected since.")
    discrepancy_total_cents: int
    opening_differences: int = Field(description="Meetings whose opening count differed from the last closing.")
    unsigned_presentielijsten: int


class LoanSignalOut(Out):
    overdue: int
    overdue_cents: int


class MemberSignalOut(Out):
    active: int
    left_recently: int = Field(description="Members who left in the last 90 days.")


class SessionSignalOut(Out):
    held: int = Field(description="Luistergroep sessions with attendance recorded in the last 8 weeks.")
    cancelled: int
    attendance_per_session: int | None = Field(description="People per held session, rounded down.")


class CoachGroupOut(Out):
    group_id: UUID
    name: str
    kind: str
    status: str
    last_meeting_at: datetime | None
    next_meeting_at: datetime | None
    attendance: AttendanceSignalOut
    meetings_missed: int = Field(description="Meetings planned more than 2 days ago and never held.")
    cash: CashSignalOut
    loans: LoanSignalOut
    roles_not_rotating: list[str]
    members: MemberSignalOut
    sessions: SessionSignalOut
    needs_attention: bool
    attention_reasons: list[str]
    attention_score: int
