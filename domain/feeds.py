"""Calendar feeds (RFC 5545), made with the icalendar library: a group's sessions and meetings, and one
feed of all the groups a begeleider guides.

A series is one VEVENT with its RRULE (DTSTART in the group's zone, with a VTIMEZONE), a moved session
is an override with RECURRENCE-ID, a cancelled one an EXDATE. UIDs are stable (`series-<id>@kringkas`,
`meeting-<id>@kringkas`) and DTSTAMP is when the thing last changed, so the same data gives the same
bytes and the same ETag. A feed shows times and places, never the name of a member.

Calendar apps can't send a bearer header, so a feed is also reachable by a secret URL. Only the SHA-256
of its token is stored; rotating it makes the old URL answer 404.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid4

from icalendar import Calendar, Event, Timezone, vRecur
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import scheduling
from domain.access import Actor, get_visible_group, group_is_visible, require_may_manage_group, require_role
from domain.errors import ResourceNotFound
from domain.models import (
    CalendarFeed,
    Group,
    GroupStatus,
    Meeting,
    MeetingStatus,
    Role,
    SessionOccurrence,
    SessionSeries,
    SessionStatus,
    User,
)

PRODID = "-//Kringkas//Kalender//NL"
MEETING_DURATION = timedelta(hours=2)  # a spaarkring meeting has no planned end; two hours is what it takes
COACH_FEED_NAME = "Kringkas: mijn groepen"
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache(maxsize=64)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    return Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1))


def _has_occurrences(series: SessionSeries) -> bool:
    """False for a series ended from a date on or before its first session."""
    if series.ended_from_on is None:
        return True
    return scheduling.cut_instant(series.ended_from_on, series.timezone) > series.starts_at


def build_calendar(
    name: str, groups: dict[UUID, Group], series: Sequence[Any], stored: Sequence[Any],
    meetings: Sequence[Meeting],
) -> bytes:
    """The feed as bytes. Pure: the same rows always give the same bytes. `series` and `stored` hold
    session_series and session_occurrences rows (ORM objects or plain rows)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    by_series: dict[UUID, list[SessionOccurrence]] = {}
    for row in stored:
        by_series.setdefault(row.series_id, []).append(row)
    zones: dict[str, list[datetime]] = {}
    for item in series:
        if not _has_occurrences(item):
            continue
        group = groups[item.group_id]
        tz = scheduling.zone(item.timezone)
        duration = timedelta(minutes=item.duration_minutes)
        uid = f"series-{item.id}@kringkas"
        event = Event()
        event.add("uid", uid)
        event.add("dtstamp", item.changed_at.astimezone(UTC))
        event.add("dtstart", item.starts_at.astimezone(tz))
        event.add("duration", duration)
        event.add("rrule", vRecur.from_ical(item.rrule))
        event.add("summary", group.name)
        event.add("location", item.location)
        if item.version > 1:
            event.add("sequence", item.version - 1)
        rows = sorted(by_series.get(item.id, []), key=lambda r: r.original_start)
        cancelled = [r.original_start.astimezone(tz) for r in rows if r.status == SessionStatus.CANCELLED]
        if cancelled:
            event.add("exdate", cancelled)
        calendar.add_component(event)
        moments = zones.setdefault(item.timezone, [])
        moments += [item.starts_at, item.starts_at + timedelta(days=366 * scheduling.HORIZON_YEARS)]
        for row in rows:
            if row.status == SessionStatus.CANCELLED or (row.starts_at is None and row.location is None):
                continue
            override = Event()
            override.add("uid", uid)
            override.add("dtstamp", (row.changed_at or row.created_at).astimezone(UTC))
            override.add("recurrence-id", row.original_start.astimezone(tz))
            override.add("dtstart", (row.starts_at or row.original_start).astimezone(tz))
            override.add("duration", duration)
            override.add("summary", group.name)
            override.add("location", row.location or item.location)
            if row.version > 1:
                override.add("sequence", row.version - 1)
            calendar.add_component(override)
            moments.append(row.starts_at or row.original_start)
    for meeting in meetings:
        group = groups[meeting.group_id]
        tz = scheduling.zone(group.timezone)
        event = Event()
        event.add("uid", f"meeting-{meeting.id}@kringkas")
        event.add("dtstamp", meeting.created_at.astimezone(UTC))
        event.add("dtstart", meeting.scheduled_for.astimezone(tz))
        event.add("duration", MEETING_DURATION)
        event.add("summary", group.name)
        calendar.add_component(event)
        zones.setdefault(group.timezone, []).append(meeting.scheduled_for)
    for tzid in sorted(zones):
        moments = zones[tzid]
        calendar.add_component(_vtimezone(tzid, min(moments).year - 1, max(moments).year + 1))
    # RFC 5545 lets VTIMEZONE come anywhere in the calendar; put them first, as most apps expect
    calendar.subcomponents.sort(key=lambda component: component.name != "VTIMEZONE")
    return calendar.to_ical()


