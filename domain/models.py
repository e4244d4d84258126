"""The tables. SQLAlchemy 2 typed models; the schema itself is made only by Alembic migrations."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every engine (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), UUID: Uuid(), date: Date()}


class Role(enum.StrEnum):
    ADMIN = "admin"
    BEGELEIDER = "begeleider"
    FUNDER = "funder"
    MEMBER = "member"


class GroupKind(enum.StrEnum):
    SPAARKRING = "spaarkring"
    LUISTERGROEP = "luistergroep"


class GroupStatus(enum.StrEnum):
    BEGELEID = "begeleid"
    ZELFSTANDIG = "zelfstandig"
    GESTOPT = "gestopt"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, create_constraint=True)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    display_name: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[UUID | None] = mapped_column(ForeignKey("members.id", use_alter=True), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """An opaque refresh token, stored only as its hash. Tokens of one login form a family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    family_id: Mapped[UUID] = mapped_column(index=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The pair handed out when this token was rotated, encrypted, kept only for the grace window so a
    # phone whose response was lost gets the same pair again instead of losing its session.
    successor_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class LoginThrottle(Base):
    """Failed logins per email and per client address, shared by every worker."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "email:<sha256>" or "addr:<sha256>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))


class ProgrammeFunder(Base):
    __tablename__ = "programme_funders"

    programme_id: Mapped[UUID] = mapped_column(ForeignKey("programmes.id"), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    programme_id: Mapped[UUID | None] = mapped_column(ForeignKey("programmes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[GroupKind] = mapped_column(_enum(GroupKind, "group_kind"))
    status: Mapped[GroupStatus] = mapped_column(_enum(GroupStatus, "group_status"), default=GroupStatus.BEGELEID)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Amsterdam")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    stopped_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(Integer, default=1)  # raised by every edit; If-Match checks it


class GroupBegeleider(Base):
    __tablename__ = "group_begeleiders"

    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class Member(Base):
    """A person in a group. Needs no account and no phone; never deleted, only marked as left."""

    __tablename__ = "members"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    group_id: Mapped[UUID] = mapped_column(ForeignKey("groups.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    joined_on: Mapped[date]
    left_on: Mapped[date | None]
    leave_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)  # raised by every edit; If-Match checks it


class IdempotencyKey(Base):
    """A POST's Idempotency-Key, scoped to the caller, with the answer to replay. Kept 30 days."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    committed_at: Mapped[datetime | None]  # set inside the request's own transaction
    status_code: Mapped[int | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime]
    # held while the first request runs; a claim left by a worker that died before committing expires
    lease_until: Mapped[datetime]
