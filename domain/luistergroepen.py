"""Luistergroepen: the afspraken, session series, single sessions (moved or cancelled), RSVPs with a
capacity and a waiting list, and attendance.

Only what has to be remembered is stored: the series (a rule), and per occurrence only once there is
something to remember about it (a move, a cancellation, RSVPs, attendance). Occurrences come from
`domain.scheduling`; their ids are derived there, so a listing writes nothing.

Every write to a session locks its series row first (PostgreSQL: SELECT … FOR UPDATE; SQLite: the write
transaction is IMMEDIATE), so RSVPs for one session are serialised and the capacity holds under parallel
requests, and a split of the series can't race a change of one of its sessions.

What is said in a luistergroep is never stored: attendance is a set of member ids, nothing else, and no
body of any endpoint here has a field that could carry it.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import scheduling
from domain.access import Actor, get_visible_group, group_is_visible, require_may_manage_group
from domain.client_ids import add_once, earlier
from domain.errors import (
    BadCursor,
    ContinuationBeforeDate,
    DomainError,
    FacilitatorInvalid,
    GroupStopped,
    IdReused,
    NotACurrentMember,
    NotALuistergroep,
    NothingToContinue,
    ResourceNotFound,
    RsvpForSomeoneElse,
    SeriesAlreadyEnded,
    SessionAttendanceRecorded,
    SessionCancelled,
    SessionFull,
    SessionNotStarted,
    SplitTouchesPast,
    WindowInvalid,
)
from domain.groups import check_versions
from domain.models import (
    Group,
    GroupAgreements,
    GroupKind,
    GroupStatus,
    Member,
    Role,
    RsvpAnswer,
    SessionAttendance,
    SessionOccurrence,
    SessionRsvp,
    SessionSeries,
    SessionStatus,
    User,
)
from domain.paging import Page, paginate


def require_luistergroep(group: Group) -> None:
    if group.kind != GroupKind.LUISTERGROEP:
        raise NotALuistergroep()


# --- afspraken ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Agreements:
    group_id: UUID
    version: int  # 0: none set yet
    items: list[str]
    set_by: UUID | None
    set_at: datetime | None

    @classmethod
    def of(cls, row: GroupAgreements) -> Agreements:
        return cls(row.group_id, row.version, list(row.items), row.set_by, row.set_at)


async def _latest_agreements(db: AsyncSession, group_id: UUID) -> Agreements:
    row = (await db.execute(select(GroupAgreements).where(GroupAgreements.group_id == group_id)
                            .order_by(GroupAgreements.version.desc()).limit(1))).scalar_one_or_none()
    return Agreements.of(row) if row is not None else Agreements(group_id, 0, [], None, None)


async def current_agreements(db: AsyncSession, actor: Actor, group_id: UUID) -> Agreements:
    group = await get_visible_group(db, actor, group_id)
    return await _latest_agreements(db, group.id)


async def set_agreements(
    db: AsyncSession, actor: Actor, group_id: UUID, items: Sequence[str], versions: Iterable[int], now: datetime
) -> tuple[Agreements, bool]:
    """Replace the afspraken. The list before stays readable as an earlier version. Returns (current, changed)."""
    group = await get_visible_group(db, actor, group_id, for_update=True)  # serialises versions per group
    require_may_manage_group(actor)
    require_luistergroep(group)
    current = await _latest_agreements(db, group.id)
    if current.items == list(items):
        return current, False  # the same list again (a retry): no new version
    check_versions(current.version, versions)
    if group.status == GroupStatus.GESTOPT:
        raise GroupStopped()
    row = GroupAgreements(id=uuid4(), group_id=group.id, version=current.version + 1, items=list(items),
                          set_by=actor.user_id, set_at=now)
    db.add(row)
    await db.flush()
    return Agreements.of(row), True


async def agreements_history(
    db: AsyncSession, actor: Actor, group_id: UUID, cursor: str | None, limit: int
) -> Page[GroupAgreements]:
    group = await get_visible_group(db, actor, group_id)
    stmt = select(GroupAgreements).where(GroupAgreements.group_id == group.id)
    return await paginate(db, stmt, [GroupAgreements.version], cursor, limit)


# --- series ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewSeries:
    rrule: str
    starts_at: datetime
    duration_minutes: int
    location: str
    facilitator_user_id: UUID
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class SeriesChange:
    """What changes from a date on; None keeps the old series' value (capacity: see `capacity_given`)."""

    rrule: str | None = None
    starts_at: datetime | None = None
    duration_minutes: int | None = None
    location: str | None = None
    facilitator_user_id: UUID | None = None
    capacity: int | None = None
    capacity_given: bool = False


