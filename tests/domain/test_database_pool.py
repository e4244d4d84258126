"""The pool hands out live connections without paying a ping per request (PostgreSQL: the pool is asyncpg's)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text

from domain import database
from domain.database import make_engine
from tests.conftest import POSTGRES, WORKER, _admin, _dsn, _with_database


@pytest.fixture(params=["postgresql"] if POSTGRES else [])
async def postgres_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    assert POSTGRES is not None
    name = f"kk_pool_{WORKER}_{os.getpid()}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES, name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _backend_pid(engine: object) -> int:
    async with engine.connect() as connection:  # type: ignore[attr-defined]
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(url: str, pid: int) -> None:
    admin = await asyncpg.connect(_dsn(url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):
            if not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                break
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
    await asyncio.sleep(0.1)  # let the pooled connection read the server's goodbye


async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout_so_the_request_succeeds(
        postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1)
    try:
        before = await _backend_pid(engine)
        await _terminate(postgres_url, before)  # what a PostgreSQL restart does to every pooled connection
        after = await _backend_pid(engine)
        assert after != before
    finally:
        await engine.dispose()


async def test_a_connection_idle_longer_than_the_threshold_is_pinged_and_a_dead_one_replaced(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection whose death asyncpg has not noticed (is_closed() still false) is caught by the ping."""
    monkeypatch.setattr(database, "IDLE_BEFORE_PING_SECONDS", 0.0)
    engine = make_engine(postgres_url, pool_size=1)
    try:
        before = await _backend_pid(engine)
        pinged: list[bool] = []
        async with engine.connect() as connection:
            adapter = type((await connection.get_raw_connection()).dbapi_connection)

        def failing_ping(_self: object) -> None:
            pinged.append(True)
            raise ConnectionResetError("the network dropped it")

        monkeypatch.setattr(adapter, "ping", failing_ping)  # as over a dead network link: the socket looks open
        async with engine.connect() as connection:
            monkeypatch.undo()
            after = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        assert pinged == [True] and after != before
    finally:
        await engine.dispose()
