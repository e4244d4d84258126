"""The "bare" floor: Litestar 2 + SQLAlchemy 2 async + asyncpg, and nothing else.

    POST /members      one INSERT into the members table (same table, same columns as Kringkas),
                       answered 201 with the row as JSON; the group and the creating user are fixed
                       (BENCH_GROUP_ID, BENCH_USER_ID)
    POST /members/kk-statements
                       the same INSERT, but through the statements Kringkas sends for it (seen with
                       log_statement=all): a pool pre-ping (BEGIN; ";"; ROLLBACK), BEGIN, SELECT of the
                       caller's users row, SELECT of the group with the same IN-subquery access rule,
                       SAVEPOINT, INSERT, RELEASE SAVEPOINT, COMMIT. Kringkas / this = the cost of
                       Kringkas's Python layers; this / POST /members = the cost of its round trips.
    GET  /users/{id}   one SELECT of a users row by primary key, answered 200 with a few columns
    GET  /raw-balances/{cycle_id}
                       the raw balances query (SELECT member_id, kind, sum(amount_cents) … GROUP BY), answered
                       as JSON rows: what a balances endpoint would cost with no rules at all
    GET  /health       no database

No authentication, no access rules, no validation beyond decoding, no middleware. One session per
request through the ORM unit of work (`session.add` + `commit`), which is how Kringkas writes too, so
the ratio Kringkas / bare measures what Kringkas adds on top of the stack, not ORM versus Core.

Served the way `kringkas serve` serves Kringkas: `uvicorn.run(factory=True, workers=1, log_level="info",
proxy_headers=False)`, so both pay for the same uvicorn (httptools, uvloop, access log).

    BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/kk_bench \
    BENCH_GROUP_ID=<uuid> BENCH_USER_ID=<uuid> python -m bench.bare_app --port 8100
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from litestar import Litestar, Request, get, post
from litestar.datastructures import State
from sqlalchemy import Date, DateTime, Integer, String, Uuid, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

RAW_BALANCES = text("SELECT member_id, kind, sum(amount_cents) FROM ledger_entries WHERE cycle_id = :cycle_id "
                    "GROUP BY member_id, kind")


class Base(DeclarativeBase):
    pass


class Member(Base):
    """The same columns as Kringkas's members table (the schema itself is Kringkas's migration's)."""

    __tablename__ = "members"

    id: Mapped[UUID] = mapped_column(Uuid(), primary_key=True)
    group_id: Mapped[UUID] = mapped_column(Uuid())
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    joined_on: Mapped[date] = mapped_column(Date())
    left_on: Mapped[date | None] = mapped_column(Date())
    leave_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[UUID] = mapped_column(Uuid())
    version: Mapped[int] = mapped_column(Integer())


class User(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(Uuid(), primary_key=True)
    organisation_id: Mapped[UUID] = mapped_column(Uuid())
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[UUID | None] = mapped_column(Uuid())


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[UUID] = mapped_column(Uuid(), primary_key=True)
    organisation_id: Mapped[UUID] = mapped_column(Uuid())
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))


@dataclass
class MemberIn:
    display_name: str
    phone: str | None = None


def _member_json(m: Member) -> dict[str, Any]:
    return {"id": m.id, "group_id": m.group_id, "display_name": m.display_name, "phone": m.phone,
            "joined_on": m.joined_on, "left_on": m.left_on, "leave_reason": m.leave_reason, "version": m.version}


@post("/members", status_code=201)
async def create_member(data: MemberIn, state: State) -> dict[str, Any]:
    member = Member(id=uuid4(), group_id=state.group_id, display_name=data.display_name, phone=data.phone,
                    joined_on=date.today(), left_on=None, leave_reason=None, created_at=datetime.now(UTC),
                    created_by=state.user_id, version=1)
    async with state.sessionmaker() as session:
        session.add(member)
        await session.commit()
    return _member_json(member)


@post("/members/kk-statements", status_code=201)
async def create_member_kk_statements(data: MemberIn, state: State) -> dict[str, Any]:
    async with state.pinging_sessionmaker() as session:  # checkout pings, like Kringkas's engine
        user = await session.get(User, state.user_id)  # Kringkas: load_actor
        assert user is not None
        visible = select(Group.id).where(Group.organisation_id == user.organisation_id)
        group = (await session.execute(  # Kringkas: get_visible_group
            select(Group).where(Group.id == state.group_id, Group.id.in_(visible)))).scalar_one()
        member = Member(id=uuid4(), group_id=group.id, display_name=data.display_name, phone=data.phone,
                        joined_on=date.today(), left_on=None, leave_reason=None, created_at=datetime.now(UTC),
                        created_by=user.id, version=1)
        async with session.begin_nested():  # Kringkas: add_once
            session.add(member)
        await session.commit()
    return _member_json(member)


@get("/users/{user_id:uuid}")
async def get_user(user_id: UUID, state: State) -> dict[str, Any]:
    async with state.sessionmaker() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return {"id": user.id, "email": user.email, "role": user.role, "organisation_id": user.organisation_id,
            "display_name": user.display_name, "member_id": user.member_id}


@get("/raw-balances/{cycle_id:uuid}")
async def raw_balances(cycle_id: UUID, state: State) -> list[list[Any]]:
    """The raw balances GROUP BY over the same HTTP stack: the floor a balances endpoint can reach."""
    async with state.sessionmaker() as session:
        rows = (await session.execute(RAW_BALANCES, {"cycle_id": cycle_id})).all()
    return [[member_id, kind, int(total)] for member_id, kind, total in rows]


@get("/health")
async def health(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"status": "ok"}


def create_app(database_url: str, group_id: UUID, user_id: UUID, *, pre_ping: bool = False) -> Litestar:
    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        # The pool Kringkas has (10 + 10 overflow); pre_ping only when asked (BENCH_PRE_PING=1).
        engine = create_async_engine(database_url, pool_size=10, max_overflow=10, pool_pre_ping=pre_ping)
        app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        pinging = create_async_engine(database_url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        app.state.pinging_sessionmaker = async_sessionmaker(pinging, expire_on_commit=False, autoflush=False)
        try:
            yield
        finally:
            await engine.dispose()
            await pinging.dispose()

    return Litestar(
        route_handlers=[create_member, create_member_kk_statements, get_user, raw_balances, health],
        lifespan=[database],
        state=State({"group_id": group_id, "user_id": user_id}),
        openapi_config=None,
        debug=False,
    )


def app_from_env() -> Litestar:
    return create_app(
        os.environ["BENCH_DATABASE_URL"],
        UUID(os.environ["BENCH_GROUP_ID"]),
        UUID(os.environ["BENCH_USER_ID"]),
        pre_ping=os.environ.get("BENCH_PRE_PING", "") == "1",
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    print(f"bare: serving on http://{args.host}:{args.port}", flush=True)
    # The same call as `kringkas serve` (api/cli.py: cmd_serve), with one worker.
    uvicorn.run("bench.bare_app:app_from_env", factory=True, host=args.host, port=args.port, workers=1,
                log_level="info", proxy_headers=False)


if __name__ == "__main__":
    main()
