"""Admin-only: the audit trail and the right to be forgotten."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from api.controllers.common import Cursor, Limit
from api.schemas.common import Out, Page
from domain import audit, erasure
from domain.access import Actor
from domain.models import utcnow


class AuditLineOut(Out):
    at: datetime
    id: UUID
    actor_user_id: UUID | None
    action: str
    subject_type: str
    subject_id: UUID | None
    detail: str | None


class ErasedOut(Out):
    member_id: UUID
    display_name: str
    erased_at: datetime


class AdminController(Controller):
    tags = ["admin"]

    @get("/api/v1/audit", summary="Who recorded, reversed, decided and exported what (admin), oldest first")
    async def audit_trail(self, db: AsyncSession, actor: Actor, limit: Limit = 50,
                          cursor: Cursor = None) -> Page[AuditLineOut]:
        lines, next_cursor = await audit.trail(db, actor, cursor, limit)
        return Page(items=[AuditLineOut.model_validate(x) for x in lines], next_cursor=next_cursor)

    @post("/api/v1/members/{member_id:uuid}/erase", status_code=200,
          summary="Forget a member who left and owes and is owed nothing: personal fields become a pseudonym, "
                  "the account is closed; money entries and the hash chain stay intact")
    async def erase(self, member_id: UUID, db: AsyncSession, actor: Actor) -> ErasedOut:
        member = await erasure.erase_member(db, actor, member_id, utcnow())
        await db.commit()
        assert member.erased_at is not None
        return ErasedOut(member_id=member.id, display_name=member.display_name, erased_at=member.erased_at)