def lineage_key_of(lineage_id: UUID) -> int:
    """Derived with a hash, so a client choosing series ids can't aim at another lineage's session ids."""
    return int.from_bytes(hashlib.blake2b(lineage_id.bytes, digest_size=8).digest(), "big") >> 4


def _normalised(text: str, starts_at: datetime, timezone: str) -> str | None:
    try:
        return scheduling.parse_rule(text, starts_at, timezone).text
    except DomainError:
        return None


async def _check_facilitator(db: AsyncSession, actor: Actor, user_id: UUID) -> None:
    found = (await db.execute(select(User.id).where(
        User.id == user_id, User.organisation_id == actor.organisation_id,
        User.role.in_([Role.BEGELEIDER, Role.ADMIN]), User.is_active.is_(True)))).first()
    if found is None:
        raise FacilitatorInvalid(user_id=str(user_id))


async def create_series(
    db: AsyncSession, actor: Actor, group_id: UUID, new: NewSeries, *, series_id: UUID | None, now: datetime
) -> tuple[SessionSeries, bool]:
    group = await get_visible_group(db, actor, group_id)  # 404 before 403
    require_may_manage_group(actor)
    starts_at = new.starts_at.astimezone(UTC) if new.starts_at.tzinfo else new.starts_at

    def same(series: SessionSeries) -> bool:
        return (series.group_id, series.previous_series_id, series.starts_at, series.duration_minutes,
                series.location, series.facilitator_user_id, series.capacity) == (
            group.id, None, starts_at, new.duration_minutes, new.location, new.facilitator_user_id, new.capacity,
        ) and series.rrule == _normalised(new.rrule, new.starts_at, series.timezone)

    if (found := await earlier(db, SessionSeries, series_id, same)) is not None:
        return found, False
    require_luistergroep(group)
    if group.status == GroupStatus.GESTOPT:
        raise GroupStopped()
    rule = scheduling.parse_rule(new.rrule, new.starts_at, group.timezone)
    await _check_facilitator(db, actor, new.facilitator_user_id)
    new_id = series_id or uuid4()
    series = SessionSeries(
        id=new_id, group_id=group.id, lineage_id=new_id, lineage_key=lineage_key_of(new_id), previous_series_id=None,
        rrule=rule.text, timezone=group.timezone, starts_at=starts_at, duration_minutes=new.duration_minutes,
        location=new.location, facilitator_user_id=new.facilitator_user_id, capacity=new.capacity,
        ended_from_on=None, created_at=now, created_by=actor.user_id, changed_at=now, version=1,
    )
    return await add_once(db, series, same)


async def _visible_series(
    db: AsyncSession, actor: Actor, series_id: UUID, *, for_update: bool = False
) -> SessionSeries:
    stmt = (select(SessionSeries).join(Group, Group.id == SessionSeries.group_id)
            .where(SessionSeries.id == series_id, group_is_visible(actor)))
    if for_update:
        stmt = stmt.with_for_update(of=SessionSeries).execution_options(populate_existing=True)
    series = (await db.execute(stmt)).scalar_one_or_none()
    if series is None:
        raise ResourceNotFound()
    return series


async def get_series(db: AsyncSession, actor: Actor, series_id: UUID) -> SessionSeries:
    return await _visible_series(db, actor, series_id)


async def list_series(
    db: AsyncSession, actor: Actor, group_id: UUID, cursor: str | None, limit: int
) -> Page[SessionSeries]:
    group = await get_visible_group(db, actor, group_id)
    stmt = select(SessionSeries).where(SessionSeries.group_id == group.id)
    return await paginate(db, stmt, [SessionSeries.starts_at, SessionSeries.id], cursor, limit)


@dataclass(slots=True)
class SeriesEnd:
    """A series ended (or split) from a date: the sessions from then on that were dropped with the stored
    things about them (RSVPs, a move), so the app can tell the people concerned; and those kept."""

    series: SessionSeries
    continuation: SessionSeries | None = None
    dropped_session_ids: list[UUID] = field(default_factory=list)
    kept_session_ids: list[UUID] = field(default_factory=list)


async def _stored_from(db: AsyncSession, series_id: UUID, cut: datetime) -> list[SessionOccurrence]:
    return list((await db.execute(select(SessionOccurrence).where(
        SessionOccurrence.series_id == series_id, SessionOccurrence.original_start >= cut)
        .order_by(SessionOccurrence.original_start))).scalars())


async def _check_nothing_begun(db: AsyncSession, first_after_cut: datetime, stored: list[SessionOccurrence],
                               now: datetime) -> None:
    """Ending or changing a series from a date never touches a session that has begun."""
    begun = [first_after_cut] if first_after_cut <= now else []
    begun += [row.starts_at for row in stored if row.starts_at is not None and row.starts_at <= now]
    attended = (await db.execute(select(SessionAttendance.session_id).where(
        SessionAttendance.session_id.in_([row.id for row in stored])).limit(1))).first() if stored else None
    if begun or attended is not None:
        raise SplitTouchesPast(first_session_at=min(begun).isoformat() if begun else None)


