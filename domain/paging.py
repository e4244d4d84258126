"""Keyset pagination: a stable order over unique keys, and an opaque cursor holding the last key."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from domain.errors import BadCursor

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, date | datetime) else str(v) if isinstance(v, UUID) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, keys: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    """The key values a cursor holds; BadCursor for anything `_encode` could not have made."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        return [_decode_value(key.type.python_type, value) for key, value in zip(keys, raw, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError):  # binascii.Error and JSONDecodeError are ValueErrors
        raise BadCursor() from None


def _decode_value(kind: type, value: object) -> Any:
    if kind in (UUID, datetime, date):
        if not isinstance(value, str):
            raise ValueError
        if kind is UUID:
            return UUID(value)
        if kind is datetime:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:  # _encode only writes aware datetimes
                raise ValueError
            return moment
        return date.fromisoformat(value)
    if type(value) is not kind:  # exact: a bool is no int, a float no int
        raise ValueError
    return value


async def paginate(
    db: AsyncSession, stmt: Select[tuple[T]], keys: Sequence[InstrumentedAttribute[Any]], cursor: str | None, limit: int
) -> Page[T]:
    """One page of `stmt` in the order of `keys` (ascending; the last key must be unique, e.g. the id)."""
    if cursor:
        stmt = stmt.where(tuple_(*keys) > tuple_(*_decode(cursor, keys)))
    rows = list((await db.execute(stmt.order_by(*keys).limit(limit + 1))).scalars())
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    return Page(rows, _encode([getattr(last, key.key) for key in keys]))
