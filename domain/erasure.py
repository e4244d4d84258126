"""The right to be forgotten (AVG): a departed member's personal fields become a pseudonym and their
account is closed, while every money entry and the hash chain stay exactly as they were (they refer to an
opaque id, never to a name), so the books still add up and still verify."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import errors as e
from domain.access import Actor, get_visible_group, require_role
from domain.audit import record_event
from domain.ledger import cycle_books
from domain.loan_status import OUTSTANDING_STATUSES
from domain.models import Cycle, CycleStatus, Loan, Member, RefreshToken, Role, User


def pseudonym(member_id: UUID) -> str:
    return "Oud-lid " + hashlib.sha256(member_id.bytes).hexdigest()[:8]


async def erase_member(db: AsyncSession, actor: Actor, member_id: UUID, now: datetime) -> Member:
    member = await db.get(Member, member_id, with_for_update=True)
    if member is None:
        raise e.ResourceNotFound()
    await get_visible_group(db, actor, member.group_id)  # 404 outside the admin's organisation
    require_role(actor, Role.ADMIN)
    if member.erased_at is not None:
        return member  # already forgotten: a retry
    if member.left_on is None:
        raise e.NotLeft()
    if (await db.execute(select(Loan.id).where(Loan.member_id == member.id,
                                               Loan.status.in_(OUTSTANDING_STATUSES)))).first():
        raise e.EraseMoneyOutstanding(what="loan")
    unclosed = (await db.execute(select(Cycle.id).where(Cycle.group_id == member.group_id,
                                                        Cycle.status != CycleStatus.CLOSED))).scalars()
    for cycle_id in unclosed:
        books, _ = await cycle_books(db, cycle_id)
        if member.id in books and books[member.id].saved_cents:
            raise e.EraseMoneyOutstanding(what="savings")
    member.display_name, member.phone, member.leave_reason = pseudonym(member.id), None, None
    member.erased_at, member.version = now, member.version + 1
    user = (await db.execute(select(User).where(User.member_id == member.id))).scalar_one_or_none()
    if user is not None:
        user.is_active = False
        user.email = f"erased-{user.id}@erased.invalid"
        user.display_name = member.display_name
        user.password_hash = "!" + secrets.token_hex(16)  # matches no password
        await db.execute(update(RefreshToken).where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                         .values(revoked_at=now, successor_sealed=None))
    await record_event(db, actor, "member.erased", "member", member.id, now)
    await db.flush()
    return member