async def _drop(db: AsyncSession, session_ids: list[UUID]) -> None:
    if not session_ids:
        return
    await db.execute(delete(SessionRsvp).where(SessionRsvp.session_id.in_(session_ids)))
    await db.execute(delete(SessionAttendance).where(SessionAttendance.session_id.in_(session_ids)))
    await db.execute(delete(SessionOccurrence).where(SessionOccurrence.id.in_(session_ids)))


def _end_before(series: SessionSeries, from_on: date, now: datetime) -> None:
    cut = scheduling.cut_instant(from_on, series.timezone)
    series.rrule = scheduling.rule_ending_before(series.rrule, cut)
    series.ended_from_on = from_on
    series.version += 1
    series.changed_at = now


async def end_series(
    db: AsyncSession, actor: Actor, series_id: UUID, from_on: date, versions: Iterable[int], now: datetime
) -> SeriesEnd:
    """No more sessions from `from_on` (a local date) on. Sessions before it stay exactly as they were."""
    series = await _visible_series(db, actor, series_id, for_update=True)  # 404 before 403
    require_may_manage_group(actor)
    if series.ended_from_on == from_on:
        return SeriesEnd(series)  # a retry of the same end
    check_versions(series.version, versions)
    cut = scheduling.cut_instant(from_on, series.timezone)
    rule = scheduling.compile_rule(series.rrule, series.starts_at, series.timezone)
    first_after = scheduling.first_on_or_after(rule, series.timezone, cut)
    if first_after is None:
        raise SeriesAlreadyEnded(ended_from_on=series.ended_from_on.isoformat() if series.ended_from_on else None)
    stored = await _stored_from(db, series.id, cut)
    await _check_nothing_begun(db, first_after, stored, now)
    _end_before(series, from_on, now)
    dropped = [row.id for row in stored]
    await _drop(db, dropped)
    await db.flush()
    return SeriesEnd(series, dropped_session_ids=dropped)


async def split_series(
    db: AsyncSession, actor: Actor, series_id: UUID, from_on: date, change: SeriesChange, *,
    new_id: UUID | None, versions: Iterable[int], now: datetime,
) -> tuple[SeriesEnd, bool]:
    """Change a series from a date on: the series ends before `from_on` and a continuation (same
    lineage, so the same session ids where the time stays the same) carries on with the change.
    Stored sessions from the date on move to the continuation when it has the same occurrence, and are
    dropped (reported) when it has not. Returns (result, created)."""

    def same(found: SessionSeries) -> bool:
        given = {name: value for name, value in (
            ("starts_at", change.starts_at.astimezone(UTC) if change.starts_at else None),
            ("duration_minutes", change.duration_minutes), ("location", change.location),
            ("facilitator_user_id", change.facilitator_user_id)) if value is not None}
        if change.capacity_given:
            given["capacity"] = change.capacity
        if change.rrule is not None:
            given["rrule"] = _normalised(change.rrule, found.starts_at, found.timezone)
        return found.previous_series_id == series_id and all(getattr(found, k) == v for k, v in given.items())

    if new_id is not None and (found := await db.get(SessionSeries, new_id)) is not None:
        old = await _visible_series(db, actor, series_id)  # 404 before 403, also for a retry
        require_may_manage_group(actor)
        found = await _visible_series(db, actor, new_id)
        if same(found) and old.ended_from_on == from_on:
            return SeriesEnd(old, found), False
        raise IdReused(id=str(new_id))
    old = await _visible_series(db, actor, series_id, for_update=True)  # 404 before 403
    require_may_manage_group(actor)
    check_versions(old.version, versions)
    group = await db.get(Group, old.group_id)
    assert group is not None
    if group.status == GroupStatus.GESTOPT:
        raise GroupStopped()
    zone = old.timezone
    cut = scheduling.cut_instant(from_on, zone)
    old_rule = scheduling.compile_rule(old.rrule, old.starts_at, zone)
    first_after = scheduling.first_on_or_after(old_rule, zone, cut)
    if first_after is None:
        raise SeriesAlreadyEnded(ended_from_on=old.ended_from_on.isoformat() if old.ended_from_on else None)
    stored = await _stored_from(db, old.id, cut)
    await _check_nothing_begun(db, first_after, stored, now)
    starts_at = change.starts_at.astimezone(UTC) if change.starts_at is not None else first_after
    if starts_at < cut:
        raise ContinuationBeforeDate(from_on=from_on.isoformat())
    text = change.rrule
    if text is None:
        text = old.rrule
        if (count := scheduling.rule_count(old.rrule)) is not None:
            remaining = count - scheduling.count_before(old_rule, zone, old.starts_at, cut)
            if remaining < 1:
                raise NothingToContinue()
            text = scheduling.rule_with_count(old.rrule, remaining)
    rule = scheduling.parse_rule(text, starts_at, zone)
    facilitator = change.facilitator_user_id or old.facilitator_user_id
    if facilitator != old.facilitator_user_id:
        await _check_facilitator(db, actor, facilitator)
    continuation = SessionSeries(
        id=new_id or uuid4(), group_id=old.group_id, lineage_id=old.lineage_id, lineage_key=old.lineage_key,
        previous_series_id=old.id, rrule=rule.text, timezone=zone, starts_at=starts_at,
        duration_minutes=change.duration_minutes or old.duration_minutes, location=change.location or old.location,
        facilitator_user_id=facilitator, capacity=change.capacity if change.capacity_given else old.capacity,
        ended_from_on=None, created_at=now, created_by=actor.user_id, changed_at=now, version=1,
    )
    _end_before(old, from_on, now)
    db.add(continuation)
    await db.flush()
    new_rule = scheduling.compile_rule(continuation.rrule, continuation.starts_at, zone)
    result = SeriesEnd(old, continuation)
    for row in stored:
        if scheduling.is_occurrence(new_rule, zone, row.original_start):
            row.series_id = continuation.id
            result.kept_session_ids.append(row.id)
        else:
            result.dropped_session_ids.append(row.id)
    await db.flush()
    await _drop(db, result.dropped_session_ids)
    for session_id in result.kept_session_ids:  # a larger capacity lets the waiting list move up
        rsvps = await _rsvps(db, session_id)
        _promote(rsvps, continuation.capacity)
    await db.flush()
    return result, True


