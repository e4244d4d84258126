"""Demo data for Luistergroep De Kapel: its afspraken, a weekly Thursday series, one session moved and one
cancelled, RSVPs and attendance of the sessions already held, and RSVPs for the next session.

Through the domain functions, like a begeleider would; nothing of what is said is recorded, because
nothing can be.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid5

from sqlalchemy.ext.asyncio import AsyncSession

from domain import luistergroepen
from domain.access import Actor
from domain.models import RsvpAnswer, SessionSeries, SessionStatus

NAMESPACE = UUID("0e6c2f3a-1d4b-4c8e-9a7f-3b2d1c0e9f81")
AFSPRAKEN = [
    "Niks is verplicht, alleen luisteren",
    "Zeg eerst je naam",
    "Humor mag",
    "Wat hier gezegd wordt, blijft hier",
    "Wie alleen gehoord wil worden, krijgt geen vragen",
]
ZONE = "Europe/Amsterdam"
WEEKS_HELD = 10  # the series began this many weeks ago
WEEKS = 40
RSVP_PATTERN = (None, RsvpAnswer.YES, RsvpAnswer.YES, RsvpAnswer.YES, RsvpAnswer.NO)  # None: no answer


async def load_luistergroep(db: AsyncSession, admin: Actor, group_id: UUID, facilitator_id: UUID,
                            members: list[UUID], today: date) -> None:
    series_id = uuid5(NAMESPACE, f"{group_id}/series")
    if await db.get(SessionSeries, series_id) is not None:
        return  # loaded before
    tz = luistergroepen.scheduling.zone(ZONE)
    now = datetime.combine(today, time(12, 0), tzinfo=tz).astimezone(UTC)
    await luistergroepen.set_agreements(db, admin, group_id, AFSPRAKEN, (), now - timedelta(weeks=WEEKS_HELD + 1))
    thursday = today - timedelta(days=(today.weekday() - 3) % 7) - timedelta(weeks=WEEKS_HELD)
    first = datetime.combine(thursday, time(19, 30), tzinfo=tz)
    series, _ = await luistergroepen.create_series(
        db, admin, group_id, luistergroepen.NewSeries(f"FREQ=WEEKLY;BYDAY=TH;COUNT={WEEKS}", first, 120,
                                                      "De Kapel, zaal achter de kerk", facilitator_id, 8),
        series_id=series_id, now=now - timedelta(weeks=WEEKS_HELD + 1))
    sessions = await luistergroepen.sessions_between(db, [series], first.astimezone(UTC),
                                                     first.astimezone(UTC) + timedelta(weeks=WEEKS))
    held = [s for s in sessions if s.starts_at <= now]
    coming = [s for s in sessions if s.starts_at > now]
    cancelled = held[-3]
    await luistergroepen.change_session(db, admin, cancelled.id, luistergroepen.SessionChange(
        status=SessionStatus.CANCELLED, reason="gespreksleider ziek"), (), now - timedelta(weeks=3))
    moved = coming[1]
    await luistergroepen.change_session(db, admin, moved.id, luistergroepen.SessionChange(
        starts_at=moved.starts_at + timedelta(days=1), location="Buurthuis De Meeuw"), (), now)
    for number, session in enumerate(held):
        if session.id == cancelled.id:
            continue
        # a few days before, most answer in the app; not everyone who says yes comes, and some come unasked
        for position, member in enumerate(members):
            answer = RSVP_PATTERN[(position + number) % len(RSVP_PATTERN)]
            if answer is not None:
                await luistergroepen.put_rsvp(db, admin, session.id, member, answer, False,
                                              session.starts_at - timedelta(days=2, hours=position))
        came = [m for position, m in enumerate(members) if (position + number) % 4 != 0]
        await luistergroepen.put_attendance(db, admin, session.id, came, session.starts_at + timedelta(hours=2))
    for member, answer in zip(members, (RsvpAnswer.YES, RsvpAnswer.YES, RsvpAnswer.MAYBE, RsvpAnswer.NO,
                                        RsvpAnswer.YES), strict=False):
        await luistergroepen.put_rsvp(db, admin, coming[0].id, member, answer, False, now)
