"""Request-scoped dependencies: one database session per request, and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request
from litestar.datastructures import State
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from api.auth import AccessClaims, caller_of, load_actor
from domain.access import Actor, Caller
from domain.database import read_only_options
from domain.errors import TokenMissing
from domain.models import IdempotencyKey, utcnow


@dataclass(slots=True)
class IdempotencyClaim:
    """Shared between the Idempotency-Key middleware and the request's session."""

    id: UUID
    committed: bool = False


READ_ONLY = {"read_only": True}  # route opt of a handler that only reads (see provide_db)


async def provide_db(state: State, request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """One session per request; closing it rolls back whatever the handler did not commit.

    A handler marked READ_ONLY reads without a write transaction: on PostgreSQL in autocommit (no BEGIN
    and ROLLBACK round trips; READ COMMITTED gives each statement its own snapshot either way), on SQLite
    in a deferred transaction (a reader does not wait for a writer, and sees one snapshot). Its session
    refuses to flush a change."""
    async with state.sessionmaker() as session:
        claim = request.scope.get("idempotency_claim")
        if claim is not None:
            session.info["idempotency_claim"] = claim
        if request.route_handler.opt.get("read_only"):
            session.info["read_only"] = True
            await session.connection(execution_options=read_only_options(state.engine.dialect.name))
        yield session


async def provide_actor(request: Request[Any, Any, Any], db: AsyncSession) -> Actor:
    return await load_actor(db, _claims(request))


def caller_from(request: Request[Any, Any, Any]) -> Caller:
    """The caller the token names, not yet confirmed: for a handler whose first statement reads the
    caller's users row itself (a deposit), one round trip less than `actor`. Not a dependency: Litestar
    resolves independent dependencies in an anyio task group, which costs more than this does."""
    return caller_of(_claims(request))


def _claims(request: Request[Any, Any, Any]) -> AccessClaims:
    claims = request.scope.get("user")
    if not isinstance(claims, AccessClaims):
        raise TokenMissing()
    return claims


@event.listens_for(Session, "before_commit")
def _mark_idempotency_claim(session: Session) -> None:
    """The request's writes and the note that they happened commit together, so a retry can tell a
    request that never committed (run it again) from one that did (never run it twice)."""
    claim = session.info.get("idempotency_claim")
    if session.in_nested_transaction():
        return  # SQLAlchemy also calls this when a savepoint is released: only the real commit counts
    if isinstance(claim, IdempotencyClaim) and not claim.committed:
        session.execute(update(IdempotencyKey).where(IdempotencyKey.id == claim.id).values(committed_at=utcnow()))


@event.listens_for(Session, "after_commit")
def _claim_committed(session: Session) -> None:
    claim = session.info.get("idempotency_claim")
    if isinstance(claim, IdempotencyClaim) and not session.in_nested_transaction():
        claim.committed = True


@event.listens_for(Session, "before_flush")
def _refuse_writes_when_read_only(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get("read_only") and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a handler marked READ_ONLY tried to write")