# --- sessions ----------------------------------------------------------------------------------------
class Session:
    """One occurrence: from the series, with what is stored about it (if anything) applied. Its id is
    derived when first asked for (a listing sorts and pages without needing it)."""

    __slots__ = ("series", "original_start", "row", "counts", "_id")

    def __init__(self, series: SessionSeries, original_start: datetime, row: Any = None,
                 session_id: UUID | None = None) -> None:
        # series and row: ORM objects, or plain rows with their columns (a listing only reads them)
        self.series = series
        self.original_start = original_start
        self.row = row
        self.counts: dict[str, int] | None = None  # RSVPs per answer, once counted
        self._id = session_id

    @property
    def id(self) -> UUID:
        if self._id is None:
            self._id = scheduling.session_id(self.series.lineage_key, self.original_start)
        return self._id

    @property
    def order(self) -> tuple[datetime, int, datetime]:
        """The listing's order: by start; the lineage and the original start make it total."""
        return self.starts_at, self.series.lineage_key, self.original_start

    @property
    def starts_at(self) -> datetime:
        return self.row.starts_at if self.row is not None and self.row.starts_at is not None else self.original_start

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.series.duration_minutes)

    @property
    def location(self) -> str:
        return self.row.location if self.row is not None and self.row.location is not None else self.series.location

    @property
    def status(self) -> SessionStatus:
        return self.row.status if self.row is not None else SessionStatus.SCHEDULED

    @property
    def cancel_reason(self) -> str | None:
        return self.row.cancel_reason if self.row is not None else None

    @property
    def moved(self) -> bool:
        return self.row is not None and (self.row.starts_at is not None or self.row.location is not None)

    @property
    def version(self) -> int:
        return self.row.version if self.row is not None else 1


def check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise WindowInvalid(reason="offset", max_days=scheduling.MAX_WINDOW.days)
    if end <= start:
        raise WindowInvalid(reason="order", max_days=scheduling.MAX_WINDOW.days)
    if end - start > scheduling.MAX_WINDOW:
        raise WindowInvalid(reason="too_long", max_days=scheduling.MAX_WINDOW.days)


# (start, lineage key, original start, index of the series, stored row or None): the listing's order.
Entry = tuple[datetime, int, datetime, int, Any]


