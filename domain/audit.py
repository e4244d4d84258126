"""Who recorded, reversed, decided and exported what. Admins read it; nothing in it is personal beyond
the acting user's id and the opaque ids of what they acted on.

Money entries and loan decisions already carry who recorded them and when, so the trail reads those
where they are (never copied); events that leave no other trace (exports, erasures, accounts) are kept
in audit_events.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import String, case, cast, literal, null, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Actor, require_role
from domain.errors import BadCursor
from domain.models import AuditEvent, Cycle, Group, LedgerEntry, Loan, Role


async def record_event(db: AsyncSession, actor: Actor, action: str, subject_type: str, subject_id: UUID | None,
                       now: datetime, detail: dict[str, Any] | None = None) -> None:
    db.add(AuditEvent(id=uuid4(), organisation_id=actor.organisation_id, at=now, actor_user_id=actor.user_id,
                      action=action, subject_type=subject_type, subject_id=subject_id, detail=detail or {}))


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    id: UUID
    actor_user_id: UUID | None
    action: str
    subject_type: str
    subject_id: UUID | None
    detail: str | None


def _trail(organisation_id: UUID) -> Any:
    entries = (
        select(LedgerEntry.recorded_at.label("at"), LedgerEntry.id.label("id"),
               LedgerEntry.recorded_by.label("actor_user_id"),
               case((LedgerEntry.reverses_id.is_(None), literal("ledger.recorded")),
                    else_=literal("ledger.reversed")).label("action"),
               literal("ledger_entry").label("subject_type"), LedgerEntry.id.label("subject_id"),
               cast(LedgerEntry.kind, String(30)).label("detail"))
        .join(Cycle, Cycle.id == LedgerEntry.cycle_id).join(Group, Group.id == Cycle.group_id)
        .where(Group.organisation_id == organisation_id))
    decisions = (
        select(Loan.decided_at.label("at"), Loan.id.label("id"), Loan.decided_by.label("actor_user_id"),
               literal("loan.decided").label("action"), literal("loan").label("subject_type"),
               Loan.id.label("subject_id"), cast(Loan.status, String(30)).label("detail"))
        .join(Group, Group.id == Loan.group_id)
        .where(Group.organisation_id == organisation_id, Loan.decided_at.is_not(None)))
    events = (
        select(AuditEvent.at.label("at"), AuditEvent.id.label("id"), AuditEvent.actor_user_id.label("actor_user_id"),
               AuditEvent.action.label("action"), AuditEvent.subject_type.label("subject_type"),
               AuditEvent.subject_id.label("subject_id"), cast(null(), String(30)).label("detail"))
        .where(AuditEvent.organisation_id == organisation_id))
    return union_all(entries, decisions, events).subquery("trail")


def _cursor(line: AuditLine) -> str:
    raw = json.dumps([line.at.isoformat(), str(line.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, line_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError
        return when, UUID(line_id)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise BadCursor() from None


async def trail(db: AsyncSession, actor: Actor, cursor: str | None, limit: int) -> tuple[list[AuditLine], str | None]:
    """The organisation's trail, oldest first, paginated by (time, id)."""
    require_role(actor, Role.ADMIN)
    t = _trail(actor.organisation_id)
    stmt = select(t)
    if cursor:
        stmt = stmt.where(tuple_(t.c.at, t.c.id) > tuple_(*_after(cursor)))
    rows = (await db.execute(stmt.order_by(t.c.at, t.c.id).limit(limit + 1))).all()
    lines = [AuditLine(r.at, r.id, r.actor_user_id, r.action, r.subject_type, r.subject_id,
                       str(r.detail) if r.detail is not None else None) for r in rows[:limit]]
    return lines, (_cursor(lines[-1]) if len(rows) > limit else None)

