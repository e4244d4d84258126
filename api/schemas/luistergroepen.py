"""Shapes of the luistergroep endpoints: afspraken, series, sessions, RSVPs, attendance, calendar feeds.

No body here has a field for what is said in a session, and none may be added: attendance is a list of
member ids; a cancellation reason is about logistics ("gespreksleider ziek").
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from api.schemas.common import In, Out, Version

AgreementText = Annotated[str, StringConstraints(min_length=1, max_length=300)]
RuleText = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Location = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Minutes = Annotated[int, Field(strict=True, ge=5, le=720, description="Length of each session in minutes.")]
Capacity = Annotated[int, Field(strict=True, ge=1, le=500, description="Seats; a `yes` beyond them answers 409.")]

RRULE_DESCRIPTION = (
    "RFC 5545 recurrence rule in the group's time zone, e.g. `FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231` or "
    "`FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;COUNT=20`. FREQ is DAILY, WEEKLY, MONTHLY or YEARLY; parts allowed: "
    "INTERVAL (≤ 52), BYDAY (with an ordinal such as 2TH only for MONTHLY), BYMONTHDAY and BYSETPOS (MONTHLY), "
    "WKST, and exactly one of UNTIL (a date, or a UTC date-time `…T…Z`) and COUNT (≤ 520). The series must end "
    "within 10 years; `starts_at` must itself be an occurrence. The time of day comes from `starts_at`."
)


def _unique(ids: list[UUID]) -> list[UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("the same member is named twice")
    return ids


# --- afspraken ---------------------------------------------------------------------------------------
class AgreementsIn(In):
    items: list[AgreementText] = Field(max_length=30, description="The afspraken, in the order they are read.")
    version: Version | None = None


class AgreementsOut(Out):
    group_id: UUID
    version: int = Field(description="0 while no afspraken were set; raised by every change.")
    items: list[str]
    set_by: UUID | None
    set_at: datetime | None


# --- series ------------------------------------------------------------------------------------------
class SeriesIn(In):
    id: UUID | None = None
    rrule: RuleText = Field(description=RRULE_DESCRIPTION)
    starts_at: AwareDatetime = Field(description="The first session; its local wall-clock time is every session's.")
    duration_minutes: Minutes
    location: Location
    facilitator_user_id: UUID = Field(description="The gespreksleider: a begeleider or admin of the organisation.")
    capacity: Capacity | None = None


class SeriesOut(Out):
    id: UUID
    group_id: UUID
    lineage_id: UUID = Field(description="The first series of a chain of splits; session ids derive from it.")
    previous_series_id: UUID | None
    rrule: str = Field(description="The rule as expanded and published (UNTIL in UTC; ended series carry UNTIL).")
    timezone: str
    starts_at: datetime
    duration_minutes: int
    location: str
    facilitator_user_id: UUID
    capacity: int | None
    ended_from_on: date | None = Field(description="No sessions on or after this local date.")
    created_at: datetime
    version: int


class SeriesEndIn(In):
    from_on: date = Field(description="The first local date without sessions; earlier sessions are not touched.")
    version: Version | None = None


class SeriesSplitIn(In):
    """Change a series from a date on. Fields left out are taken from the series."""

    id: UUID | None = Field(default=None, description="Client-made id of the continuing series.")
    from_on: date = Field(description="The first local date of the continuation; earlier sessions are not touched.")
    rrule: RuleText | None = Field(default=None, description=RRULE_DESCRIPTION)
    starts_at: AwareDatetime | None = Field(
        default=None, description="The continuation's first session; default: the series' next one from from_on.")
    duration_minutes: Minutes | None = None
    location: Location | None = None
    facilitator_user_id: UUID | None = None
    capacity: Capacity | None = None
    version: Version | None = None


class SeriesEndOut(Out):
    series: SeriesOut = Field(description="The series as it is now: ended before from_on.")
    continuation: SeriesOut | None
    dropped_session_ids: list[UUID] = Field(
        description="Sessions from the date on that no longer take place, with their RSVPs and moves.")
    kept_session_ids: list[UUID] = Field(
        description="Sessions with RSVPs or a move that the continuation has too (same id).")


# --- sessions ----------------------------------------------------------------------------------------
class RsvpCountsOut(Out):
    yes: int = 0
    no: int = 0
    maybe: int = 0
    waitlisted: int = 0


class SessionOut(Out):
    id: UUID = Field(description="Stable across listings and kept when the session is moved.")
    series_id: UUID
    group_id: UUID
    original_starts_at: datetime = Field(description="Where the series put it, before any move.")
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    location: str
    facilitator_user_id: UUID
    capacity: int | None
    status: Literal["scheduled", "cancelled"]
    cancel_reason: str | None
    moved: bool
    rsvps: RsvpCountsOut
    seats_left: int | None
    version: int


class RsvpLineOut(Out):
    member_id: UUID
    answer: Literal["yes", "no", "maybe", "waitlisted"]
    waitlist_place: int | None


class SessionDetailOut(SessionOut):
    rsvp_lines: list[RsvpLineOut] = Field(description="Everyone's answer; a member sees only their own.")
    present_member_ids: list[UUID] = Field(description="Who came; a member sees only themselves.")


class SessionPatch(In):
    """Move one session (`starts_at`, `location`), cancel it (`status: cancelled` with a `reason` about
    logistics), or reinstate a cancelled one (`status: scheduled`)."""

    starts_at: AwareDatetime | None = None
    location: Location | None = None
    status: Literal["cancelled", "scheduled"] | None = None
    reason: Reason | None = Field(default=None, description="Logistics only, e.g. 'gespreksleider ziek'.")
    version: Version | None = None

    @model_validator(mode="after")
    def _one_change(self) -> Self:
        if self.status == "cancelled":
            if self.reason is None:
                raise ValueError("a cancellation needs a reason")
            if self.starts_at is not None or self.location is not None:
                raise ValueError("cancel or move, not both")
        elif self.reason is not None:
            raise ValueError("a reason goes with status cancelled")
        if self.status is None and self.starts_at is None and self.location is None:
            raise ValueError("nothing to change")
        return self


class RsvpIn(In):
    member_id: UUID
    answer: Literal["yes", "no", "maybe"]
    waitlist: bool = Field(default=False, strict=True,
                           description="With `yes` while the session is full: join the waiting list instead of 409.")


class RsvpOut(Out):
    session_id: UUID
    member_id: UUID
    answer: Literal["yes", "no", "maybe", "waitlisted"]
    waitlist_place: int | None = Field(description="1 is next in line; null when not waiting.")
    promoted_member_ids: list[UUID] = Field(description="Moved up from the waiting list to `yes` by this answer.")
    seats_left: int | None


class AttendanceIn(In):
    """Who came. Nothing else can be sent: what was said is never stored."""

    present_member_ids: list[UUID] = Field(max_length=500)

    @field_validator("present_member_ids")
    @classmethod
    def _members_once(cls, ids: list[UUID]) -> list[UUID]:
        return _unique(ids)


class AttendanceOut(Out):
    session_id: UUID
    present_member_ids: list[UUID]
    recorded_at: datetime | None


class FeedUrlOut(Out):
    feed_url: str = Field(description="Secret: whoever has it can read the feed. Rotating it ends the old one.")