def merged_order(series_list: Sequence[SessionSeries], rows: Iterable[Any], start: datetime,
                 end: datetime) -> list[Entry]:
    """The sessions whose (possibly moved) start lies in [start, end): expanded, then exceptions applied,
    in the listing's order (start, lineage key, original start). `rows` are the stored occurrences of
    these series whose original or moved start lies in the window (ORM objects or plain rows).

    Entries are appended series by series in (lineage key, first start) order, each series' by original
    start, so one stable sort on the start alone (in C, no tuple comparisons) gives the full order."""
    stored: dict[UUID, dict[datetime, Any]] = {}
    for row in rows:
        stored.setdefault(row.series_id, {})[row.original_start] = row
    found: list[Entry] = []
    blocks = sorted(range(len(series_list)), key=lambda i: (series_list[i].lineage_key, series_list[i].starts_at))
    for index in blocks:
        series = series_list[index]
        rule = scheduling.compile_rule(series.rrule, series.starts_at, series.timezone)
        key = series.lineage_key
        originals = scheduling.expand(rule, series.timezone, start, end)
        own = stored.get(series.id)
        if not own:  # nearly every series: nothing stored in this window
            found.extend([(original, key, original, index, None) for original in originals])
            continue
        moved_in = sorted((original, row) for original, row in own.items()  # into the window from outside
                          if not start <= original < end and row.starts_at is not None
                          and start <= row.starts_at < end)
        found.extend((row.starts_at, key, original, index, row) for original, row in moved_in if original < start)
        for original in originals:
            row = own.get(original)
            if row is None:
                found.append((original, key, original, index, None))
                continue
            effective = row.starts_at or original
            if start <= effective < end:  # moved out of the window: not here
                found.append((effective, key, original, index, row))
        found.extend((row.starts_at, key, original, index, row) for original, row in moved_in if original >= end)
    found.sort(key=itemgetter(0))
    return found


def sessions_of(series_list: Sequence[SessionSeries], entries: Iterable[Entry]) -> list[Session]:
    return [Session(series_list[index], original, row) for _, _, original, index, row in entries]


def merge_sessions(series_list: Sequence[SessionSeries], rows: Iterable[Any], start: datetime,
                   end: datetime) -> list[Session]:
    return sessions_of(series_list, merged_order(series_list, rows, start, end))


