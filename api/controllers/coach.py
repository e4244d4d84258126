"""The begeleider's overview: which group needs a visit now."""

from __future__ import annotations

import base64

from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from api.controllers.common import Cursor, Limit
from api.schemas.coach import (
    AttendanceSignalOut,
    CashSignalOut,
    CoachGroupOut,
    LoanSignalOut,
    MemberSignalOut,
    SessionSignalOut,
)
from api.schemas.common import Page
from domain import signals
from domain.access import Actor
from domain.errors import BadCursor
from domain.models import utcnow


def coach_group_out(s: signals.GroupSignals) -> CoachGroupOut:
    return CoachGroupOut(
        group_id=s.group_id, name=s.name, kind=s.kind, status=s.status, last_meeting_at=s.last_meeting_at,
        next_meeting_at=s.next_meeting_at,
        attendance=AttendanceSignalOut(recent_bp=s.attendance_recent_bp, earlier_bp=s.attendance_earlier_bp,
                                       trend_bp=s.attendance_trend_bp),
        meetings_missed=s.meetings_missed,
        cash=CashSignalOut(discrepancies=s.discrepancies, discrepancy_total_cents=s.discrepancy_total_cents,
                           opening_differences=s.opening_differences,
                           unsigned_presentielijsten=s.unsigned_presentielijsten),
        loans=LoanSignalOut(overdue=s.overdue_loans, overdue_cents=s.overdue_cents),
        roles_not_rotating=s.roles_not_rotating,
        members=MemberSignalOut(active=s.active_members, left_recently=s.members_left_recently),
        sessions=SessionSignalOut(held=s.sessions_held, cancelled=s.sessions_cancelled,
                                  attendance_per_session=s.session_attendance // s.sessions_held if s.sessions_held
                                  else None),
        needs_attention=s.needs_attention, attention_reasons=s.attention_reasons, attention_score=s.attention_score)


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise BadCursor() from None
    if offset < 0:
        raise BadCursor()
    return offset


class CoachController(Controller):
    path = "/api/v1/coach"
    tags = ["begeleiders"]

    @get("/groups", summary="The caller's groups with their signals, most in need of attention first")
    async def groups(self, db: AsyncSession, actor: Actor, limit: Limit = 50, cursor: Cursor = None) -> Page[CoachGroupOut]:
        ranked = await signals.coach_groups(db, actor, utcnow())
        start = _offset(cursor)
        page = ranked[start:start + limit]
        more = start + limit < len(ranked)
        next_cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode().rstrip("=") if more else None
        return Page(items=[coach_group_out(s) for s in page], next_cursor=next_cursor)
