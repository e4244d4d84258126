"""Luistergroep endpoints: afspraken, session series, sessions, RSVPs, attendance, and calendar feeds."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.params import HeaderParameter, Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.controllers.common import Cursor, IfMatch, Limit, created, expected_versions, versioned
from api.schemas.common import Page
from api.schemas.luistergroepen import (
    AgreementsIn,
    AgreementsOut,
    AttendanceIn,
    AttendanceOut,
    FeedUrlOut,
    RsvpCountsOut,
    RsvpIn,
    RsvpLineOut,
    RsvpOut,
    SeriesEndIn,
    SeriesEndOut,
    SeriesIn,
    SeriesOut,
    SeriesSplitIn,
    SessionDetailOut,
    SessionOut,
    SessionPatch,
)
from domain import feeds, luistergroepen
from domain.access import Actor
from domain.errors import ResourceNotFound
from domain.models import GroupAgreements, RsvpAnswer, SessionSeries, SessionStatus, utcnow

CALENDAR = "text/calendar"  # Litestar adds "; charset=utf-8" to text types
IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", required=False,
                                                    description="The ETag of the feed you have; 304 if unchanged.")]
FeedFile = Annotated[str, Parameter(description="The secret feed token followed by `.ics`.", max_length=120)]
WindowStart = Annotated[datetime | None, QueryParameter(
    name="from", required=False, description="Start of the window, with an offset; default: now.")]
WindowEnd = Annotated[datetime | None, QueryParameter(
    name="to", required=False, description="End of the window (exclusive), at most a year on; default: 31 days on.")]


def agreements_out(agreements: luistergroepen.Agreements) -> AgreementsOut:
    return AgreementsOut(group_id=agreements.group_id, version=agreements.version, items=agreements.items,
                         set_by=agreements.set_by, set_at=agreements.set_at)


def series_out(series: SessionSeries) -> SeriesOut:
    return SeriesOut.model_validate(series)


def session_out(session: luistergroepen.Session) -> SessionOut:
    series = session.series
    counts = RsvpCountsOut(**(session.counts or {}))
    return SessionOut(
        id=session.id, series_id=series.id, group_id=series.group_id, original_starts_at=session.original_start,
        starts_at=session.starts_at, ends_at=session.ends_at, duration_minutes=series.duration_minutes,
        location=session.location, facilitator_user_id=series.facilitator_user_id, capacity=series.capacity,
        status=session.status.value, cancel_reason=session.cancel_reason, moved=session.moved, rsvps=counts,
        seats_left=None if series.capacity is None else max(0, series.capacity - counts.yes), version=session.version,
    )


def end_out(result: luistergroepen.SeriesEnd) -> SeriesEndOut:
    return SeriesEndOut(series=series_out(result.series),
                        continuation=series_out(result.continuation) if result.continuation is not None else None,
                        dropped_session_ids=result.dropped_session_ids, kept_session_ids=result.kept_session_ids)


def calendar_response(body: bytes, if_none_match: str | None) -> Response[bytes]:
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(b"", status_code=304, headers=headers, media_type=CALENDAR)
    return Response(body, media_type=CALENDAR, headers=headers)


def feed_url(request: Request[Any, Any, Any], token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/v1/feeds/{token}.ics"


class AgreementsController(Controller):
    path = "/api/v1/groups/{group_id:uuid}/agreements"
    tags = ["luistergroepen"]

    @get(summary="The afspraken on the cloth, as they are now")
    async def current(self, group_id: UUID, db: AsyncSession, actor: Actor) -> Response[AgreementsOut]:
        agreements = await luistergroepen.current_agreements(db, actor, group_id)
        return versioned(agreements_out(agreements), agreements.version)

    @put(summary="Replace the afspraken (a luistergroep's); the earlier list stays readable")
    async def replace(
        self, group_id: UUID, data: AgreementsIn, db: AsyncSession, actor: Actor, if_match: IfMatch = None
    ) -> Response[AgreementsOut]:
        agreements, _ = await luistergroepen.set_agreements(
            db, actor, group_id, data.items, expected_versions(if_match, data.version), utcnow())
        await db.commit()
        return versioned(agreements_out(agreements), agreements.version)

    @get("/history", summary="Every version of the afspraken, oldest first, with who set it and when")
    async def history(
        self, group_id: UUID, db: AsyncSession, actor: Actor, limit: Limit = 50, cursor: Cursor = None
    ) -> Page[AgreementsOut]:
        page = await luistergroepen.agreements_history(db, actor, group_id, cursor, limit)
        rows: list[GroupAgreements] = page.items
        return Page(items=[agreements_out(luistergroepen.Agreements.of(r)) for r in rows], next_cursor=page.next_cursor)


class SeriesController(Controller):
    tags = ["luistergroepen"]

    @post("/api/v1/groups/{group_id:uuid}/series", summary="Start a series of sessions (RFC 5545 rule)")
    async def create(self, group_id: UUID, data: SeriesIn, db: AsyncSession, actor: Actor) -> Response[SeriesOut]:
        new = luistergroepen.NewSeries(data.rrule, data.starts_at, data.duration_minutes, data.location,
                                       data.facilitator_user_id, data.capacity)
        series, is_new = await luistergroepen.create_series(db, actor, group_id, new, series_id=data.id, now=utcnow())
        await db.commit()
        return created(series_out(series), is_new, f"/api/v1/series/{series.id}", series.version)

    @get("/api/v1/groups/{group_id:uuid}/series", summary="The group's series, ended ones too")
    async def list_series(
        self, group_id: UUID, db: AsyncSession, actor: Actor, limit: Limit = 50, cursor: Cursor = None
    ) -> Page[SeriesOut]:
        page = await luistergroepen.list_series(db, actor, group_id, cursor, limit)
        return Page(items=[series_out(s) for s in page.items], next_cursor=page.next_cursor)

    @get("/api/v1/series/{series_id:uuid}", summary="One series")
    async def get_series(self, series_id: UUID, db: AsyncSession, actor: Actor) -> Response[SeriesOut]:
        series = await luistergroepen.get_series(db, actor, series_id)
        return versioned(series_out(series), series.version)

    @post("/api/v1/series/{series_id:uuid}/end", status_code=200,
          summary="End a series from a date on; earlier sessions are not touched")
    async def end(
        self, series_id: UUID, data: SeriesEndIn, db: AsyncSession, actor: Actor, if_match: IfMatch = None
    ) -> SeriesEndOut:
        result = await luistergroepen.end_series(db, actor, series_id, data.from_on,
                                                 expected_versions(if_match, data.version), utcnow())
        await db.commit()
        return end_out(result)

    @post("/api/v1/series/{series_id:uuid}/split",
          summary="Change a series from a date on: it ends before the date and a continuation carries on")
    async def split(
        self, series_id: UUID, data: SeriesSplitIn, db: AsyncSession, actor: Actor, if_match: IfMatch = None
    ) -> Response[SeriesEndOut]:
        change = luistergroepen.SeriesChange(
            rrule=data.rrule, starts_at=data.starts_at, duration_minutes=data.duration_minutes,
            location=data.location, facilitator_user_id=data.facilitator_user_id, capacity=data.capacity,
            capacity_given="capacity" in data.model_fields_set)
        result, is_new = await luistergroepen.split_series(
            db, actor, series_id, data.from_on, change, new_id=data.id,
            versions=expected_versions(if_match, data.version), now=utcnow())
        await db.commit()
        assert result.continuation is not None
        return created(end_out(result), is_new, f"/api/v1/series/{result.continuation.id}")


class SessionController(Controller):
    tags = ["luistergroepen"]

    @get("/api/v1/groups/{group_id:uuid}/sessions",
         summary="The sessions in a window (at most a year), expanded from the series, exceptions applied")
    async def list_sessions(
        self, group_id: UUID, db: AsyncSession, actor: Actor, start: WindowStart = None, end: WindowEnd = None,
        limit: Limit = 50, cursor: Cursor = None,
    ) -> Page[SessionOut]:
        page = await luistergroepen.list_sessions(db, actor, group_id, start, end, cursor, limit, now=utcnow())
        return Page(items=[session_out(s) for s in page.items], next_cursor=page.next_cursor)

    @get("/api/v1/sessions/{session_id:uuid}", summary="One session, with the RSVPs and who came")
    async def get_session(self, session_id: UUID, db: AsyncSession, actor: Actor) -> Response[SessionDetailOut]:
        session = await luistergroepen.get_session(db, actor, session_id)
        people = await luistergroepen.session_people(db, actor, session)
        out = SessionDetailOut(
            **session_out(session).model_dump(),
            rsvp_lines=[RsvpLineOut(member_id=m, answer=a.value, waitlist_place=p) for m, a, p in people.rsvps],
            present_member_ids=people.present_member_ids)
        return versioned(out, session.version)

    @patch("/api/v1/sessions/{session_id:uuid}",
           summary="Move one session, or cancel it with a reason (If-Match: version); it keeps its id")
    async def change(
        self, session_id: UUID, data: SessionPatch, db: AsyncSession, actor: Actor, if_match: IfMatch = None
    ) -> Response[SessionOut]:
        change = luistergroepen.SessionChange(
            starts_at=data.starts_at, location=data.location,
            status=SessionStatus(data.status) if data.status else None, reason=data.reason)
        session = await luistergroepen.change_session(db, actor, session_id, change,
                                                      expected_versions(if_match, data.version), utcnow())
        await luistergroepen.count_rsvps(db, [session])
        await db.commit()
        return versioned(session_out(session), session.version)

    @put("/api/v1/sessions/{session_id:uuid}/rsvp",
         summary="A member's answer; a yes over capacity answers 409, or joins the waiting list")
    async def rsvp(self, session_id: UUID, data: RsvpIn, db: AsyncSession, actor: Actor) -> RsvpOut:
        rsvp = await luistergroepen.put_rsvp(db, actor, session_id, data.member_id, RsvpAnswer(data.answer),
                                             data.waitlist, utcnow())
        await db.commit()
        return RsvpOut(session_id=rsvp.session_id, member_id=rsvp.member_id, answer=rsvp.answer.value,
                       waitlist_place=rsvp.waitlist_place, promoted_member_ids=rsvp.promoted_member_ids,
                       seats_left=rsvp.seats_left)

    @put("/api/v1/sessions/{session_id:uuid}/attendance",
         summary="Who came, and nothing else: what was said is never stored")
    async def attendance(self, session_id: UUID, data: AttendanceIn, db: AsyncSession, actor: Actor) -> AttendanceOut:
        result = await luistergroepen.put_attendance(db, actor, session_id, data.present_member_ids, utcnow())
        await db.commit()
        return AttendanceOut(session_id=result.session_id, present_member_ids=result.present_member_ids,
                             recorded_at=result.recorded_at)


class CalendarController(Controller):
    tags = ["calendar"]

    @get("/api/v1/groups/{group_id:uuid}/calendar.ics", media_type=CALENDAR,
         summary="The group's sessions and meetings as an iCalendar feed")
    async def group_calendar(
        self, group_id: UUID, db: AsyncSession, actor: Actor, if_none_match: IfNoneMatch = None
    ) -> Response[bytes]:
        return calendar_response(await feeds.group_calendar(db, actor, group_id), if_none_match)

    @post("/api/v1/groups/{group_id:uuid}/calendar-token", status_code=200,
          summary="A new secret feed URL for the group (begeleider, admin); the old one stops working")
    async def rotate_group_token(
        self, group_id: UUID, request: Request[Any, Any, Any], db: AsyncSession, actor: Actor
    ) -> FeedUrlOut:
        token = await feeds.rotate_group_token(db, actor, group_id, utcnow())
        await db.commit()
        return FeedUrlOut(feed_url=feed_url(request, token))

    @get("/api/v1/coach/calendar.ics", media_type=CALENDAR,
         summary="All sessions and planned meetings of the caller's groups as one iCalendar feed")
    async def coach_calendar(
        self, db: AsyncSession, actor: Actor, if_none_match: IfNoneMatch = None
    ) -> Response[bytes]:
        return calendar_response(await feeds.coach_calendar(db, actor), if_none_match)

    @post("/api/v1/coach/calendar-token", status_code=200,
          summary="A new secret URL for the caller's own feed of all their groups; the old one stops working")
    async def rotate_coach_token(self, request: Request[Any, Any, Any], db: AsyncSession, actor: Actor) -> FeedUrlOut:
        token = await feeds.rotate_coach_token(db, actor, utcnow())
        await db.commit()
        return FeedUrlOut(feed_url=feed_url(request, token))

    @get("/api/v1/feeds/{feed_file:str}", media_type=CALENDAR, security=[{}],
         summary="A feed by its secret URL (`<token>.ics`), no bearer header needed; times and places only")
    async def feed(self, feed_file: FeedFile, db: AsyncSession, if_none_match: IfNoneMatch = None) -> Response[bytes]:
        token = feed_file.removesuffix(".ics")
        if token == feed_file or not 20 <= len(token) <= 100:
            raise ResourceNotFound()
        return calendar_response(await feeds.calendar_by_token(db, token), if_none_match)
