"""The migrations build exactly the schema the models describe, and can be undone and redone, on SQLite
and on PostgreSQL alike. Each test runs on a fresh, empty database of its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from domain.database import make_engine
from domain.migrate import downgrade, upgrade
from domain.models import Base
from tests.conftest import DATABASES, POSTGRES, WORKER, _admin, _with_database


@pytest.fixture(params=DATABASES)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    assert POSTGRES is not None
    name = f"kk_migrations_{WORKER}_{os.getpid()}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(POSTGRES, name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _inspect(url: str, look: Any) -> Any:
    async def run() -> Any:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def schema_differences(url: str) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "compare_server_default": False})
        return list(compare_metadata(context, Base.metadata))

    return list(_inspect(url, compare))


def tables(url: str) -> set[str]:
    return set(_inspect(url, lambda connection: inspect(connection).get_table_names()))


def test_the_migrated_schema_is_exactly_what_the_models_describe(empty_database: str) -> None:
    upgrade(empty_database)
    differences = schema_differences(empty_database)
    assert not differences, f"models and migrations disagree (write a migration): {differences}"


def test_the_migrations_go_down_to_nothing_and_up_again_to_the_same_schema(empty_database: str) -> None:
    upgrade(empty_database)
    built = tables(empty_database)
    assert set(Base.metadata.tables) <= built

    downgrade(empty_database, "base")
    assert tables(empty_database) <= {"alembic_version"}

    upgrade(empty_database)
    assert tables(empty_database) == built
    assert not schema_differences(empty_database)