def _stored_in_window(series_ids: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    """Stored occurrences of these series whose original or moved start lies in the window."""
    return and_(SessionOccurrence.series_id.in_(series_ids),
                or_(SessionOccurrence.original_start.between(start, end),
                    SessionOccurrence.starts_at.between(start, end)))


_STORED_COLUMNS = (SessionOccurrence.id, SessionOccurrence.series_id, SessionOccurrence.original_start,
                   SessionOccurrence.starts_at, SessionOccurrence.location, SessionOccurrence.status,
                   SessionOccurrence.cancel_reason, SessionOccurrence.version)
_SERIES_COLUMNS = (SessionSeries.id, SessionSeries.group_id, SessionSeries.lineage_key, SessionSeries.rrule,
                   SessionSeries.timezone, SessionSeries.starts_at, SessionSeries.duration_minutes,
                   SessionSeries.location, SessionSeries.facilitator_user_id, SessionSeries.capacity)


def _rsvps_answering(answer: RsvpAnswer) -> Any:
    return (select(func.count()).select_from(SessionRsvp)
            .where(SessionRsvp.session_id == SessionOccurrence.id, SessionRsvp.answer == answer)
            .correlate(SessionOccurrence).scalar_subquery().label(f"n_{answer.value}"))


async def _stored_rows(db: AsyncSession, within: ColumnElement[bool]) -> list[Any]:
    """Plain rows (not ORM objects: a listing only reads them) with what a session shows, and the RSVP
    counts per answer (`n_yes`, …) in the same statement: correlated counts, each an index range scan
    (a join to a grouped subquery got a quadratic plan from PostgreSQL while the tables had no
    statistics yet)."""
    return list(await db.execute(select(*_STORED_COLUMNS, *(_rsvps_answering(a) for a in RsvpAnswer)).where(within)))


def _counts_of(row: Any) -> dict[str, int] | None:
    counts = {answer.value: getattr(row, f"n_{answer.value}") or 0 for answer in RsvpAnswer}
    return {answer: n for answer, n in counts.items() if n}


async def _series_rows(db: AsyncSession, group_id: UUID) -> list[Any]:
    """A group's series as plain rows (a listing only reads them), with what a session shows."""
    return list(await db.execute(select(*_SERIES_COLUMNS).where(SessionSeries.group_id == group_id)
                                 .order_by(SessionSeries.id)))


async def sessions_between(db: AsyncSession, series_list: Sequence[SessionSeries], start: datetime,
                           end: datetime) -> list[Session]:
    """The sessions of these series in [start, end), in the listing's order."""
    if not series_list:
        return []
    rows = await _stored_rows(db, _stored_in_window([series.id for series in series_list], start, end))
    with scheduling.collector_paused():
        return merge_sessions(series_list, rows, start, end)


async def _count_into(db: AsyncSession, sessions: Sequence[Session], which: ColumnElement[bool]) -> None:
    rows = await db.execute(select(SessionRsvp.session_id, SessionRsvp.answer, func.count())
                            .where(which).group_by(SessionRsvp.session_id, SessionRsvp.answer))
    counts: dict[UUID, dict[str, int]] = {}
    for session_id, answer, count in rows:
        counts.setdefault(session_id, {})[RsvpAnswer(answer).value] = count
    if counts:
        for session in sessions:
            if session.row is not None:
                session.counts = counts.get(session.id, session.counts)


async def count_rsvps(db: AsyncSession, sessions: Sequence[Session]) -> None:
    """RSVP counts per answer for these sessions (only stored ones can have any)."""
    stored = [s.id for s in sessions if s.row is not None]
    if stored:
        await _count_into(db, sessions, SessionRsvp.session_id.in_(stored))


def _encode_cursor(session: Session) -> str:
    moment, key, original = session.order
    raw = json.dumps([moment.isoformat(), key, original.isoformat()], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int, datetime]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != 3 or type(raw[1]) is not int:
            raise ValueError
        moment, original = datetime.fromisoformat(raw[0]), datetime.fromisoformat(raw[2])
        if moment.tzinfo is None or original.tzinfo is None:
            raise ValueError
        return moment, raw[1], original
    except (ValueError, TypeError, UnicodeDecodeError):
        raise BadCursor() from None


DEFAULT_WINDOW = timedelta(days=31)


async def list_sessions(
    db: AsyncSession, actor: Actor, group_id: UUID, start: datetime | None, end: datetime | None,
    cursor: str | None, limit: int, *, now: datetime,
) -> Page[Session]:
    """The sessions in [start, end), at most a year; without a window, the coming 31 days. The whole
    window is expanded (dateutil walks every rule from its first start anyway), but sessions, ids and
    counts are made only for the page handed out."""
    group = await get_visible_group(db, actor, group_id)
    start = start or now
    end = end or (start + DEFAULT_WINDOW if start.tzinfo else start)
    check_window(start, end)
    after = _decode_cursor(cursor) if cursor else None
    low, high = start.astimezone(UTC), end.astimezone(UTC)
    if after is not None:  # a later page: nothing before the last session of the previous one is needed
        low = min(max(low, after[0]), high)
    if low >= high:
        return Page([], None)
    series_list = await _series_rows(db, group.id)
    within = _stored_in_window(select(SessionSeries.id).where(SessionSeries.group_id == group.id), low, high)
    rows = await _stored_rows(db, within) if series_list else []
    with scheduling.collector_paused():
        entries = merged_order(series_list, rows, low, high)
        first = bisect.bisect_right(entries, after, key=lambda e: (e[0], e[1], e[2])) if after is not None else 0
        chunk = entries[first:first + limit]
        page = sessions_of(series_list, chunk)
        for session, session_id in zip(page, scheduling.session_ids((e[1], e[2]) for e in chunk), strict=True):
            session._id = session_id  # the ids handed out with this page
            if session.row is not None:
                session.counts = _counts_of(session.row)
    more = len(entries) > first + limit
    return Page(page, _encode_cursor(page[-1]) if more else None)


async def resolve_session(db: AsyncSession, actor: Actor, session_id: UUID, *, for_update: bool = False) -> Session:
    """The session behind an id: decode it, find its series among the caller's groups (one indexed
    lookup), check the start is an occurrence. For a write, the series row is locked first."""
    decoded = scheduling.decode_session_id(session_id)
    if decoded is None:
        raise ResourceNotFound()
    key, original = decoded
    stmt = (select(SessionSeries).join(Group, Group.id == SessionSeries.group_id)
            .where(SessionSeries.lineage_key == key, group_is_visible(actor)).order_by(SessionSeries.id))
    if for_update:
        stmt = stmt.with_for_update(of=SessionSeries).execution_options(populate_existing=True)
    for series in (await db.execute(stmt)).scalars():
        rule = scheduling.compile_rule(series.rrule, series.starts_at, series.timezone)
        if scheduling.session_id(series.lineage_key, original) == session_id and scheduling.is_occurrence(
                rule, series.timezone, original):
            row = await db.get(SessionOccurrence, session_id, populate_existing=for_update)
            if row is not None and row.series_id != series.id:
                raise ResourceNotFound()
            return Session(series, original, row, session_id)
    raise ResourceNotFound()


async def _stored(db: AsyncSession, session: Session, now: datetime) -> SessionOccurrence:
    if session.row is None:
        session.row = SessionOccurrence(id=session.id, series_id=session.series.id,
                                        original_start=session.original_start, status=SessionStatus.SCHEDULED,
                                        created_at=now, version=1)
        db.add(session.row)
        await db.flush()
    return session.row


@dataclass(frozen=True, slots=True)
class SessionChange:
    starts_at: datetime | None = None
    location: str | None = None
    status: SessionStatus | None = None
    reason: str | None = None


async def _has_attendance(db: AsyncSession, session_id: UUID) -> bool:
    return (await db.execute(select(SessionAttendance.member_id).where(
        SessionAttendance.session_id == session_id).limit(1))).first() is not None


async def change_session(
    db: AsyncSession, actor: Actor, session_id: UUID, change: SessionChange, versions: Iterable[int], now: datetime
) -> Session:
    """Move one occurrence (start, place) or cancel it with a reason (logistics only), or reinstate it.
    It keeps its id. Other occurrences of the series are untouched."""
    session = await resolve_session(db, actor, session_id, for_update=True)  # 404 before 403
    require_may_manage_group(actor)
    check_versions(session.version, versions)
    row = session.row
    if change.status == SessionStatus.CANCELLED:
        if row is not None and row.status == SessionStatus.CANCELLED and row.cancel_reason == change.reason:
            return session  # a retry
        if await _has_attendance(db, session_id):
            raise SessionAttendanceRecorded()
        row = await _stored(db, session, now)
        row.status, row.cancel_reason = SessionStatus.CANCELLED, change.reason
    else:
        reinstated = change.status == SessionStatus.SCHEDULED and session.status == SessionStatus.CANCELLED
        if session.status == SessionStatus.CANCELLED and not reinstated:
            raise SessionCancelled()
        wanted_start = change.starts_at.astimezone(UTC) if change.starts_at is not None else session.starts_at
        wanted_location = change.location if change.location is not None else session.location
        if (wanted_start, wanted_location) == (session.starts_at, session.location) and not reinstated:
            return session  # nothing changes (also a retry)
        if change.starts_at is not None:
            scheduling.check_start(change.starts_at)
        row = await _stored(db, session, now)
        if reinstated:
            row.status, row.cancel_reason = SessionStatus.SCHEDULED, None
        row.starts_at = None if wanted_start == session.original_start else wanted_start
        row.location = None if wanted_location == session.series.location else wanted_location
    row.changed_by, row.changed_at = actor.user_id, now
    row.version += 1
    await db.flush()
    return session


async def get_session(db: AsyncSession, actor: Actor, session_id: UUID) -> Session:
    session = await resolve_session(db, actor, session_id)
    await count_rsvps(db, [session])
    return session


@dataclass(frozen=True, slots=True)
class SessionPeople:
    """Who answered and who came. A member with an account sees only their own line."""

    rsvps: list[tuple[UUID, RsvpAnswer, int | None]]  # (member, answer, place on the waiting list)
    present_member_ids: list[UUID]


async def session_people(db: AsyncSession, actor: Actor, session: Session) -> SessionPeople:
    if session.row is None:
        return SessionPeople([], [])
    rsvps = await _rsvps(db, session.id)
    places = _places(rsvps)
    present = sorted((await db.execute(select(SessionAttendance.member_id).where(
        SessionAttendance.session_id == session.id))).scalars(), key=str)
    own_only = actor.role == Role.MEMBER
    lines = [(m, r.answer, places.get(m)) for m, r in sorted(rsvps.items(), key=lambda item: str(item[0]))
             if not own_only or m == actor.member_id]
    return SessionPeople(lines, [m for m in present if not own_only or m == actor.member_id])


async def _current_members(db: AsyncSession, group_id: UUID, on: date, wanted: Iterable[UUID]) -> None:
    wanted = set(wanted)
    if not wanted:
        return
    rows = await db.execute(select(Member.id, Member.joined_on, Member.left_on).where(
        Member.group_id == group_id, Member.id.in_(wanted)))
    current = {m for m, joined_on, left_on in rows if joined_on <= on and (left_on is None or left_on > on)}
    if strangers := sorted(str(m) for m in wanted - current):
        raise NotACurrentMember(member_ids=strangers)


def _local_date(session: Session) -> date:
    return session.starts_at.astimezone(scheduling.zone(session.series.timezone)).date()


# --- RSVPs -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rsvp:
    session_id: UUID
    member_id: UUID
    answer: RsvpAnswer
    waitlist_place: int | None
    promoted_member_ids: list[UUID]
    seats_left: int | None


async def _rsvps(db: AsyncSession, session_id: UUID) -> dict[UUID, SessionRsvp]:
    return {r.member_id: r for r in (await db.execute(select(SessionRsvp).where(
        SessionRsvp.session_id == session_id))).scalars()}


def _places(rsvps: dict[UUID, SessionRsvp]) -> dict[UUID, int]:
    waiting = sorted((r for r in rsvps.values() if r.answer == RsvpAnswer.WAITLISTED),
                     key=lambda r: (r.waitlist_seq or 0, str(r.member_id)))
    return {r.member_id: place for place, r in enumerate(waiting, start=1)}


def _yes_count(rsvps: dict[UUID, SessionRsvp]) -> int:
    return sum(1 for r in rsvps.values() if r.answer == RsvpAnswer.YES)


def _promote(rsvps: dict[UUID, SessionRsvp], capacity: int | None) -> list[UUID]:
    """Free seats go to the waiting list, first come first served."""
    promoted = []
    places = _places(rsvps)
    for member_id in sorted(places, key=places.__getitem__):
        if capacity is not None and _yes_count(rsvps) >= capacity:
            break
        rsvps[member_id].answer, rsvps[member_id].waitlist_seq = RsvpAnswer.YES, None
        promoted.append(member_id)
    return promoted


def _seats_left(rsvps: dict[UUID, SessionRsvp], capacity: int | None) -> int | None:
    return None if capacity is None else max(0, capacity - _yes_count(rsvps))


async def put_rsvp(
    db: AsyncSession, actor: Actor, session_id: UUID, member_id: UUID, answer: RsvpAnswer, waitlist: bool,
    now: datetime,
) -> Rsvp:
    """A member's answer. `yes` takes a seat; when there is none, 409, or with `waitlist` a place on the
    waiting list. Giving up a seat (no, maybe) moves the first on the list up to `yes`."""
    session = await resolve_session(db, actor, session_id, for_update=True)  # 404; then the series is locked
    if actor.role == Role.MEMBER:
        if actor.member_id != member_id:
            raise RsvpForSomeoneElse()
    else:
        require_may_manage_group(actor)
    await _current_members(db, session.series.group_id, _local_date(session), [member_id])
    if session.status == SessionStatus.CANCELLED:
        raise SessionCancelled()
    await _stored(db, session, now)
    capacity = session.series.capacity
    rsvps = await _rsvps(db, session.id)
    promoted = _promote(rsvps, capacity)
    mine = rsvps.get(member_id)
    before = mine.answer if mine is not None else None
    if answer == RsvpAnswer.YES:
        if before in (RsvpAnswer.YES, RsvpAnswer.WAITLISTED) and (before == RsvpAnswer.YES or waitlist):
            new_answer = before  # a retry, or already waiting: the place is kept
        elif capacity is None or _yes_count(rsvps) < capacity:
            new_answer = RsvpAnswer.YES
        elif waitlist:
            new_answer = RsvpAnswer.WAITLISTED
        else:
            raise SessionFull(capacity=capacity)
    else:
        new_answer = answer
    next_seq = max((r.waitlist_seq or 0 for r in rsvps.values()), default=0) + 1
    if mine is None:
        mine = SessionRsvp(session_id=session.id, member_id=member_id, answer=new_answer, answered_at=now,
                           recorded_by=actor.user_id)
        db.add(mine)
        rsvps[member_id] = mine
    elif new_answer != before:
        mine.answer, mine.answered_at, mine.recorded_by = new_answer, now, actor.user_id
    if new_answer != before:
        mine.waitlist_seq = next_seq if new_answer == RsvpAnswer.WAITLISTED else None
    if before == RsvpAnswer.YES and new_answer != RsvpAnswer.YES:
        promoted += _promote(rsvps, capacity)
    await db.flush()
    return Rsvp(session.id, member_id, mine.answer, _places(rsvps).get(member_id), promoted,
                _seats_left(rsvps, capacity))


# --- attendance --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Attendance:
    session_id: UUID
    present_member_ids: list[UUID]
    recorded_at: datetime | None


async def put_attendance(
    db: AsyncSession, actor: Actor, session_id: UUID, present_member_ids: Sequence[UUID], now: datetime
) -> Attendance:
    """Who came, and nothing else. Once the session has begun; not for a cancelled one."""
    session = await resolve_session(db, actor, session_id, for_update=True)  # 404 before 403
    require_may_manage_group(actor)
    if session.status == SessionStatus.CANCELLED:
        raise SessionCancelled()
    if session.starts_at > now:
        raise SessionNotStarted(starts_at=session.starts_at.isoformat())
    wanted = set(present_member_ids)
    await _current_members(db, session.series.group_id, _local_date(session), wanted)
    await _stored(db, session, now)
    existing = {a.member_id: a for a in (await db.execute(select(SessionAttendance).where(
        SessionAttendance.session_id == session.id))).scalars()}
    if set(existing) == wanted:
        recorded = max((a.recorded_at for a in existing.values()), default=None)
        return Attendance(session.id, sorted(wanted, key=str), recorded)
    gone = set(existing) - wanted
    if gone:
        await db.execute(delete(SessionAttendance).where(SessionAttendance.session_id == session.id,
                                                         SessionAttendance.member_id.in_(gone)))
    db.add_all(SessionAttendance(session_id=session.id, member_id=m, recorded_by=actor.user_id, recorded_at=now)
               for m in sorted(wanted - set(existing), key=str))
    await db.flush()
    return Attendance(session.id, sorted(wanted, key=str), now)
