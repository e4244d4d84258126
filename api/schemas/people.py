from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field, StrictInt

from api.schemas.common import Email, In, LongName, Name, Out, Password, Phone, Version


class LoginIn(In):
    email: Email
    password: Password


class RefreshIn(In):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPairOut(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime of the access token in seconds.")


class MembershipOut(Out):
    group_id: UUID
    group_name: str
    kind: str
    acting_as: str
    member_id: UUID | None


class MeOut(Out):
    id: UUID
    email: str
    role: str
    organisation_id: UUID
    display_name: str
    member_id: UUID | None
    memberships: list[MembershipOut]


class UserIn(In):
    id: UUID | None = None
    email: Email
    password: Password
    role: Literal["admin", "begeleider", "funder", "member"]
    display_name: Name
    member_id: UUID | None = None


class UserOut(Out):
    id: UUID
    email: str
    role: str
    organisation_id: UUID
    display_name: str
    member_id: UUID | None
    created_at: datetime


class ProgrammeIn(In):
    id: UUID | None = None
    name: LongName
    funder_user_ids: list[UUID] = Field(default_factory=list, max_length=50)


class ProgrammeOut(Out):
    id: UUID
    name: str
    funder_user_ids: list[UUID]
    created_at: datetime


class GroupIn(In):
    id: UUID | None = None
    name: LongName
    kind: Literal["spaarkring", "luistergroep"]
    programme_id: UUID | None = None
    begeleider_ids: list[UUID] = Field(default_factory=list, max_length=20)
    timezone: str = Field(default="Europe/Amsterdam", min_length=1, max_length=64)


class GroupPatch(In):
    name: LongName | None = None
    status: Literal["begeleid", "zelfstandig", "gestopt"] | None = None
    programme_id: UUID | None = None
    begeleider_ids: list[UUID] | None = Field(default=None, max_length=20)
    version: Version | None = None


class GroupOut(Out):
    id: UUID
    name: str
    kind: str
    status: str = Field(description="begeleid (guided first cycle), zelfstandig (on its own) or gestopt")
    programme_id: UUID | None
    begeleider_ids: list[UUID]
    timezone: str
    created_at: datetime
    stopped_on: date | None
    version: StrictInt


class MemberIn(In):
    id: UUID | None = None
    display_name: Name
    phone: Phone | None = None
    joined_on: date | None = None


class MemberPatch(In):
    display_name: Name | None = None
    phone: Phone | None = None
    version: Version | None = None


class LeaveIn(In):
    left_on: date
    reason: str | None = Field(default=None, max_length=200)


class MemberOut(Out):
    id: UUID
    group_id: UUID
    display_name: str
    phone: str | None
    joined_on: date
    left_on: date | None
    leave_reason: str | None
    version: StrictInt