async def _feed_of(db: AsyncSession, name: str, groups: Sequence[Group]) -> bytes:
    by_id = {group.id: group for group in groups}
    ids = list(by_id)
    if not ids:
        return build_calendar(name, {}, [], [], [])
    # plain rows, not ORM objects: a feed only reads them
    series = list(await db.execute(select(*SessionSeries.__table__.columns).where(SessionSeries.group_id.in_(ids))
                                   .order_by(SessionSeries.starts_at, SessionSeries.id)))
    stored = list(await db.execute(select(*SessionOccurrence.__table__.columns).where(
        SessionOccurrence.series_id.in_(select(SessionSeries.id).where(SessionSeries.group_id.in_(ids))),
        or_(SessionOccurrence.status == SessionStatus.CANCELLED, SessionOccurrence.starts_at.is_not(None),
            SessionOccurrence.location.is_not(None)))))
    meetings = list((await db.execute(select(Meeting).where(
        Meeting.group_id.in_(ids), Meeting.status.in_([MeetingStatus.PLANNED, MeetingStatus.OPEN]))
        .order_by(Meeting.scheduled_for, Meeting.id))).scalars())
    with scheduling.collector_paused():
        return build_calendar(name, by_id, series, stored, meetings)


async def group_calendar(db: AsyncSession, actor: Actor, group_id: UUID) -> bytes:
    group = await get_visible_group(db, actor, group_id)
    return await _feed_of(db, group.name, [group])


async def coach_calendar(db: AsyncSession, actor: Actor) -> bytes:
    """Every session and planned meeting of the groups the caller guides (an admin: of the organisation)."""
    require_role(actor, Role.ADMIN, Role.BEGELEIDER)
    groups = list((await db.execute(select(Group).where(group_is_visible(actor), Group.status != GroupStatus.GESTOPT)
                                    .order_by(Group.name, Group.id))).scalars())
    return await _feed_of(db, COACH_FEED_NAME, groups)


async def _replace_token(db: AsyncSession, actor: Actor, now: datetime, *, group_id: UUID | None = None,
                         user_id: UUID | None = None) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    owner = CalendarFeed.group_id == group_id if group_id is not None else CalendarFeed.user_id == user_id
    row = (await db.execute(select(CalendarFeed).where(owner))).scalar_one_or_none()
    if row is None:
        db.add(CalendarFeed(id=uuid4(), token_hash=token_hash(token), group_id=group_id, user_id=user_id,
                            created_by=actor.user_id, created_at=now))
    else:
        row.token_hash, row.created_by, row.created_at = token_hash(token), actor.user_id, now
    await db.flush()
    return token


async def rotate_group_token(db: AsyncSession, actor: Actor, group_id: UUID, now: datetime) -> str:
    """A new secret feed URL for the group; the old one stops working. Returns the token (shown once)."""
    group = await get_visible_group(db, actor, group_id, for_update=True)  # 404 before 403; serialises rotations
    require_may_manage_group(actor)
    return await _replace_token(db, actor, now, group_id=group.id)


async def rotate_coach_token(db: AsyncSession, actor: Actor, now: datetime) -> str:
    require_role(actor, Role.ADMIN, Role.BEGELEIDER)
    await db.execute(select(User.id).where(User.id == actor.user_id).with_for_update())
    return await _replace_token(db, actor, now, user_id=actor.user_id)


async def calendar_by_token(db: AsyncSession, token: str) -> bytes:
    """The feed a secret URL stands for; 404 for any token that is not current (rotated, never made)."""
    row = (await db.execute(select(CalendarFeed).where(
        CalendarFeed.token_hash == token_hash(token)))).scalar_one_or_none()
    if row is None:
        raise ResourceNotFound()
    if row.group_id is not None:
        group = await db.get(Group, row.group_id)
        assert group is not None
        return await _feed_of(db, group.name, [group])
    user = await db.get(User, row.user_id)
    if user is None or not user.is_active or user.role not in (Role.ADMIN, Role.BEGELEIDER):
        raise ResourceNotFound()
    return await coach_calendar(db, Actor(user.id, user.organisation_id, Role(user.role), user.member_id))
