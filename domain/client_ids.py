"""Client-made ids: a phone creates offline and retries. The same id with the same body answers the
existing row and writes nothing; the same id with another body is a conflict. Ids are forever."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import IdReused

T = TypeVar("T")


async def earlier(db: AsyncSession, model: type[T], row_id: UUID | None, same: Callable[[T], bool]) -> T | None:
    """The row made earlier with this client id, if it was made with the same body; IdReused otherwise."""
    if row_id is None:
        return None
    found = await db.get(model, row_id)
    if found is None:
        return None
    if not same(found):
        raise IdReused(id=str(row_id))
    return found


async def add_once(
    db: AsyncSession, row: Any, same: Callable[[Any], bool], *, client_made: bool = True
) -> tuple[Any, bool]:
    """Insert `row`; if a parallel request inserted the same id first, answer theirs (or IdReused).

    With a client-made id the insert runs in a savepoint so that losing the race does not spoil the
    request's transaction; an id the server made can't race, so it needs no savepoint (two round trips
    saved). Returns (row, created).
    """
    if not client_made:
        db.add(row)
        await db.flush()
        return row, True
    try:
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:
        found = await db.get(type(row), row.id, populate_existing=True)
        if found is None:
            raise
        if not same(found):
            raise IdReused(id=str(row.id)) from None
        return found, False
    return row, True
