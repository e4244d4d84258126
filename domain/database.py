"""Engines and sessions for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def normalise_url(url: str) -> str:
    """Accept the usual spellings and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        url = "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    """hide_parameters: a database error never carries a name, phone or amount into a log."""
    url = normalise_url(url)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **kwargs)
        _sqlite_write_transactions(engine)
        return engine
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800,
                                 hide_parameters=True, **kwargs)
    _pre_ping_when_idle(engine)
    return engine


IDLE_BEFORE_PING_SECONDS = 5.0


def _pre_ping_when_idle(engine: AsyncEngine) -> None:
    """A cheaper pre-ping. SQLAlchemy's `pool_pre_ping` costs three round trips on asyncpg (BEGIN, ";",
    ROLLBACK) on every checkout, as much as a deposit's own reads. Here a connection the server closed
    (a restart, a terminated backend: asyncpg notices the closed socket) is swapped at checkout for
    free, and only a connection that sat idle for a while is pinged first. A connection that dies while
    busy fails its request (503), and SQLAlchemy then invalidates the whole pool, so the next request
    connects afresh: the app recovers by itself."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = record.driver_connection
        if driver is None or driver.is_closed():
            raise exc.InvalidatePoolError("the database closed this connection")
        idle_since = record.info.pop("idle_since", None)
        if idle_since is not None and time.monotonic() - idle_since > IDLE_BEFORE_PING_SECONDS:
            try:
                dbapi_connection.ping()
            except Exception as error:
                raise exc.InvalidatePoolError(f"ping failed: {type(error).__name__}") from error


def _sqlite_write_transactions(engine: AsyncEngine) -> None:
    """SQLAlchemy's documented recipe: let SQLAlchemy, not pysqlite, begin transactions, and begin them
    IMMEDIATE so a read followed by a write in one request can't fail with "database is locked" halfway.
    Writers to one SQLite file are thereby serialised, which is what the rules of a meeting need."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY_OPTION = "kringkas_read_only"


def read_only_options(dialect_name: str) -> dict[str, Any]:
    """Execution options for a session that only reads: autocommit on PostgreSQL (no BEGIN/ROLLBACK round
    trips), a deferred transaction on SQLite (no write lock, one snapshot)."""
    if dialect_name == "postgresql":
        return {"isolation_level": "AUTOCOMMIT"}
    return {READ_ONLY_OPTION: True}


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
